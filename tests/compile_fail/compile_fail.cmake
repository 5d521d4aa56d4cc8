# Code that must not compile. Each file under tests/compile_fail/ holds a correct program and,
# under #ifdef CHRYSALIS_COMPILE_FAIL, the mistake; a first line of the form
#   // expect-error: <regular expression>
# gives the text the compiler's message must contain. Two CTest tests per file:
#   compile_fail.<name>.control   the correct variant builds (so the failure below is the
#                                 mistake's); it is built with everything else, in parallel, and
#                                 the test confirms it is up to date
#   compile_fail.<name>           the mistaken variant fails to build, and its build log contains
#                                 the expected sentence (check_compile_fail.cmake)
# Tests that build in the build tree run one at a time (RESOURCE_LOCK), so each mistaken variant
# is compiled once, not once for the exit status and again for the message.
file(GLOB _chrysalis_cf_sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/*.cpp")
foreach(_source IN LISTS _chrysalis_cf_sources)
  get_filename_component(_name "${_source}" NAME_WE)
  file(STRINGS "${_source}" _expect REGEX "^// expect-error: " LIMIT_COUNT 1)
  if(NOT _expect)
    message(FATAL_ERROR "${_source}: first line must be '// expect-error: <regex>'")
  endif()

  add_executable(cf_${_name}_control "${_source}")
  add_executable(cf_${_name} EXCLUDE_FROM_ALL "${_source}")
  target_compile_definitions(cf_${_name} PRIVATE CHRYSALIS_COMPILE_FAIL)
  foreach(_target cf_${_name}_control cf_${_name})
    target_link_libraries(${_target} PRIVATE chrysalis_dev_flags)
    # What is tested is whether it compiles, which does not depend on optimising or
    # instrumenting it (at -O3 the training programs here took up to 40 s each).
    target_compile_options(${_target} PRIVATE -O0)
    if(CHRYSALIS_SANITIZE)
      target_compile_options(${_target} PRIVATE -fno-sanitize=all)
    endif()
  endforeach()

  set(_build "${CMAKE_COMMAND}" --build "${PROJECT_BINARY_DIR}" --target)
  add_test(NAME compile_fail.${_name}.control COMMAND ${_build} cf_${_name}_control)
  add_test(NAME compile_fail.${_name}
           COMMAND "${CMAKE_COMMAND}" "-DBUILD_DIR=${PROJECT_BINARY_DIR}" "-DTARGET=cf_${_name}"
                   "-DSOURCE=${_source}" -P "${CMAKE_CURRENT_LIST_DIR}/check_compile_fail.cmake")
  set_tests_properties(compile_fail.${_name}.control compile_fail.${_name} PROPERTIES
                       RESOURCE_LOCK chrysalis_build_tree LABELS "build;compile_fail")
endforeach()
