# The service: `sluice run` end to end (fake pipeline), and the systemd unit.
sluice_integration_test(daemon_run python3 ${CMAKE_CURRENT_SOURCE_DIR}/daemon/run_daemon.py)
sluice_integration_test(daemon_systemd_unit bash ${CMAKE_CURRENT_SOURCE_DIR}/daemon/systemd.sh)
# 77: a tool (promtool, systemd-analyze) is missing; the test says which.
set_tests_properties(daemon_run daemon_systemd_unit PROPERTIES SKIP_RETURN_CODE 77)
