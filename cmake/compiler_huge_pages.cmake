# Build time: the compilers of the project's own programs (tests, examples, benchmarks, fuzzers) on
# transparent huge pages, where the kernel gives them only to memory advised for them.
#
# A compile touches hundreds of MB of fresh heap (g++ 12: 0.9 GB for test_network.cpp, 1.8 GB for
# the largest test group). Where /sys/kernel/mm/transparent_hugepage/enabled is "madvise"
# (Debian's default), all of it is on 4 KiB pages unless the program advises otherwise, and
# neither g++ nor clang++ does: one page fault per 4 KiB and a TLB miss for most of the
# compiler's pointer chasing. Two switches ask for huge pages without changing what is compiled:
#   - glibc's glibc.malloc.hugetlb=1 tunable (glibc 2.35 and later: the heap that malloc gets from
#     the kernel is advised with MADV_HUGEPAGE), which is all of clang++'s memory;
#   - for GCC, whose garbage-collected heap is mapped 2 MiB at a time with mmap, not malloc, a
#     preloaded library that advises those mappings (compiler_huge_pages.cpp, beside this file).
# The compiler launcher sets both for the compiler only (`env LD_PRELOAD=… GLIBC_TUNABLES=…`
# before ccache); no test, example or benchmark runs with them. Figures: docs/performance.md,
# "Compile time", "The compilers on huge pages".
#
# chrysalis_compiler_huge_pages(<out-var>): <out-var> is the list to put before the launcher, or
# empty where it would change nothing or cannot work: CHRYSALIS_COMPILER_HUGE_PAGES off; not
# Linux; huge pages "always" (already on) or "never" (unavailable); LD_PRELOAD or GLIBC_TUNABLES
# set in the environment (the user's own settings win); no env program; or the preloaded library
# fails to build or to load into the compiler.
option(CHRYSALIS_COMPILER_HUGE_PAGES
       "Run the compilers of tests, examples and benchmarks on transparent huge pages" ON)

function(chrysalis_compiler_huge_pages out)
  set(${out} "" PARENT_SCOPE)
  set(_mode_file /sys/kernel/mm/transparent_hugepage/enabled)
  if(NOT CHRYSALIS_COMPILER_HUGE_PAGES OR NOT CMAKE_SYSTEM_NAME STREQUAL "Linux"
     OR NOT EXISTS "${_mode_file}")
    return()
  endif()
  if(DEFINED ENV{LD_PRELOAD} OR DEFINED ENV{GLIBC_TUNABLES})
    message(STATUS "Compilers on huge pages: no (LD_PRELOAD or GLIBC_TUNABLES is set already)")
    return()
  endif()
  file(READ "${_mode_file}" _mode)
  if(NOT _mode MATCHES "\\[madvise\\]")
    return()
  endif()
  find_program(CHRYSALIS_ENV_PROGRAM env)
  if(NOT CHRYSALIS_ENV_PROGRAM)
    return()
  endif()
  set(_env "${CHRYSALIS_ENV_PROGRAM}" "GLIBC_TUNABLES=glibc.malloc.hugetlb=1")
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    set(_source "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/compiler_huge_pages.cpp")
    set(_library "${PROJECT_BINARY_DIR}/compiler_huge_pages.so")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_source}")
    # C++ without its runtime: linked to libc alone, so that no second libstdc++ is loaded into
    # the compiler.
    execute_process(COMMAND "${CMAKE_CXX_COMPILER}" -std=c++17 -O2 -Wall -Wextra -fno-exceptions
                            -fno-rtti -shared -fPIC -Wl,--as-needed -o "${_library}" "${_source}"
                            -ldl
                    RESULT_VARIABLE _built OUTPUT_VARIABLE _log ERROR_VARIABLE _log)
    if(NOT _built EQUAL 0)
      message(STATUS "Compilers on huge pages: no (the preloaded library did not build: ${_log})")
      return()
    endif()
    list(APPEND _env "LD_PRELOAD=${_library}")
  endif()
  # The compiler must still run with them (a library it cannot load stops every compile).
  execute_process(COMMAND ${_env} "${CMAKE_CXX_COMPILER}" --version
                  RESULT_VARIABLE _ran OUTPUT_QUIET ERROR_VARIABLE _log)
  if(NOT _ran EQUAL 0 OR _log MATCHES "ERROR|cannot be preloaded")
    message(STATUS "Compilers on huge pages: no (the compiler does not run with them: ${_log})")
    return()
  endif()
  message(STATUS "Compilers on huge pages: yes (-DCHRYSALIS_COMPILER_HUGE_PAGES=OFF turns it off)")
  set(${out} ${_env} PARENT_SCOPE)
endfunction()
