# Finds what the chrysalis headers need: Eigen 3.4, xsimd 8.1 and zlib (data.hpp reads and writes
# gzip files), and OpenMP when CHRYSALIS_OPENMP is on (large products then use several threads;
# without it everything runs on one). Used by the build and by the installed package
# configuration alike.
#
# Debian 12's xsimd 8.1 exports a target that links a library named "xtl", which Debian does not
# package (xsimd needs xtl only for its optional xtl::xcomplex support). Without a target of that
# name the linker is asked for -lxtl and fails; an empty interface target stands in for it.
if(_chrysalis_in_package_config)
  include(CMakeFindDependencyMacro)
  find_dependency(Eigen3 3.4 NO_MODULE)
  find_dependency(xsimd 8.1)
  find_dependency(ZLIB)
  if(CHRYSALIS_OPENMP)
    find_dependency(OpenMP COMPONENTS CXX)
  endif()
else()
  find_package(Eigen3 3.4 REQUIRED NO_MODULE)
  find_package(xsimd 8.1 REQUIRED)
  find_package(ZLIB REQUIRED)
  if(CHRYSALIS_OPENMP)
    find_package(OpenMP COMPONENTS CXX)
    if(NOT OpenMP_CXX_FOUND)
      message(WARNING "chrysalis: OpenMP was not found for ${CMAKE_CXX_COMPILER_ID}; every "
                      "product will run on one thread (install libomp-dev for clang++)")
    endif()
  endif()
endif()
if(TARGET xsimd AND NOT TARGET xtl)
  get_target_property(_chrysalis_xsimd_links xsimd INTERFACE_LINK_LIBRARIES)
  if("xtl" IN_LIST _chrysalis_xsimd_links)
    find_package(xtl QUIET)
    if(NOT TARGET xtl)
      add_library(xtl INTERFACE IMPORTED)
    endif()
  endif()
  unset(_chrysalis_xsimd_links)
endif()
