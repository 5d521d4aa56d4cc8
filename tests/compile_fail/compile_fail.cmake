# Code that must not compile. Each file under tests/compile_fail/ holds a correct program and,
# under #ifdef CHRYSALIS_COMPILE_FAIL, the mistake; a first line of the form
#   // expect-error: <regular expression>
# gives the text the compiler's message must contain. Two CTest tests per file:
#   compile_fail.<name>.control   the correct variant compiles (so the failure below is the
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

  chrysalis_isa_first("${_source}" _isa_first)
  # Object libraries: what is tested is whether the file compiles, so nothing is linked.
  add_library(cf_${_name}_control OBJECT "${_source}")
  add_library(cf_${_name} OBJECT EXCLUDE_FROM_ALL "${_source}")
  target_compile_definitions(cf_${_name} PRIVATE CHRYSALIS_COMPILE_FAIL)
  foreach(_target cf_${_name}_control cf_${_name})
    target_link_libraries(${_target} PRIVATE chrysalis_dev_flags)
    # Whether it compiles does not depend on optimising, instrumenting or even generating code
    # for it (at -O3 the training programs here took up to 40 s each): -O0, and the compiler
    # runs with -fsyntax-only (syntax_only.sh, in place of ccache), 40% less than compiling at
    # -O0 (distill_bss_one_class.cpp: 9.4 s of CPU, 5.5 s).
    target_compile_options(${_target} PRIVATE -O0)
    # After a precompiled isa.hpp where that is the same compile (tests/CMakeLists.txt), which
    # was built without -fno-sanitize=all.
    if(_isa_first AND NOT CHRYSALIS_SANITIZE)
      chrysalis_isa_pch(${_target})
    endif()
    set_target_properties(${_target} PROPERTIES
                          CXX_COMPILER_LAUNCHER "${CHRYSALIS_SYNTAX_ONLY_LAUNCHER}")
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
