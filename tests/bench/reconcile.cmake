# sluice reconcile of 1,000 objects (10 kinds) against kubesim, first apply and a
# no-change run, beside `kubectl apply --server-side` of the same objects. The
# no-change budget (no writes, one LIST per kind) is enforced; timings are reported.
if(TARGET sluice AND TARGET kubesim)
  add_test(NAME bench_reconcile
    COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/reconcile/bench_reconcile.py --check)
  set_tests_properties(bench_reconcile PROPERTIES LABELS bench TIMEOUT 900 SKIP_RETURN_CODE 77
    ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>;SLUICE_BUILD=${CMAKE_BINARY_DIR};KUBESIM=$<TARGET_FILE:kubesim>")
endif()
