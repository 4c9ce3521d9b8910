# Policy rule parser; the replay also runs the shipped rule files.
if(TARGET sluice_policy)
  set(_pol ${CMAKE_CURRENT_SOURCE_DIR}/policy)
  sluice_fuzz(fuzz_policy SOURCES ${_pol}/fuzz_policy.c LIBS sluice_policy
    CORPUS ${_pol}/corpus ${CMAKE_SOURCE_DIR}/policies)
endif()
