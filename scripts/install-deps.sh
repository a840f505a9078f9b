#!/usr/bin/env bash
# Installs every Debian 12 package that mwkit's build, tests and benchmarks need.
# Idempotent: packages already present are skipped by apt; re-running is cheap.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev          # libFuzzer targets and sanitizer runtimes
  # libraries master_lib and the programs link
  libssl-dev                        # SHA-256, Ed25519 task signing, BOINC RSA code signing
  openssl                           # the tests check our keys against the openssl program
  ca-certificates                   # libcurl's default CA bundle: mw::boinc::Remote over HTTPS
  libzip-dev                        # task and result bundles
  libtinyxml2-dev                   # task.xml, result.xml, BOINC config and templates
  libcli11-dev                      # command-line parsing for every program
  libcereal-dev                     # portable binary encoding of typed task arguments
  nlohmann-json3-dev                # JSON lines printed by the benchmarks; a master's /status.json
  libsqlite3-dev                    # the master's journal
  libmariadb-dev                    # BOINC project database (libmysqlclient API)
  libcurl4-openssl-dev              # BOINC remote job submission over HTTPS
  libboost-filesystem-dev
  openmpi-bin libopenmpi-dev        # the MPI interface
  libboinc-app-dev                  # BOINC client API (wrapper) and server backend (test oracle)
  libcpp-httplib-dev                # the masters' live status page (docs/status.md)
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  mariadb-server-core mariadb-client-core   # private test databases (never the system service)
  zip unzip parallel                # reference floors in the benchmarks
  file                              # cpack -G DEB finds the ELF files to run dpkg-shlibdeps on
  # the aarch64 volunteer build (docs/wrapper.md, "aarch64") and its test under qemu-user
  g++-aarch64-linux-gnu debootstrap qemu-user-static
  prometheus                        # promtool checks the status server's /metrics text
  chromium                          # headless: the status page rendered as a browser does
  python3                           # tests/docs: runs the code blocks of README.md and docs/
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: run as root (there is no sudo here) to install: ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi
# apt's output is kept in a log and shown only when it fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "install-deps: installing ${#missing[@]} Debian packages: ${missing[*]}"
if ! { "${sudo[@]}" apt-get update -q &&
       DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
       >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: apt-get failed (its output is above)" >&2
  exit 1
fi
echo "install-deps: done"
