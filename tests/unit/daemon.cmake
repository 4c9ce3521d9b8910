# Daemon area: sd_notify, metrics, webhooks, notifications, the run loop.
if(TARGET sluice_daemon)
  foreach(t daemon_sdnotify daemon_loop daemon_config metrics webhook notify)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/test_${t}.c)
      sluice_unit_test(test_${t} SOURCES test_${t}.c LIBS sluice_daemon)
    endif()
  endforeach()
endif()
