# Idle RSS and CPU of `sluice run` over a minute with three environments, and
# webhook-to-reconcile latency (simulated reconciles). The budget (16 MiB RSS as
# a regression guard, 1 % CPU) is enforced only in optimised builds without
# sanitizers; the issue's 10 MiB target is reported, not enforced.
if(TARGET sluice)
  set(_args 60)
  if(CMAKE_BUILD_TYPE MATCHES "Rel" AND NOT SLUICE_SANITIZE AND NOT SLUICE_FUZZ)
    list(APPEND _args --budget)
  endif()
  add_test(NAME bench_daemon_idle COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/daemon/idle.py ${_args})
  set_tests_properties(bench_daemon_idle PROPERTIES LABELS bench TIMEOUT 180
    ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
endif()
