# Installs this build into a scratch prefix and builds a master outside the
# tree twice — with find_package(mwkit) and with pkg-config — then runs both on
# the multicore interface and the CMake one on MPI too (mw-mpi-worker found
# relative to the installed library). Run by ctest:
#   cmake -DBUILD_DIR=… -DSOURCE_DIR=… -DWORK_DIR=… -P check_installed_mwkit.cmake
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "${var} is not set")
  endif()
endforeach()
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(path lib/libmw.a lib/libmw.so include/mw/master.h lib/cmake/mwkit/mwkitConfig.cmake
             lib/pkgconfig/mwkit.pc libexec/mwkit/mw-mpi-worker bin/mw-project-setup)
  if(NOT EXISTS ${prefix}/${path})
    message(FATAL_ERROR "cmake --install did not install ${path}")
  endif()
endforeach()

# find_package(mwkit)
run("configuring the user's master" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/user_master
    -B ${WORK_DIR}/cmake-build -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run("building the user's master" ${CMAKE_COMMAND} --build ${WORK_DIR}/cmake-build)
# PATH without the build tree: the MPI rank program must come from the prefix.
run("the find_package master on multicore" ${CMAKE_COMMAND} -E env PATH=/usr/bin:/bin
    ${WORK_DIR}/cmake-build/user_master)
if(NOT last_output MATCHES "\\(correct\\) on multicore")
  message(FATAL_ERROR "unexpected output: ${last_output}")
endif()
run("the find_package master on MPI" ${CMAKE_COMMAND} -E env PATH=/usr/bin:/bin --unset=MW_MPI_WORKER
    ${WORK_DIR}/cmake-build/user_master mpi)
if(NOT last_output MATCHES "\\(correct\\) on mpi")
  message(FATAL_ERROR "unexpected output: ${last_output}")
endif()

# pkg-config mwkit
run("pkg-config" ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${prefix}/lib/pkgconfig pkg-config --cflags --libs mwkit)
string(STRIP "${last_output}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run("compiling with pkg-config's flags" c++ -std=c++17 -O1 ${SOURCE_DIR}/tests/install/user_master/user_master.cpp
    ${flags} -Wl,-rpath,${prefix}/lib -o ${WORK_DIR}/pkg-config-master)
run("the pkg-config master on multicore" ${WORK_DIR}/pkg-config-master)
if(NOT last_output MATCHES "\\(correct\\) on multicore")
  message(FATAL_ERROR "unexpected output: ${last_output}")
endif()
message(STATUS "installed mwkit: find_package and pkg-config masters built and correct")
