sluice_integration_test(config_golden ${CMAKE_CURRENT_SOURCE_DIR}/config/run.sh)
