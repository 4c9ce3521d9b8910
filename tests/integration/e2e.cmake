# Cross-cutting end-to-end tests: promises of the product checked through the real CLI
# against kubesim (secret hygiene, policies). python3 stdlib only; git CLI for the repository.
if(TARGET kubesim)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    foreach(t secret_leak policies)
      if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/e2e/${t}.py)
        sluice_integration_test(e2e_${t}
          COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/${t}.py)
        set_property(TEST e2e_${t} APPEND PROPERTY ENVIRONMENT "KUBESIM=$<TARGET_FILE:kubesim>")
        set_tests_properties(e2e_${t} PROPERTIES TIMEOUT 120)
      endif()
    endforeach()
  endif()
endif()
