# cmake -DBUILD_DIR=<build tree> -DTARGET=<target> -DSOURCE=<file> -P check_compile_fail.cmake
# Builds TARGET, which must fail, with a log that matches the regular expression on SOURCE's
# first line ("// expect-error: <regex>"). Fails with the log when it builds, or when it fails for
# another reason than the expected one.
foreach(_var BUILD_DIR TARGET SOURCE)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "check_compile_fail.cmake: -D${_var}=... is required")
  endif()
endforeach()
file(STRINGS "${SOURCE}" _expect REGEX "^// expect-error: " LIMIT_COUNT 1)
string(REGEX REPLACE "^// expect-error: " "" _expect "${_expect}")
if(_expect STREQUAL "")
  message(FATAL_ERROR "${SOURCE}: first line must be '// expect-error: <regex>'")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}"
                RESULT_VARIABLE _status OUTPUT_VARIABLE _log ERROR_VARIABLE _log)
if(_status EQUAL 0)
  message(FATAL_ERROR "${TARGET} compiled, but ${SOURCE} must not compile with "
                      "CHRYSALIS_COMPILE_FAIL defined:\n${_log}")
endif()
if(NOT _log MATCHES "${_expect}")
  message(FATAL_ERROR "${TARGET} failed to compile, but its log does not contain the expected "
                      "'${_expect}':\n${_log}")
endif()
message(STATUS "${TARGET} fails to compile as expected: '${_expect}' found")
