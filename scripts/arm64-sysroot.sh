#!/usr/bin/env bash
# Makes an arm64 Debian 12 root in DIR holding the headers and libraries the
# aarch64 volunteer build links (cmake/aarch64-linux-gnu.cmake) and that
# mw-project-setup ships with its app version (docs/wrapper.md, "aarch64").
#
#   scripts/arm64-sysroot.sh DIR [MIRROR]
#
# debootstrap's first stage (--foreign) only downloads, verifies and unpacks
# Debian's packages: no arm64 code runs, so neither qemu nor
# `dpkg --add-architecture` is needed. It unpacks only the essential set;
# the library packages it downloaded are unpacked here with dpkg-deb and tar. A finished
# root is kept (DIR/.mw-sysroot lists what it holds): a second run with the
# same package list does nothing. Needs root (debootstrap) and the network.
set -euo pipefail

dir=${1:?usage: scripts/arm64-sysroot.sh DIR [MIRROR]}
mirror=${2:-http://deb.debian.org/debian}
packages=(
  libc6-dev libstdc++-12-dev  # glibc and the C++ runtime the programs are linked against
  libboinc-app-dev            # the BOINC API (libboinc_api.so.7, libboinc.so.7)
  libzip-dev libssl-dev zlib1g-dev libbz2-dev
  libsqlite3-dev libtinyxml2-dev libcli11-dev libcereal-dev  # the core library's headers
)
stamp="bookworm arm64 ${packages[*]}"

if [ -f "$dir/.mw-sysroot" ] && [ "$(cat "$dir/.mw-sysroot")" = "$stamp" ]; then
  echo "arm64-sysroot: $dir is ready (cached)"
  exit 0
fi
for tool in debootstrap dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "arm64-sysroot: $tool is missing (bash scripts/install-deps.sh)" >&2; exit 1; }
done
if [ "$(id -u)" -ne 0 ]; then
  echo "arm64-sysroot: debootstrap needs root" >&2
  exit 1
fi

start=$(date +%s)
tmp="$dir.partial"
rm -rf "$tmp"
mkdir -p "$(dirname "$dir")"
include=$(IFS=,; echo "${packages[*]}")
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! debootstrap --foreign --arch=arm64 --variant=minbase --include="$include" \
       bookworm "$tmp" "$mirror" >"$log" 2>&1; then
  cat "$log" >&2
  echo "arm64-sysroot: debootstrap failed (its output is above); mirror $mirror" >&2
  exit 1
fi
# Only libraries and headers are needed (the -dev packages also pull in an
# arm64 compiler, perl, …, which nothing here runs). tar keeps the root's
# merged-/usr links (lib -> usr/lib); dpkg-deb -x would replace them.
for deb in "$tmp"/var/cache/apt/archives/*.deb; do
  case $(basename "$deb") in
    lib*|zlib1g*|linux-libc-dev*) dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --keep-directory-symlink ;;
  esac
done
# Absolute links (libfoo.so -> /lib/...) would point into this machine's own
# root when the linker follows them: make them relative to the root.
find "$tmp" -type l -lname '/*' -print0 | while IFS= read -r -d '' link; do
  target=$(readlink "$link")
  ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$tmp$target")" "$link"
done
rm -rf "$tmp"/var/cache/apt/archives/*.deb
echo "$stamp" >"$tmp/.mw-sysroot"
rm -rf "$dir"
mv "$tmp" "$dir"
echo "arm64-sysroot: $dir ready in $(( $(date +%s) - start )) s ($(du -sh "$dir" | cut -f1))"
