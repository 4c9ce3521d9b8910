# Unsealing 1,000 SealedSecrets x 3 keys vs `age -d` (target: under 100 ms).
# The budget is enforced only in optimised builds without sanitizers.
if(TARGET sluice_secrets)
  add_executable(bench_unseal ${CMAKE_CURRENT_SOURCE_DIR}/secrets/bench_unseal.c)
  target_link_libraries(bench_unseal PRIVATE sluice_secrets)
  # It prints the figures; timings are never a pass/fail verdict here. Build
  # it with -DSLUICE_BENCH_BUDGET_MS=100 to make it fail above a budget by hand.
  add_test(NAME bench_unseal COMMAND bench_unseal 1000 200)
  set_tests_properties(bench_unseal PROPERTIES LABELS bench)
endif()
