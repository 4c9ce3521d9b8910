sluice_integration_test(build_git ${CMAKE_CURRENT_SOURCE_DIR}/build/run.sh)
