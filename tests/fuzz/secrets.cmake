# age armor, header (+ full decrypt) and Bech32 parsers; the replays also run the
# age test kit's vectors.
if(TARGET sluice_secrets)
  set(_sec ${CMAKE_CURRENT_SOURCE_DIR}/secrets)
  foreach(t age_armor age_header bech32)
    sluice_fuzz(fuzz_${t} SOURCES ${_sec}/fuzz_${t}.c LIBS sluice_secrets
      CORPUS ${_sec}/corpus/${t} ${CMAKE_SOURCE_DIR}/tests/unit/data/secrets/age-testkit)
  endforeach()
endif()
