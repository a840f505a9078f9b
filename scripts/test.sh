#!/usr/bin/env bash
# Installs what is needed, builds everything with warnings as errors, runs
# every test through ctest, then runs each libFuzzer target for a while.
# Exits non-zero on any failure.
#
#   MW_FUZZ_SECONDS=N   seconds per fuzz target (default 60; 0 skips fuzzing)
#   MW_SANITIZE=1       build the tests with ASan+UBSan
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

# build/ is the README's one build directory (scripts/demo.sh builds there
# too, Release); a sanitizer build has other flags and a directory of its own.
build=${MW_BUILD_DIR:-build}
sanitize=OFF
if [ "${MW_SANITIZE:-0}" = 1 ]; then
  sanitize=ON
  build=${MW_BUILD_DIR:-build/sanitize}
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMW_WERROR=ON \
      -DMW_TESTS=ON -DMW_BENCH=ON -DMW_SANITIZE="$sanitize"
cmake --build "$build" -j"$(nproc)"
# The aarch64 volunteer side, which the aarch64 host test runs under qemu-user
# (docs/wrapper.md, "aarch64"): an arm64 root (kept in the build directory),
# the cross build beside it, and qemu registered for aarch64 programs.
if [ "$sanitize" = OFF ]; then
  sysroot=$(realpath -m "$build/arm64-sysroot")
  bash scripts/arm64-sysroot.sh "$sysroot"
  cmake -S . -B "$build/aarch64" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMW_WERROR=ON \
        --toolchain "$PWD/cmake/aarch64-linux-gnu.cmake" -DMW_ARM64_SYSROOT="$sysroot"
  cmake --build "$build/aarch64" -j"$(nproc)"
  bash scripts/qemu-binfmt.sh
fi
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 600

fuzz_seconds=${MW_FUZZ_SECONDS:-60}
if [ "$fuzz_seconds" -gt 0 ]; then
  fuzz_build=${MW_FUZZ_BUILD_DIR:-build/fuzz}
  cmake -S . -B "$fuzz_build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
        -DMW_FUZZ=ON -DMW_TESTS=OFF -DMW_BENCH=OFF >/dev/null
  cmake --build "$fuzz_build" --target fuzzers -j"$(nproc)"
  for target in "$fuzz_build"/tests/fuzz/fuzz_*; do
    [ -x "$target" ] || continue
    name=$(basename "$target")
    corpus=$(mktemp -d)
    cp tests/fuzz/corpus/"${name#fuzz_}"/* "$corpus"/ 2>/dev/null || true
    echo "fuzzing $name for ${fuzz_seconds}s"
    "$target" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
              -print_final_stats=1 "$corpus" 2>&1 | tail -n 3
    rm -rf "$corpus"
  done
fi
echo "scripts/test.sh: all tests passed"
