# Git source benchmark: idle poll vs `git ls-remote`, incremental fetch vs `git fetch`
# (file:// and smart HTTP), and tree reads from git vs a directory, on a generated
# repository with 10,000 commits and 2,000 tags. Prints figures; no timed assertion.
if(TARGET sluice_source)
  add_executable(bench_poll ${CMAKE_CURRENT_SOURCE_DIR}/sources/bench_poll.c)
  target_link_libraries(bench_poll PRIVATE sluice_sources)
  add_executable(bench_tree ${CMAKE_CURRENT_SOURCE_DIR}/sources/bench_tree.c)
  target_link_libraries(bench_tree PRIVATE sluice_source)
  add_test(NAME bench_sources COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/sources/bench_sources.py)
  set_tests_properties(bench_sources PROPERTIES LABELS bench TIMEOUT 900
    ENVIRONMENT "BENCH_POLL=$<TARGET_FILE:bench_poll>;BENCH_TREE=$<TARGET_FILE:bench_tree>")
endif()
