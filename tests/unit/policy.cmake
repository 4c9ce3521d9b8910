# Policy engine and the shipped default set.
if(TARGET sluice_policy)
  sluice_unit_test(test_policy SOURCES test_policy.c test_policy_util.c LIBS sluice_policy)
  sluice_unit_test(test_policy_quantity SOURCES test_policy_quantity.c LIBS sluice_policy)
endif()
