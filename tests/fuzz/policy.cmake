# Policy rule parser: a libFuzzer target (clang, -DSLUICE_FUZZ=ON) and, in every
# build, a replay of its corpus plus the shipped rule files through the same entry point.
if(TARGET sluice_policy)
  set(_pol ${CMAKE_CURRENT_SOURCE_DIR}/policy)
  if(SLUICE_FUZZ)
    add_executable(fuzz_policy ${_pol}/fuzz_policy.c)
    target_link_libraries(fuzz_policy PRIVATE sluice_policy)
    target_link_options(fuzz_policy PRIVATE -fsanitize=fuzzer)
  endif()
  add_executable(fuzz_policy_replay ${_pol}/fuzz_policy.c ${_pol}/replay.c)
  target_link_libraries(fuzz_policy_replay PRIVATE sluice_policy)
  add_test(NAME fuzz_policy_replay
    COMMAND fuzz_policy_replay ${_pol}/corpus ${CMAKE_SOURCE_DIR}/policies)
  set_tests_properties(fuzz_policy_replay PROPERTIES LABELS "unit;fuzz")
endif()
