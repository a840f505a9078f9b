# Cross build of the volunteer side (mw-wrapper, lean workers) for
# aarch64-unknown-linux-gnu, BOINC's platform for 64-bit ARM Linux boards
# (docs/wrapper.md, "aarch64"). Debian's cross compiler (g++-aarch64-linux-gnu)
# compiles; the libraries and headers come from an arm64 root made by
# scripts/arm64-sysroot.sh, so the wrapper links the very files the app
# version ships. Only what runs on volunteers is built (MW_VOLUNTEER_ONLY).
#
#   scripts/arm64-sysroot.sh build/arm64-sysroot
#   cmake -S . -B build/aarch64 -G Ninja --toolchain cmake/aarch64-linux-gnu.cmake \
#         -DMW_ARM64_SYSROOT=$PWD/build/arm64-sysroot
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# try_compile re-reads this file in a fresh project: pass the root on.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES MW_ARM64_SYSROOT)
if(NOT MW_ARM64_SYSROOT OR NOT EXISTS "${MW_ARM64_SYSROOT}/usr/include/aarch64-linux-gnu")
  message(FATAL_ERROR "MW_ARM64_SYSROOT='${MW_ARM64_SYSROOT}' is not an arm64 root: make one with "
                      "scripts/arm64-sysroot.sh DIR and give -DMW_ARM64_SYSROOT=DIR (absolute)")
endif()
set(CMAKE_SYSROOT "${MW_ARM64_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH "${MW_ARM64_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg-config (libzip, libmariadb) reads the root's .pc files, never the build machine's.
set(ENV{PKG_CONFIG_DIR} "")
set(ENV{PKG_CONFIG_LIBDIR} "${MW_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${MW_ARM64_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${MW_ARM64_SYSROOT}")
# Programs built here run on this machine under qemu-user with the root's loader.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static -L "${MW_ARM64_SYSROOT}")
set(MW_VOLUNTEER_ONLY ON CACHE BOOL "Build only what runs on volunteer hosts" FORCE)
