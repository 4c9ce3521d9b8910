# The default policy set on 2,000 Deployments (target: under 50 ms). The budget is
# enforced only in optimised builds without sanitizers; other builds just report.
if(TARGET sluice_policy)
  add_executable(bench_policy ${CMAKE_CURRENT_SOURCE_DIR}/policy/bench_policy.c)
  target_link_libraries(bench_policy PRIVATE sluice_policy)
  # It prints the figures; timings are never a pass/fail verdict here. Build
  # it with -DSLUICE_BENCH_BUDGET_MS=50 to make it fail above a budget by hand.
  add_test(NAME bench_policy COMMAND bench_policy ${CMAKE_SOURCE_DIR}/policies)
  set_tests_properties(bench_policy PROPERTIES LABELS bench)
endif()
