# Cross-cutting end-to-end tests: promises of the product checked through the real CLI
# against kubesim (secret hygiene, policies). python3 stdlib only; git CLI for the repository.
# e2e_policies_reporting runs the same story as e2e_policies and counts only the checks of how
# non-blocking findings are reported (reconcile output, daemon log line, metrics).
if(TARGET kubesim)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(_e2e ${CMAKE_CURRENT_SOURCE_DIR}/e2e)
    sluice_integration_test(e2e_secret_leak COMMAND ${Python3_EXECUTABLE} ${_e2e}/secret_leak.py)
    sluice_integration_test(e2e_policies COMMAND ${Python3_EXECUTABLE} ${_e2e}/policies.py)
    sluice_integration_test(e2e_policies_reporting
      COMMAND ${Python3_EXECUTABLE} ${_e2e}/policies.py --reporting)
    foreach(t e2e_secret_leak e2e_policies e2e_policies_reporting)
      set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT "KUBESIM=$<TARGET_FILE:kubesim>")
      set_tests_properties(${t} PROPERTIES TIMEOUT 120)
    endforeach()
  endif()
endif()
