# Semver/range and SSHSIG/allowed_signers/state/known_hosts parsers.
if(TARGET sluice_sources)
  set(_src ${CMAKE_CURRENT_SOURCE_DIR}/sources)
  foreach(t semver sshsig)
    sluice_fuzz(fuzz_${t} SOURCES ${_src}/fuzz_${t}.c LIBS sluice_sources
      CORPUS ${_src}/corpus/${t})
  endforeach()
endif()
