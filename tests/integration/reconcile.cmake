# sluice reconcile/diff/status/history/rollback/suspend/retry against kubesim.
if(TARGET kubesim)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    sluice_integration_test(reconcile_kubesim
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/reconcile/reconcile_test.py)
    set_property(TEST reconcile_kubesim APPEND PROPERTY ENVIRONMENT
      "KUBESIM=$<TARGET_FILE:kubesim>")
    set_tests_properties(reconcile_kubesim PROPERTIES SKIP_RETURN_CODE 77)
    # Quantities and server defaults are not drift: the second reconcile writes nothing.
    sluice_integration_test(reconcile_normalise
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/reconcile/normalise_test.py)
    set_property(TEST reconcile_normalise APPEND PROPERTY ENVIRONMENT
      "KUBESIM=$<TARGET_FILE:kubesim>")
    set_tests_properties(reconcile_normalise PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endif()
