# Idle RSS and CPU of `sluice run` over a minute with three environments, and
# webhook-to-reconcile latency (simulated reconciles). The budget (the issue's
# 10 MiB RSS, 1 % CPU) is enforced only in optimised builds without sanitizers;
# without lazy loading every library is mapped at start, so 16 MiB is the guard.
if(TARGET sluice)
  set(_args 60)
  if(CMAKE_BUILD_TYPE MATCHES "Rel" AND NOT SLUICE_SANITIZE AND NOT SLUICE_FUZZ)
    list(APPEND _args --budget)
  endif()
  add_test(NAME bench_daemon_idle COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/daemon/idle.py ${_args})
  if(SLUICE_LAZY_LIBS)
    set(_budget 10240)
  else()
    set(_budget 16384)
  endif()
  set_tests_properties(bench_daemon_idle PROPERTIES LABELS bench TIMEOUT 180
    ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>;SLUICE_IDLE_BUDGET_KIB=${_budget}")
endif()

# Webhook to the new revision healthy in kubesim (real pipeline; target: under one
# second plus kubesim's 0.3 s simulated rollout). Reported, not enforced.
if(TARGET sluice AND TARGET kubesim AND TARGET sluice_reconcile AND TARGET sluice_kube)
  add_test(NAME bench_daemon_webhook_kubesim
    COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/daemon/webhook_kubesim.py 10)
  set_tests_properties(bench_daemon_webhook_kubesim PROPERTIES LABELS bench TIMEOUT 300
    SKIP_RETURN_CODE 77
    ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>;SLUICE_SRC=${CMAKE_SOURCE_DIR};SLUICE_BUILD=${CMAKE_BINARY_DIR};KUBESIM=$<TARGET_FILE:kubesim>")
endif()
