#!/usr/bin/env bash
# Builds mwkit (Release, into build/: the programs, examples and benchmarks
# the README uses) and runs the Monte Carlo pi example on the default
# multicore interface. Extra arguments go to the example (e.g. --tasks 64).
# scripts/test.sh builds in the same directory with the same compiler flags,
# so whichever runs second builds only what the first left out.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${MW_BUILD_DIR:-build}
echo "demo: 1. install the Debian packages mwkit needs (scripts/install-deps.sh)"
echo "demo: 2. build mwkit in $build (Release; the tests are left to scripts/test.sh)"
echo "demo: 3. run $build/examples/monte_pi $*"
bash scripts/install-deps.sh
# The same compiler flags as scripts/test.sh (warnings are errors: this is
# the Debian 12 toolchain mwkit is built and tested with), so running one
# after the other compiles nothing twice.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMW_WERROR=ON -DMW_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)"
echo
"$build/examples/monte_pi" "$@"
