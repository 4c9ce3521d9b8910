# Reconcile stage: state store, planning, health, engine (against an in-memory cluster).
foreach(t state plan quantity health reconcile)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/test_${t}.c)
    sluice_unit_test(test_${t} SOURCES test_${t}.c LIBS sluice_reconcile)
  endif()
endforeach()
