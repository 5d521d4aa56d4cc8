# The training core reads and writes no files: a translation unit that includes fit, distill,
# evaluation, ensembles and the observers (chrysalis/train.hpp) must not pull in zlib, POSIX file
# descriptors or chrysalis's file-reading headers. (Its one reading is of kernel state: the
# default thread count reads the process's CPU quota and the CPUs' cores from /proc and /sys
# through <cstdio>, chrysalis/detail/cpu_quota.hpp and cpu_cores.hpp.) Run as a CTest test with
#   -DCXX=<compiler> -DINCLUDES=<dir|dir|...> -DSOURCE=<translation unit> -P core_dependencies.cmake
# It lists the TU's headers with the compiler's -M and fails naming each forbidden one it finds.
set(_args -std=c++20 -M)
string(REPLACE "|" ";" _includes "${INCLUDES}")
foreach(_dir IN LISTS _includes)
  list(APPEND _args "-I${_dir}")
endforeach()
execute_process(COMMAND "${CXX}" ${_args} "${SOURCE}" OUTPUT_VARIABLE _deps ERROR_VARIABLE _err
                RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "listing the headers of ${SOURCE} failed:\n${_err}")
endif()
string(REGEX MATCHALL "chrysalis/[a-z_/]+\\.hpp" _ours "${_deps}")
list(REMOVE_DUPLICATES _ours)
list(LENGTH _ours _count)
if(_count LESS 10)
  message(FATAL_ERROR "only ${_count} chrysalis headers listed; the check would prove nothing:\n"
                      "${_deps}")
endif()
set(_failed "")
foreach(_forbidden zlib.h fcntl.h fstream chrysalis/detail/file_io.hpp
        chrysalis/detail/data_io.hpp chrysalis/detail/npy.hpp chrysalis/serialize.hpp
        chrysalis/checkpoint.hpp chrysalis/data.hpp)
  string(REPLACE "." "\\." _pattern "${_forbidden}")
  if(_deps MATCHES "[/ ]${_pattern}[ \n\\\\]" OR _deps MATCHES "[/ ]${_pattern}$")
    list(APPEND _failed "${_forbidden}")
  endif()
endforeach()
if(_failed)
  message(FATAL_ERROR "the training core (${SOURCE}) includes file I/O: ${_failed}")
endif()
message(STATUS "the training core includes ${_count} chrysalis headers and no file I/O")
