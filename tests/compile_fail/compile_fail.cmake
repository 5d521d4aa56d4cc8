# Code that must not compile. Each file under tests/compile_fail/ holds a correct program and,
# under #ifdef CHRYSALIS_COMPILE_FAIL, the mistake; a first line of the form
#   // expect-error: <regular expression>
# gives the text the compiler's message must contain. Three CTest tests per file:
#   compile_fail.<name>.control   the correct variant builds (so failure below is the mistake's)
#   compile_fail.<name>           the mistaken variant does not build (WILL_FAIL)
#   compile_fail.<name>.message   its build log contains the expected sentence
file(GLOB _chrysalis_cf_sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/*.cpp")
foreach(_source IN LISTS _chrysalis_cf_sources)
  get_filename_component(_name "${_source}" NAME_WE)
  file(STRINGS "${_source}" _expect REGEX "^// expect-error: " LIMIT_COUNT 1)
  if(NOT _expect)
    message(FATAL_ERROR "${_source}: first line must be '// expect-error: <regex>'")
  endif()
  string(REGEX REPLACE "^// expect-error: " "" _expect "${_expect}")

  add_executable(cf_${_name}_control EXCLUDE_FROM_ALL "${_source}")
  add_executable(cf_${_name} EXCLUDE_FROM_ALL "${_source}")
  target_compile_definitions(cf_${_name} PRIVATE CHRYSALIS_COMPILE_FAIL)
  foreach(_target cf_${_name}_control cf_${_name})
    target_link_libraries(${_target} PRIVATE chrysalis_dev_flags)
    # What is tested is whether it compiles, which does not depend on optimising it (at -O3 the
    # training programs here took up to 40 s each, three builds per file, during ctest).
    target_compile_options(${_target} PRIVATE -O0)
  endforeach()

  set(_build "${CMAKE_COMMAND}" --build "${PROJECT_BINARY_DIR}" --target)
  add_test(NAME compile_fail.${_name}.control COMMAND ${_build} cf_${_name}_control)
  add_test(NAME compile_fail.${_name} COMMAND ${_build} cf_${_name})
  add_test(NAME compile_fail.${_name}.message COMMAND ${_build} cf_${_name})
  set_tests_properties(compile_fail.${_name} PROPERTIES WILL_FAIL TRUE)
  set_tests_properties(compile_fail.${_name}.message PROPERTIES
                       PASS_REGULAR_EXPRESSION "${_expect}")
  set_tests_properties(compile_fail.${_name}.control compile_fail.${_name}
                       compile_fail.${_name}.message PROPERTIES
                       RESOURCE_LOCK chrysalis_build_tree LABELS "build;compile_fail")
endforeach()
