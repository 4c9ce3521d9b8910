# The Kubernetes client (agent/kube) against kubesim over HTTPS: a C driver linking
# sluice_kube, run by a script that makes certificates and starts kubesim.
if(TARGET sluice_kube AND TARGET kubesim)
  add_executable(kube_itest ${CMAKE_CURRENT_SOURCE_DIR}/kube/kube_itest.c)
  target_link_libraries(kube_itest PRIVATE sluice_kube PkgConfig::CMOCKA)
  sluice_integration_test(kube_client COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/kube/kube_client.sh
    $<TARGET_FILE:kubesim> $<TARGET_FILE:kube_itest>)
endif()
