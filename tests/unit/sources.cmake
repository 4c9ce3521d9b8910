# Git source layer: semver and SSHSIG parsers, resolution rules, state, tree view.
if(TARGET sluice_sources)
  sluice_unit_test(test_semver SOURCES test_semver.c LIBS sluice_sources)
  sluice_unit_test(test_sshsig SOURCES test_sshsig.c LIBS sluice_sources)
endif()
if(TARGET sluice_source AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/test_sources.c)
  sluice_unit_test(test_sources SOURCES test_sources.c LIBS sluice_source)
endif()
