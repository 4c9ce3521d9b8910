# age armor, header (+ full decrypt) and Bech32 parsers: libFuzzer targets
# (clang, -DSLUICE_FUZZ=ON) and, in every build, a corpus replay test.
if(TARGET sluice_secrets)
  set(_sec ${CMAKE_CURRENT_SOURCE_DIR}/secrets)
  foreach(t age_armor age_header bech32)
    if(SLUICE_FUZZ)
      add_executable(fuzz_${t} ${_sec}/fuzz_${t}.c)
      target_link_libraries(fuzz_${t} PRIVATE sluice_secrets)
      target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
    endif()
    add_executable(fuzz_${t}_replay ${_sec}/fuzz_${t}.c ${_sec}/replay.c)
    target_link_libraries(fuzz_${t}_replay PRIVATE sluice_secrets)
    add_test(NAME fuzz_${t}_replay COMMAND fuzz_${t}_replay ${_sec}/corpus/${t}
      ${CMAKE_SOURCE_DIR}/tests/unit/data/secrets/age-testkit)
    set_tests_properties(fuzz_${t}_replay PROPERTIES LABELS "unit;fuzz")
  endforeach()
endif()
