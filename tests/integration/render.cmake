# Renderer: kustomize conformance cases, example environments and a
# differential test against kubectl kustomize.
add_executable(render_testtool ${CMAKE_CURRENT_SOURCE_DIR}/render/render_testtool.c)
target_link_libraries(render_testtool PRIVATE sluice_render)
target_include_directories(render_testtool PRIVATE ${CMAKE_SOURCE_DIR}/agent/render)

# kustomize's behavioural tests as data (api/krusty at api/v0.18.0, Apache-2.0), vendored
# from ../shared/testdata/kustomize-cases so CI needs nothing outside the repository.
set(SLUICE_KUSTOMIZE_CASES ${CMAKE_CURRENT_SOURCE_DIR}/render/kustomize-cases)
if(DEFINED ENV{SLUICE_KUSTOMIZE_CASES})
  set(SLUICE_KUSTOMIZE_CASES $ENV{SLUICE_KUSTOMIZE_CASES})
endif()
sluice_integration_test(render_conformance
  $<TARGET_FILE:render_testtool> conformance ${SLUICE_KUSTOMIZE_CASES})
sluice_integration_test(render_environments
  bash ${CMAKE_CURRENT_SOURCE_DIR}/render/environments.sh $<TARGET_FILE:render_testtool>)
sluice_integration_test(render_differential
  python3 ${CMAKE_CURRENT_SOURCE_DIR}/render/differential.py $<TARGET_FILE:render_testtool>)
sluice_integration_test(render_errors
  bash ${CMAKE_CURRENT_SOURCE_DIR}/render/errors.sh)
