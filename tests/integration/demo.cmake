# sluice demo end to end: the story's outcomes checked in git, the state directory and kubesim;
# cleanup after a plain run and after SIGTERM; loud failures.
if(TARGET kubesim)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    sluice_integration_test(demo_story
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/demo/demo_test.py)
    set_property(TEST demo_story APPEND PROPERTY ENVIRONMENT "KUBESIM=$<TARGET_FILE:kubesim>")
    set_tests_properties(demo_story PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endif()
