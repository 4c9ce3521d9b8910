# Parsers of HTTP bodies and other untrusted input outside the renderer,
# secrets and sources: Kubernetes API answers (Status, discovery), exec
# credential plugin output, kubeconfig files, webhook requests (verification
# directly, and whole HTTP requests through the daemon's endpoint) and the
# configuration file. libFuzzer targets with clang and -DSLUICE_FUZZ=ON; in
# every build a replay of each seed corpus through the same entry point.
set(_fp ${CMAKE_CURRENT_SOURCE_DIR}/parsers)
set(_fuzz_parsers)
if(TARGET sluice_kube)
  list(APPEND _fuzz_parsers kube_status:sluice_kube kube_exec:sluice_kube
    kubeconfig:sluice_kube kube_discovery:sluice_kube)
endif()
if(TARGET sluice_daemon)
  list(APPEND _fuzz_parsers webhook:sluice_daemon webhook_http:sluice_daemon)
endif()
if(TARGET sluice_config)
  list(APPEND _fuzz_parsers config:sluice_config)
endif()
foreach(entry ${_fuzz_parsers})
  string(REPLACE ":" ";" entry ${entry})
  list(GET entry 0 t)
  list(GET entry 1 lib)
  sluice_fuzz(fuzz_${t} SOURCES ${_fp}/fuzz_${t}.c LIBS ${lib} CORPUS ${_fp}/corpus/${t})
endforeach()
