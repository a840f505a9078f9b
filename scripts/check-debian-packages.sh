#!/usr/bin/env bash
# Installs mwkit's Debian packages into this machine for real, the way an
# admin would (dpkg -i, then apt-get -f install), builds and runs the user's
# master of tests/install/user_master against /usr with find_package and with
# pkg-config (multicore and MPI), then purges the packages and checks that
# nothing of them is left.
#
#   bash scripts/check-debian-packages.sh [BUILD_DIR]     (as root; default build)
#
# It changes the system, so ctest does not run it; the ctest
# InstalledMwkit.FindPackageAndPkgConfigMastersRun_deb checks the same
# packages without installing them (apt simulates, dpkg-deb unpacks into a
# scratch root).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

if [ "$(id -u)" -ne 0 ]; then
  echo "check-debian-packages: run as root (it installs and removes packages)" >&2
  exit 1
fi
if dpkg-query -W libmwkit0 >/dev/null 2>&1; then
  echo "check-debian-packages: libmwkit0 is already installed; remove it first" >&2
  exit 1
fi

work=$(mktemp -d)
packages=(libmwkit0 libmwkit-dev mwkit-tools mwkit-boinc-server)
cleanup() {
  dpkg --purge "${packages[@]}" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "check-debian-packages: 1. cpack -G DEB in $build"
(cd "$build" && cpack -G DEB -B "$work/debs" >/dev/null)
echo "check-debian-packages: 2. dpkg -i, then apt-get -f install"
dpkg -i "$work"/debs/*.deb
DEBIAN_FRONTEND=noninteractive apt-get -f install -y -q
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" | grep -q "install ok installed" ||
    { echo "check-debian-packages: $p is not installed" >&2; exit 1; }
done

echo "check-debian-packages: 3. the user's master against /usr"
cmake -S tests/install/user_master -B "$work/user_master" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/user_master" >/dev/null
"$work/user_master/user_master" | grep -q "(correct) on multicore"
env -u MW_MPI_WORKER "$work/user_master/user_master" mpi | grep -q "(correct) on mpi"
# shellcheck disable=SC2046  # pkg-config's flags are words
c++ -std=c++17 -O1 tests/install/user_master/user_master.cpp $(pkg-config --cflags --libs mwkit mwkit-mpi) \
    -o "$work/pkg-config-master"
"$work/pkg-config-master" | grep -q "(correct) on multicore"
mw-task --help >/dev/null
mw-project-setup --help >/dev/null

echo "check-debian-packages: 4. purge"
files=$(dpkg -L "${packages[@]}" | sort -u)
dpkg --purge "${packages[@]}"
left=""
while read -r f; do
  # directories such as /usr/lib stay; files of ours must not
  if [ -n "$f" ] && [ -e "$f" ] && [ ! -d "$f" ]; then left+="$f "; fi
done <<<"$files"
if [ -n "$left" ]; then
  echo "check-debian-packages: left behind after purge: $left" >&2
  exit 1
fi
if dpkg -l | grep -qE "^.. +(libmwkit|mwkit-)"; then
  echo "check-debian-packages: dpkg still lists a package" >&2
  exit 1
fi
echo "check-debian-packages: installed, used and purged cleanly"
