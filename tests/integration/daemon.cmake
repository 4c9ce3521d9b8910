# The service: `sluice run` end to end (fake pipeline), and the systemd unit.
sluice_integration_test(daemon_run python3 ${CMAKE_CURRENT_SOURCE_DIR}/daemon/run_daemon.py)
sluice_integration_test(daemon_systemd_unit bash ${CMAKE_CURRENT_SOURCE_DIR}/daemon/systemd.sh)
# 77: a tool (promtool, systemd-analyze) is missing; the test says which.
set_tests_properties(daemon_run daemon_systemd_unit PROPERTIES SKIP_RETURN_CODE 77)

# The same service with the real pipeline against kubesim (when both are built).
if(TARGET kubesim AND TARGET sluice_reconcile AND TARGET sluice_kube)
  sluice_integration_test(daemon_kubesim python3 ${CMAKE_CURRENT_SOURCE_DIR}/daemon/run_kubesim.py)
  set_property(TEST daemon_kubesim APPEND PROPERTY ENVIRONMENT "KUBESIM=$<TARGET_FILE:kubesim>")
  set_tests_properties(daemon_kubesim PROPERTIES SKIP_RETURN_CODE 77)
endif()
