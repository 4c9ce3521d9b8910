# agent/lazy: verbs that need no network leave libcurl, libmicrohttpd and
# libgit2 unloaded, and a library that cannot be loaded gives a clear error.
if(SLUICE_LAZY_LIBS)
  add_executable(lazy_peakrss ${CMAKE_CURRENT_SOURCE_DIR}/lazy/peakrss.c)
  sluice_integration_test(lazy_libs ${CMAKE_CURRENT_SOURCE_DIR}/lazy/run.sh
    ${SLUICE_READELF} $<TARGET_FILE:lazy_peakrss>
    ${SLUICE_SONAME_CURL} ${SLUICE_SONAME_MHD} ${SLUICE_SONAME_GIT2})
endif()
