# Kubernetes client (agent/kube): kubeconfig, exec plugins, Status errors, transport.
if(TARGET sluice_kube)
  foreach(t kube_status kube_config kube_client)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/test_${t}.c)
      sluice_unit_test(test_${t} SOURCES test_${t}.c LIBS sluice_kube PkgConfig::MHD)
    endif()
  endforeach()
endif()
