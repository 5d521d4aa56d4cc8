# The package consumed three ways, each configured, built and run by ctest --build-and-test.
set(_consumer_src "${CMAKE_CURRENT_LIST_DIR}")
set(_consumer_bin "${CMAKE_CURRENT_BINARY_DIR}/consumer")
set(_consumer_common
  --build-generator "${CMAKE_GENERATOR}"
  --build-options
    "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}"
    "-DCMAKE_CXX_COMPILER_LAUNCHER=${CHRYSALIS_CONSUMER_LAUNCHER}"
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

# Zero warnings of our own: warnings.cpp instantiates the public templates in float and double
# and is built with -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion and the other
# flags strict projects add (tests/consumer/CMakeLists.txt), -Werror (and chrysalis's headers not
# treated as system headers) by g++ and clang++, without and with -march=native (clang++ without
# -march also without OpenMP). Each compiler
# and each flag set is consumed once through find_package and once through add_subdirectory.
# g++ 12 with -march=native also needs -Wno-maybe-uninitialized -Wno-uninitialized: GCC bug
# 105593 makes its own AVX-512 intrinsic headers warn wherever they are inlined, Eigen's as much
# as ours (docs/getting-started.md). Heavy (30-50 s of compiling each, half of the release suite's
# test phase when it ran there), so only where asked: CHRYSALIS_CONSUMER_WARNINGS is on in the
# warnings preset (scripts/test.sh warnings; .ci/run). A fifth build compiles it for AVX-512
# (-march=x86-64-v4) with g++ and no -Wno- flags, without running it — unless the native build
# already does that (below).
option(CHRYSALIS_CONSUMER_WARNINGS "Build the zero-warnings consumer matrix as tests" OFF)
if(CHRYSALIS_CONSUMER_WARNINGS)
  find_program(CHRYSALIS_GXX NAMES g++)
  find_program(CHRYSALIS_CLANGXX NAMES clang++)
  # Where g++'s -march=native already targets every x86-64-v4 extension (AVX-512 F, BW, CD, DQ,
  # VL), the native build is held to the AVX-512 build's rule — no -Wno- flag — and takes its
  # place: the two compiled the same code (warnings.cpp uses nothing that tests the wider
  # extensions of a newer CPU, such as VNNI) and each took 40-50 s of the test phase.
  set(_gxx_native_flags "-march=native -Wno-maybe-uninitialized -Wno-uninitialized")
  set(_gxx_avx512_entry "gxx|avx512|add_subdirectory|-march=x86-64-v4")
  if(CHRYSALIS_GXX)
    execute_process(COMMAND "${CHRYSALIS_GXX}" -march=native -dM -E -x c++ /dev/null
                    OUTPUT_VARIABLE _gxx_native_macros ERROR_QUIET RESULT_VARIABLE _gxx_status)
    set(_native_is_v4 FALSE)
    if(_gxx_status EQUAL 0)
      set(_native_is_v4 TRUE)
      foreach(_ext F BW CD DQ VL)
        if(NOT _gxx_native_macros MATCHES "#define __AVX512${_ext}__ 1")
          set(_native_is_v4 FALSE)
        endif()
      endforeach()
    endif()
    if(_native_is_v4)
      set(_gxx_native_flags "-march=native")
      set(_gxx_avx512_entry)
      message(STATUS "chrysalis: g++ -march=native targets AVX-512 (x86-64-v4): the native "
                     "zero-warnings consumer is built with no -Wno- flag, in place of the "
                     "-march=x86-64-v4 one")
    endif()
  endif()
  set(_matrix
      "gxx|plain|find_package|"
      "gxx|native|add_subdirectory|${_gxx_native_flags}"
      # clang++ at -O0 (NDEBUG still defined): its warnings all come from the front end, before
      # any optimisation, so -O3 shows no other warning and cost four times as long to compile
      # (47 s of CPU against 11 s for warnings.cpp on the Zen 4).
      # Without OpenMP too (CHRYSALIS_DISABLE_OPENMP): the single-threaded branches of the
      # thread code must not warn either (an unused parameter there once did).
      "clangxx|plain|add_subdirectory|-O0 -DCHRYSALIS_DISABLE_OPENMP"
      "clangxx|native|find_package|-O0 -march=native"
      # Compiled, not run (the machine may lack AVX-512): GCC 105593's own ground, with no
      # -Wno- flags at all. chrysalis's headers silence it (chrysalis/isa.hpp).
      ${_gxx_avx512_entry})
  foreach(_entry IN LISTS _matrix)
    string(REPLACE "|" ";" _parts "${_entry}")
    list(GET _parts 0 _cc)
    list(GET _parts 1 _flavour)
    list(GET _parts 2 _mode)
    list(GET _parts 3 _flags)
    if(_cc STREQUAL "gxx")
      set(_compiler "${CHRYSALIS_GXX}")
    else()
      set(_compiler "${CHRYSALIS_CLANGXX}")
    endif()
    if(NOT _compiler)
      message(STATUS "chrysalis: no ${_cc} found; the ${_cc} zero-warnings consumer is not built")
      continue()
    endif()
    if(_mode STREQUAL "find_package" AND NOT CHRYSALIS_INSTALL)
      continue()
    endif()
    set(_name consumer.warnings.${_cc}.${_flavour}.${_mode})
    set(_extra)
    set(_run --test-command consumer)
    if(_flavour STREQUAL "avx512")
      set(_run)
    endif()
    if(_mode STREQUAL "find_package")
      set(_extra "-DCMAKE_PREFIX_PATH=${_consumer_bin}/prefix")
    endif()
    add_test(NAME ${_name}
             COMMAND "${CMAKE_CTEST_COMMAND}" --build-and-test "${_consumer_src}"
                     "${_consumer_bin}/warnings-${_cc}-${_flavour}-${_mode}"
                     --build-generator "${CMAKE_GENERATOR}"
                     --build-options
                       "-DCMAKE_CXX_COMPILER=${_compiler}"
                       "-DCMAKE_CXX_COMPILER_LAUNCHER=${CHRYSALIS_CONSUMER_LAUNCHER}"
                       "-DCMAKE_BUILD_TYPE=Release"
                       "-DCHRYSALIS_EXPECTED_VERSION=${PROJECT_VERSION}"
                       "-DCHRYSALIS_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
                       "-DCHRYSALIS_CONSUMER_MODE=${_mode}"
                       "-DCONSUMER_STRICT=ON"
                       "-DCONSUMER_FLAGS=${_flags}"
                       ${_extra}
                     ${_run})
    # A minute or more each: started first (CTest runs tests in descending COST), so that they
    # do not run last, one per core, while the short tests are done.
    set_tests_properties(${_name} PROPERTIES LABELS warnings COST 80)
    if(_mode STREQUAL "find_package")
      set_tests_properties(${_name} PROPERTIES FIXTURES_REQUIRED chrysalis_installed)
    endif()
  endforeach()
  # The same bits from another build (docs/getting-started.md): one small training program built
  # by g++ and clang++ at several levels, with and without -ffp-contract=off
  # (tests/same_bits/same_bits.cmake says what must agree). Here because it needs both compilers.
  if(CHRYSALIS_GXX AND CHRYSALIS_CLANGXX)
    set(_same_bits_includes "${PROJECT_SOURCE_DIR}/include")
    foreach(_dep Eigen3::Eigen xsimd)
      get_target_property(_dirs ${_dep} INTERFACE_INCLUDE_DIRECTORIES)
      list(APPEND _same_bits_includes ${_dirs})
    endforeach()
    # Not the compiler's own directories (xsimd's is /usr/include): -isystem on one of those
    # breaks the standard library's #include_next.
    list(REMOVE_ITEM _same_bits_includes ${CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES})
    list(REMOVE_DUPLICATES _same_bits_includes)
    string(REPLACE ";" "|" _same_bits_includes "${_same_bits_includes}")
    string(REPLACE ";" "|" _same_bits_libs "${ZLIB_LIBRARIES}")
    add_test(NAME same_bits
             COMMAND "${CMAKE_COMMAND}" "-DGXX=${CHRYSALIS_GXX}" "-DCLANGXX=${CHRYSALIS_CLANGXX}"
                     "-DSOURCE=${CMAKE_CURRENT_SOURCE_DIR}/same_bits/same_bits.cpp"
                     "-DWORK=${CMAKE_CURRENT_BINARY_DIR}/same_bits"
                     "-DINCLUDES=${_same_bits_includes}" "-DLIBS=${_same_bits_libs}"
                     -P "${CMAKE_CURRENT_SOURCE_DIR}/same_bits/same_bits.cmake")
    set_tests_properties(same_bits PROPERTIES LABELS warnings COST 60)
  endif()
endif()
