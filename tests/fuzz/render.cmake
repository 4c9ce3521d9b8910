# Renderer (YAML loader + kustomization parser + transforms + emitter).
if(TARGET sluice_render)
  sluice_fuzz(fuzz_render SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_render.c LIBS sluice_render
    CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_render_corpus)
endif()
