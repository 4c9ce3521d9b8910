# Integration tests of sealed secrets: interop with the age CLI, the verbs, leaks.
if(TARGET sluice_secrets)
  add_executable(unseal_driver ${CMAKE_CURRENT_SOURCE_DIR}/secrets/unseal_driver.c)
  target_link_libraries(unseal_driver PRIVATE sluice_secrets)
  add_executable(age_tool ${CMAKE_CURRENT_SOURCE_DIR}/secrets/age_tool.c)
  target_link_libraries(age_tool PRIVATE sluice_secrets)
  foreach(t age_interop seal_cli leak)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/secrets/${t}.sh)
      sluice_integration_test(secrets_${t} bash ${CMAKE_CURRENT_SOURCE_DIR}/secrets/${t}.sh)
      set_property(TEST secrets_${t} APPEND PROPERTY ENVIRONMENT
        "UNSEAL_DRIVER=$<TARGET_FILE:unseal_driver>;AGE_TOOL=$<TARGET_FILE:age_tool>")
    endif()
  endforeach()
endif()
