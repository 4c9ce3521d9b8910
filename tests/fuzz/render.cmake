# Renderer (YAML loader + kustomization parser + transforms + emitter): a
# libFuzzer target (clang, -DSLUICE_FUZZ=ON) and, in every build, a replay of
# the seed corpus through the same entry point.
if(TARGET sluice_render)
  if(SLUICE_FUZZ)
    add_executable(fuzz_render ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_render.c)
    target_link_libraries(fuzz_render PRIVATE sluice_render)
    target_link_options(fuzz_render PRIVATE -fsanitize=fuzzer)
  endif()
  add_executable(fuzz_render_replay ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_render.c
    ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_render_replay.c)
  target_link_libraries(fuzz_render_replay PRIVATE sluice_render)
  add_test(NAME fuzz_render_replay
    COMMAND fuzz_render_replay ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_render_corpus)
  set_tests_properties(fuzz_render_replay PROPERTIES LABELS "unit;fuzz")
endif()
