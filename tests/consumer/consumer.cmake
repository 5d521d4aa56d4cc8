# The package consumed three ways, each configured, built and run by ctest --build-and-test.
set(_consumer_src "${CMAKE_CURRENT_LIST_DIR}")
set(_consumer_bin "${CMAKE_CURRENT_BINARY_DIR}/consumer")
set(_consumer_common
  --build-generator "${CMAKE_GENERATOR}"
  --build-options
    "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}"
    "-DCMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}"
    "-DCHRYSALIS_EXPECTED_VERSION=${PROJECT_VERSION}"
    "-DCHRYSALIS_SOURCE_DIR=${PROJECT_SOURCE_DIR}")

if(CHRYSALIS_INSTALL)
  add_test(NAME consumer.install
           COMMAND "${CMAKE_COMMAND}" --install "${PROJECT_BINARY_DIR}"
                   --prefix "${_consumer_bin}/prefix")
  set_tests_properties(consumer.install PROPERTIES FIXTURES_SETUP chrysalis_installed)
  add_test(NAME consumer.find_package
           COMMAND "${CMAKE_CTEST_COMMAND}" --build-and-test "${_consumer_src}"
                   "${_consumer_bin}/find_package" ${_consumer_common}
                   "-DCHRYSALIS_CONSUMER_MODE=find_package"
                   "-DCMAKE_PREFIX_PATH=${_consumer_bin}/prefix"
                   --test-command consumer)
  set_tests_properties(consumer.find_package PROPERTIES FIXTURES_REQUIRED chrysalis_installed)
endif()

foreach(_mode add_subdirectory fetchcontent)
  add_test(NAME consumer.${_mode}
           COMMAND "${CMAKE_CTEST_COMMAND}" --build-and-test "${_consumer_src}"
                   "${_consumer_bin}/${_mode}" ${_consumer_common}
                   "-DCHRYSALIS_CONSUMER_MODE=${_mode}"
                   --test-command consumer)
endforeach()
