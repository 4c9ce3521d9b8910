sluice_integration_test(cli_surface ${CMAKE_CURRENT_SOURCE_DIR}/cli/run.sh)
