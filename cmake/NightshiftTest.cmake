# ns_add_test(NAME SOURCES a_test.cc ... LIBS ns_x ...): a GoogleTest binary
# registered with CTest (tests discovered one by one).
include(GoogleTest)
function(ns_add_test name)
  if(NOT NIGHTSHIFT_WITH_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;ENV" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  # Unit tests are white-box: they include the internal headers under src/.
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  if(T_ENV)  # ENV NAME=VALUE ...: the environment each test runs in
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600 ENVIRONMENT "${T_ENV}")
  else()
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600)
  endif()
endfunction()
