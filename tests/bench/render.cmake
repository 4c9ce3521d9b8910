# Render benchmark (a command, not a test): `cmake --build BUILD --target bench-render`
# or tests/bench/render/bench.sh BUILD/sluice [N...].
add_custom_target(bench-render
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/render/bench.sh $<TARGET_FILE:sluice>
  DEPENDS sluice
  USES_TERMINAL
  COMMENT "sluice build vs kubectl kustomize, N = 250 1000 2000 4000")
