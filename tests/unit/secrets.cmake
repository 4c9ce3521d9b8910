# Unit tests of agent/secrets (age, SealedSecret).
if(TARGET sluice_secrets)
  pkg_check_modules(SECRETS_ZLIB REQUIRED IMPORTED_TARGET zlib)
  sluice_unit_test(test_age_testkit SOURCES test_age_testkit.c
    LIBS sluice_secrets PkgConfig::SECRETS_ZLIB)
  target_compile_definitions(test_age_testkit PRIVATE
    AGE_TESTKIT_DIR="${CMAKE_CURRENT_SOURCE_DIR}/data/secrets/age-testkit")
endif()
if(TARGET sluice_secrets)
  sluice_unit_test(test_sealed SOURCES test_sealed.c LIBS sluice_secrets)
endif()
