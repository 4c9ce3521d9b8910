# Git source layer: real git, ssh-keygen, git http-backend and sshd on loopback.
foreach(t conventions signatures http https ssh failures)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/sources/${t}.sh)
    sluice_integration_test(sources_${t} bash ${CMAKE_CURRENT_SOURCE_DIR}/sources/${t}.sh)
  endif()
endforeach()
