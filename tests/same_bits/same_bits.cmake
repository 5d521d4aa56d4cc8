# The same bits from another build (docs/getting-started.md): builds tests/same_bits/same_bits.cpp
# five ways and compares the weights each build trains, as printed hashes:
#   - with -ffp-contract=off, g++ at -O1 and -O3 and clang++ at -O3 must agree;
#   - g++ at -O1 without the flag must agree with them too (it fuses no multiply-add);
#   - where -march=native has FMA, g++ at -O3 without the flag must not: it fuses multiply-adds
#     written apart, which is what the flag is for (and what shows the comparison can fail).
# Run by CTest as cmake -P, with GXX, CLANGXX, SOURCE, WORK, INCLUDES (a |-separated list of
# include directories) and LIBS (|-separated) defined.
foreach(var GXX CLANGXX SOURCE WORK INCLUDES)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "same_bits.cmake: ${var} is not defined")
  endif()
endforeach()
string(REPLACE "|" ";" includes "${INCLUDES}")
string(REPLACE "|" ";" libs "${LIBS}")
set(common -std=c++20 -DNDEBUG -march=native -fopenmp)
foreach(dir IN LISTS includes)
  list(APPEND common -isystem "${dir}")
endforeach()
file(MAKE_DIRECTORY "${WORK}")

# build_and_run(<name> <compiler> <flags>...): compiles SOURCE into WORK/<name>, runs it and
# leaves its output in <name>_out.
function(build_and_run name compiler)
  execute_process(COMMAND "${compiler}" ${common} ${ARGN} "${SOURCE}" -o "${WORK}/${name}" ${libs}
                  RESULT_VARIABLE status ERROR_VARIABLE errors OUTPUT_VARIABLE output)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "same_bits: building ${name} (${compiler} ${ARGN}) failed:\n${errors}")
  endif()
  execute_process(COMMAND "${WORK}/${name}" RESULT_VARIABLE status OUTPUT_VARIABLE output
                  ERROR_VARIABLE errors)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "same_bits: ${name} exited with ${status}:\n${output}${errors}")
  endif()
  string(REPLACE ";" " " flags "${ARGN}")
  message(STATUS "${name} (${compiler} ${flags}):\n${output}")
  set(${name}_out "${output}" PARENT_SCOPE)
endfunction()

build_and_run(gxx_O1_off "${GXX}" -O1 -ffp-contract=off)
build_and_run(gxx_O3_off "${GXX}" -O3 -ffp-contract=off)
build_and_run(clangxx_O3_off "${CLANGXX}" -O3 -ffp-contract=off)
build_and_run(gxx_O1 "${GXX}" -O1)
build_and_run(gxx_O3 "${GXX}" -O3)

if(NOT gxx_O1_off_out MATCHES "teacher [0-9a-f]+\nstudent [0-9a-f]+")
  message(FATAL_ERROR "same_bits: unexpected output:\n${gxx_O1_off_out}")
endif()
foreach(name gxx_O3_off clangxx_O3_off gxx_O1)
  if(NOT "${${name}_out}" STREQUAL "${gxx_O1_off_out}")
    message(FATAL_ERROR "same_bits: ${name} trained other weights than gxx_O1_off")
  endif()
endforeach()
if(gxx_O1_off_out MATCHES "fma 1")
  if("${gxx_O3_out}" STREQUAL "${gxx_O1_off_out}")
    message(FATAL_ERROR "same_bits: g++ -O3 without -ffp-contract=off trained the same weights "
                        "as with it: no fused multiply-add changed a bit, so the comparison shows "
                        "nothing (docs/getting-started.md says it does)")
  endif()
else()
  message(STATUS "same_bits: -march=native has no FMA here; the g++ -O3 control is not checked")
endif()
