# Renderer units (emitter, hash marshal, strategic merge, JSON patch, selectors, origins).
if(TARGET sluice_render)
  sluice_unit_test(test_render SOURCES test_render.c LIBS sluice_render)
  target_include_directories(test_render PRIVATE ${CMAKE_SOURCE_DIR}/agent/render)
endif()
