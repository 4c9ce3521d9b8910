# kubesim against the real kubectl (skipped when kubectl is not installed).
if(TARGET kubesim)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    sluice_integration_test(kubesim_kubectl
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/kubesim/kubectl_test.py)
    set_property(TEST kubesim_kubectl APPEND PROPERTY ENVIRONMENT "KUBESIM=$<TARGET_FILE:kubesim>")
    set_tests_properties(kubesim_kubectl PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endif()
if(TARGET kubesim AND Python3_Interpreter_FOUND)
  sluice_integration_test(kubesim_api
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/kubesim/api_test.py)
  set_property(TEST kubesim_api APPEND PROPERTY ENVIRONMENT "KUBESIM=$<TARGET_FILE:kubesim>")
endif()
