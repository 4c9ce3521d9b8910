# `sluice check` end to end on the example repository (needs the renderer).
if(TARGET sluice_policy AND TARGET sluice_render)
  sluice_integration_test(policy_check bash ${CMAKE_CURRENT_SOURCE_DIR}/policy/check.sh)
endif()
