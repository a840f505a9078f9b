#!/usr/bin/env bash
# Builds mwkit (Release, into build/release: the programs, examples and
# benchmarks the README uses) and runs the Monte Carlo pi example on the
# default multicore interface. Extra arguments go to the example (e.g. --tasks 64).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${MW_DEMO_BUILD_DIR:-build/release}
echo "demo: 1. install the Debian packages mwkit needs (scripts/install-deps.sh)"
echo "demo: 2. build mwkit in $build (Release; no tests)"
echo "demo: 3. run $build/examples/monte_pi $*"
bash scripts/install-deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMW_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)"
echo
"$build/examples/monte_pi" "$@"
