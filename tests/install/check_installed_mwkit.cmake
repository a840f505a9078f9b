# Builds a master outside the tree the way a user would, against mwkit
# installed in one of three ways (MODE):
#   install  `cmake --install` of BUILD_DIR into a scratch prefix
#   deb      the Debian packages of BUILD_DIR (cpack), checked for their files
#            and dependencies, resolved by apt against this system (simulated),
#            and unpacked into a scratch root
#   lean     a build of SOURCE_DIR with every optional part off, installed
# Then configures and builds tests/install/user_master with find_package(mwkit)
# and again with pkg-config, runs both on the multicore interface and (where
# the installation has it) on MPI, with mw-mpi-worker found relative to the
# installed library. Run by ctest:
#   cmake -DMODE=… -DBUILD_DIR=… -DSOURCE_DIR=… -DWORK_DIR=… -P check_installed_mwkit.cmake
cmake_minimum_required(VERSION 3.20)  # if() compares quoted strings as strings (CMP0054)
foreach(var MODE BUILD_DIR SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "${var} is not set")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

function(expect_files root)
  foreach(path ${ARGN})
    if(NOT EXISTS ${root}/${path})
      message(FATAL_ERROR "${MODE}: ${path} is missing under ${root}")
    endif()
  endforeach()
endfunction()

function(expect_no_files root)
  foreach(path ${ARGN})
    if(EXISTS ${root}/${path})
      message(FATAL_ERROR "${MODE}: ${path} should not be installed (its part is off)")
    endif()
  endforeach()
endfunction()

set(with_mpi TRUE)
if(MODE STREQUAL "install")
  set(prefix ${WORK_DIR}/prefix)
  run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
  expect_files(${prefix} lib/libmw.a lib/libmw.so lib/libmw.so.0 lib/libmw_mpi.so.0 lib/libmw_boinc.a
    include/mw/master.h include/mw/boinc/local.h lib/cmake/mwkit/mwkitConfig.cmake lib/pkgconfig/mwkit.pc
    lib/pkgconfig/mwkit-mpi.pc lib/pkgconfig/mwkit-boinc-remote.pc libexec/mwkit/mw-mpi-worker
    bin/mw-project-setup share/mwkit/templates/mw_in.xml)
  set(libdir lib)
elseif(MODE STREQUAL "deb")
  set(debs ${WORK_DIR}/debs)
  run("cpack -G DEB" ${CMAKE_COMMAND} -E chdir ${BUILD_DIR} cpack -G DEB -B ${debs})
  file(GLOB packages ${debs}/*.deb)
  set(names "")
  foreach(deb ${packages})
    run("dpkg-deb -f" dpkg-deb -f ${deb} Package)
    string(STRIP "${last_output}" name)
    list(APPEND names ${name})
    run("dpkg-deb -f" dpkg-deb -f ${deb} Version Depends)
    set(fields_${name} "${last_output}")
  endforeach()
  list(SORT names)
  if(NOT names STREQUAL "libmwkit-dev;libmwkit0;mwkit-boinc-server;mwkit-tools")
    message(FATAL_ERROR "deb: expected the four packages, cpack made: ${names}")
  endif()
  file(STRINGS ${SOURCE_DIR}/CMakeLists.txt project_line REGEX "^project\\(mwkit VERSION")
  string(REGEX MATCH "VERSION ([0-9.]+)" _ "${project_line}")
  set(version ${CMAKE_MATCH_1})
  foreach(check "libmwkit-dev|libmwkit0 \\(= ${version}\\)" "libmwkit-dev|libcereal-dev"
                "libmwkit0|libmariadb3" "libmwkit0|libzip4" "libmwkit0|libcpp-httplib0"
                "libmwkit-dev|libcpp-httplib-dev" "mwkit-boinc-server|mwkit-tools \\(= ${version}\\)"
                "mwkit-boinc-server|libboinc-app7" "mwkit-tools|Version: ${version}")
    string(REPLACE "|" ";" pair "${check}")
    list(GET pair 0 name)
    list(GET pair 1 pattern)
    if(NOT fields_${name} MATCHES "${pattern}")
      message(FATAL_ERROR "deb: ${name}'s control fields lack '${pattern}':\n${fields_${name}}")
    endif()
  endforeach()
  # apt resolves every Depends against this system's packages (simulated: nothing changes).
  run("apt-get install --simulate" apt-get install --simulate --no-install-recommends ${packages})
  foreach(name ${names})
    if(NOT last_output MATCHES "Inst ${name} ")
      message(FATAL_ERROR "deb: apt would not install ${name}:\n${last_output}")
    endif()
  endforeach()
  set(root ${WORK_DIR}/root)
  foreach(deb ${packages})
    run("dpkg-deb -x" dpkg-deb -x ${deb} ${root})
  endforeach()
  set(prefix ${root}/usr)
  expect_files(${prefix} lib/libmw.so.0 lib/libmw.so lib/libmw.a include/mw/master.h lib/cmake/mwkit/mwkitConfig.cmake
    lib/pkgconfig/mwkit.pc libexec/mwkit/mw-mpi-worker bin/mw-task bin/mw-project-setup bin/mw-wrapper
    share/mwkit/templates/mw_out.xml share/doc/mwkit/operator-guide.md)
  set(libdir lib)
elseif(MODE STREQUAL "lean")
  set(with_mpi FALSE)
  set(prefix ${WORK_DIR}/prefix)
  set(lean ${WORK_DIR}/build)
  run("configuring a lean build" ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${lean} -G Ninja -DCMAKE_BUILD_TYPE=Release
      -DMW_WITH_MPI=OFF -DMW_WITH_CONDOR=OFF -DMW_WITH_BOINC=OFF -DMW_WITH_BOINC_REMOTE=OFF
      -DMW_WITH_STATUS_SERVER=OFF -DMW_TESTS=OFF -DMW_BENCH=OFF)
  run("building the lean library and monte_pi" ${CMAKE_COMMAND} --build ${lean} -t mw_shared mw monte_pi)
  foreach(component runtime dev)
    run("installing ${component}" ${CMAKE_COMMAND} --install ${lean} --prefix ${prefix} --component ${component})
  endforeach()
  expect_files(${prefix} lib/libmw.so.0 lib/libmw.a include/mw/master.h include/mw/multicore.h
    lib/pkgconfig/mwkit.pc lib/cmake/mwkit/mwkitConfig.cmake)
  expect_no_files(${prefix} lib/libmw_mpi.so.0 lib/libmw_boinc.so.0 lib/libmw_boinc_remote.so.0
    lib/libmw_condor.so.0 include/mw/mpi.h include/mw/condor.h include/mw/boinc/local.h
    include/mw/boinc/remote.h include/mw/boinc/database.h lib/pkgconfig/mwkit-mpi.pc libexec/mwkit/mw-mpi-worker)
  # The core library needs no back end's libraries.
  run("readelf -d" readelf -d ${prefix}/lib/libmw.so.0)
  foreach(library libmariadb libcurl libmpi libboinc libcpp-httplib)
    if(last_output MATCHES "NEEDED[^\n]*${library}")
      message(FATAL_ERROR "lean: libmw.so needs ${library}:\n${last_output}")
    endif()
  endforeach()
  # The examples name the interfaces this build has.
  execute_process(COMMAND ${lean}/examples/monte_pi --interface mpi --tasks 2
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 64 OR NOT err MATCHES "'mpi' is not in this build of mwkit; this program[ \n]+takes multicore, simulator")
    message(FATAL_ERROR "lean: monte_pi --interface mpi should be refused (${rc}):\n${out}\n${err}")
  endif()
  # Without the status server, asking for it is a clear error, not silence.
  execute_process(COMMAND ${lean}/examples/monte_pi --tasks 2 --status-listen 127.0.0.1:0
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT err MATCHES "MW_WITH_STATUS_SERVER=OFF")
    message(FATAL_ERROR "lean: monte_pi --status-listen should be refused naming MW_WITH_STATUS_SERVER (${rc}):\n${out}\n${err}")
  endif()
  # A master that asks for a part this installation lacks is told so at configure time.
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/needs_boinc -B ${WORK_DIR}/needs-boinc
                          -DCMAKE_PREFIX_PATH=${prefix}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT "${out}${err}" MATCHES "boinc")
    message(FATAL_ERROR "lean: find_package(mwkit COMPONENTS boinc) should fail naming boinc (${rc}):\n${out}\n${err}")
  endif()
  set(libdir lib)
else()
  message(FATAL_ERROR "MODE must be install, deb or lean, not '${MODE}'")
endif()

if(NOT MODE STREQUAL "lean")
  # The BOINC component is there in full installations.
  run("find_package(mwkit COMPONENTS boinc)" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/needs_boinc
      -B ${WORK_DIR}/needs-boinc -DCMAKE_PREFIX_PATH=${prefix})
endif()

# Runs a built master on multicore and, where installed, on MPI (PATH without
# the build tree: the MPI rank program must come from the prefix).
function(expect_correct how program)
  foreach(interface multicore mpi)
    if(interface STREQUAL "mpi" AND NOT with_mpi)
      continue()
    endif()
    set(arg "")
    if(interface STREQUAL "mpi")
      set(arg mpi)
    endif()
    run("the ${how} master on ${interface}" ${CMAKE_COMMAND} -E env PATH=/usr/bin:/bin --unset=MW_MPI_WORKER
        ${program} ${arg})
    if(NOT last_output MATCHES "\\(correct\\) on ${interface}")
      message(FATAL_ERROR "the ${how} master on ${interface}, unexpected output: ${last_output}")
    endif()
  endforeach()
endfunction()

# find_package(mwkit)
run("configuring the user's master" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/user_master
    -B ${WORK_DIR}/cmake-build -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run("building the user's master" ${CMAKE_COMMAND} --build ${WORK_DIR}/cmake-build)
expect_correct(find_package ${WORK_DIR}/cmake-build/user_master)

# pkg-config
set(pc_modules mwkit)
if(with_mpi)
  list(APPEND pc_modules mwkit-mpi)
endif()
run("pkg-config" ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${prefix}/${libdir}/pkgconfig
    pkg-config --cflags --libs ${pc_modules})
string(STRIP "${last_output}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run("compiling with pkg-config's flags" c++ -std=c++17 -O1 ${SOURCE_DIR}/tests/install/user_master/user_master.cpp
    ${flags} -Wl,-rpath,${prefix}/${libdir} -o ${WORK_DIR}/pkg-config-master)
expect_correct(pkg-config ${WORK_DIR}/pkg-config-master)
message(STATUS "mwkit (${MODE}): find_package and pkg-config masters built and correct")
