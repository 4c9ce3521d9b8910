# agent/lazy: the loader's error and the libcurl shims' forwarding of variadic
# arguments, against a fake libcurl (lazy_fake_curl.c) that records what it
# receives. The test compiles the loader and the curl shims itself, with the
# fake's path as libcurl's soname and a missing soname for libmicrohttpd, and
# links no real libcurl.
if(TARGET sluice_lazy)
  find_package(Threads REQUIRED)
  add_library(lazy_fake_curl MODULE lazy_fake_curl.c)
  target_include_directories(lazy_fake_curl PRIVATE ${CURL_INCLUDE_DIRS})
  sluice_unit_test(test_lazy SOURCES test_lazy.c ${CMAKE_SOURCE_DIR}/agent/lazy/lazy.c
    ${CMAKE_SOURCE_DIR}/agent/lazy/shim_curl.c LIBS sluice_core Threads::Threads ${CMAKE_DL_LIBS})
  target_include_directories(test_lazy PRIVATE ${CMAKE_SOURCE_DIR}/agent/lazy ${CURL_INCLUDE_DIRS})
  target_compile_definitions(test_lazy PRIVATE
    SL_LAZY_SONAME_CURL="$<TARGET_FILE:lazy_fake_curl>"
    SL_LAZY_SONAME_MHD="libsluice-test-missing.so.0"
    SL_LAZY_SONAME_GIT2="libsluice-test-missing-git2.so.0")
  add_dependencies(test_lazy lazy_fake_curl)
endif()
