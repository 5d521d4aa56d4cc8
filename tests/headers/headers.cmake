# Every header must compile on its own, and twice in a row (#pragma once): one translation unit
# per header, built by its own CTest test so that a failure names the header.
file(GLOB_RECURSE _chrysalis_headers CONFIGURE_DEPENDS
     RELATIVE "${PROJECT_SOURCE_DIR}/include" "${PROJECT_SOURCE_DIR}/include/chrysalis/*.hpp")
foreach(_header IN LISTS _chrysalis_headers)
  string(MAKE_C_IDENTIFIER "${_header}" _id)
  set(_source "${CMAKE_CURRENT_BINARY_DIR}/headers/${_id}.cpp")
  file(CONFIGURE OUTPUT "${_source}" CONTENT "#include <${_header}>\n#include <${_header}>\n")
  # Built with everything else, in parallel (as tests they ran one at a time, 31 × ~10 s of the
  # test phase); the test then only confirms the target is up to date and builds.
  # Whether a header compiles is the front end's answer: an object library compiled with
  # -fsyntax-only (CHRYSALIS_SYNTAX_ONLY, tests/CMakeLists.txt), nothing generated or linked, and
  # not through ccache, which for each of these files cost more than the compile itself (it
  # hashes the 143 MB precompiled isa.hpp: metrics.hpp 0.85 s of CPU alone, 1.57 s through
  # ccache with a cold cache; docs/performance.md, "Compile time").
  add_library(header_${_id} OBJECT "${_source}")
  target_link_libraries(header_${_id} PRIVATE chrysalis_dev_flags)
  # -O0: the level the precompiled isa.hpp below is built at (its __OPTIMIZE__ must match).
  target_compile_options(header_${_id} PRIVATE -O0)
  set_target_properties(header_${_id} PROPERTIES
                        CXX_COMPILER_LAUNCHER "${CHRYSALIS_SYNTAX_ONLY_LAUNCHER}")
  # After a precompiled isa.hpp where that is the same compile (tests/CMakeLists.txt).
  chrysalis_isa_first("${PROJECT_SOURCE_DIR}/include/${_header}" _isa_first)
  if(_isa_first)
    chrysalis_isa_pch(header_${_id})
  endif()
  add_test(NAME "header compiles alone: ${_header}"
           COMMAND "${CMAKE_COMMAND}" --build "${PROJECT_BINARY_DIR}" --target header_${_id})
  set_tests_properties("header compiles alone: ${_header}" PROPERTIES
                       RESOURCE_LOCK chrysalis_build_tree LABELS build)
endforeach()

# chrysalis/train.hpp alone reaches the losses, the optimizers, fit, distill and evaluation
# (train_alone.cpp): compiled like the headers above, as its own test.
add_library(header_train_alone OBJECT "${CMAKE_CURRENT_SOURCE_DIR}/headers/train_alone.cpp")
target_link_libraries(header_train_alone PRIVATE chrysalis_dev_flags)
target_compile_options(header_train_alone PRIVATE -O0)
set_target_properties(header_train_alone PROPERTIES
                      CXX_COMPILER_LAUNCHER "${CHRYSALIS_SYNTAX_ONLY_LAUNCHER}")
chrysalis_isa_pch(header_train_alone)
add_test(NAME "train.hpp alone reaches the losses, optimizers and loops"
         COMMAND "${CMAKE_COMMAND}" --build "${PROJECT_BINARY_DIR}" --target header_train_alone)
set_tests_properties("train.hpp alone reaches the losses, optimizers and loops" PROPERTIES
                     RESOURCE_LOCK chrysalis_build_tree LABELS build)

# The training core (fit, distill, evaluation, observers, layers, losses, optimizers) includes
# no file I/O or zlib: see core_dependencies.cmake.
add_test(NAME "training core includes no file I/O"
         COMMAND "${CMAKE_COMMAND}" "-DCXX=${CMAKE_CXX_COMPILER}"
                 "-DINCLUDES=${PROJECT_SOURCE_DIR}/include|$<JOIN:$<TARGET_PROPERTY:Eigen3::Eigen,INTERFACE_INCLUDE_DIRECTORIES>,|>|$<JOIN:$<TARGET_PROPERTY:xsimd,INTERFACE_INCLUDE_DIRECTORIES>,|>"
                 "-DSOURCE=${CMAKE_CURRENT_SOURCE_DIR}/headers/training_core.cpp"
                 -P "${CMAKE_CURRENT_SOURCE_DIR}/headers/core_dependencies.cmake")
