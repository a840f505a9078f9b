#!/usr/bin/env bash
# Builds mwkit (Release) and runs the Monte Carlo pi example on the default
# multicore interface. Extra arguments go to the example (e.g. --tasks 64).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
build=${MW_DEMO_BUILD_DIR:-build/release}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMW_TESTS=OFF -DMW_BENCH=OFF >/dev/null
cmake --build "$build" --target monte_pi -j"$(nproc)"
echo
"$build/examples/monte_pi" "$@"
