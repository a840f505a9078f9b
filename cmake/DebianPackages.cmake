# Debian packages from this tree: `cpack -G DEB` in the build directory
# (docs/install.md, "Debian packages"). One package per install component:
#   libmwkit0          runtime: libmw.so.0, the parts' libmw_*.so.0, mw-mpi-worker
#   libmwkit-dev       headers, static libraries, CMake package, pkg-config files
#   mwkit-tools        mw-task, mw-sign, mw-run-task
#   mwkit-boinc-server mw-project-setup, the daemons, the work generator, mw-wrapper,
#                      templates and the operator's documents
# Shared-library dependencies come from dpkg-shlibdeps; the rest is stated here.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mwkit)
set(CPACK_PACKAGE_VENDOR "mwkit developers")
set(CPACK_PACKAGE_CONTACT "mwkit developers <mwkit@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY "=")
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

set(mw_deb_version "${PROJECT_VERSION}")
set(CPACK_COMPONENTS_ALL runtime dev tools)
if(MW_WITH_BOINC AND MW_WITH_BOINC_REMOTE)
  list(APPEND CPACK_COMPONENTS_ALL boinc_server)
endif()

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libmwkit${PROJECT_VERSION_MAJOR})
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
  "mwkit master library (runtime)\n One master-worker program on a laptop's cores, an MPI cluster, an\n HTCondor pool or a BOINC project. The shared libraries and the MPI rank program.")
# mpirun starts the MPI interface's ranks.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_RECOMMENDS "openmpi-bin")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libmwkit-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "mwkit master library (development files)\n Headers, static libraries, the CMake package (find_package(mwkit)) and\n pkg-config files (mwkit, mwkit-PART) for building master programs.")
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
# What find_package(mwkit) and the static libraries need on the user's machine.
set(mw_dev_depends "libcereal-dev, libssl-dev, libtinyxml2-dev, libsqlite3-dev, zlib1g-dev, libzip-dev, pkg-config")
if(MW_WITH_BOINC)
  string(APPEND mw_dev_depends ", libmariadb-dev")
endif()
if(MW_WITH_BOINC_REMOTE)
  string(APPEND mw_dev_depends ", libcurl4-openssl-dev | libcurl-dev")
endif()
if(MW_WITH_STATUS_SERVER)  # mwkitConfig.cmake and mwkit.pc name cpp-httplib for the static library
  string(APPEND mw_dev_depends ", libcpp-httplib-dev")
endif()
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${mw_dev_depends}")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME mwkit-tools)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
  "mwkit command-line tools\n mw-task (make and inspect task bundles), mw-sign (keys and signatures)\n and mw-run-task (run one task bundle).")

set(CPACK_DEBIAN_BOINC_SERVER_PACKAGE_NAME mwkit-boinc-server)
set(CPACK_COMPONENT_BOINC_SERVER_DESCRIPTION
  "mwkit for a BOINC project server\n mw-project-setup installs mwkit into an existing BOINC project; with it come\n mw-validator, mw-assimilator, mw-work-generator, mw-status, the volunteer app\n mw-wrapper, the templates and the operator's guide.")
set(CPACK_COMPONENT_BOINC_SERVER_DEPENDS tools)

include(CPack)
