#!/usr/bin/env bash
# The sanitizer CI run, from ONE clang build (build-san: ASan + UBSan with UB fatal, libFuzzer's
# coverage instrumentation, -O1): the unit tests (leaks and any UB fail a test), without the
# llama.cpp peer and memory-bound tests (labels peer, memory), then every fuzz harness for
# FUZZ_SECONDS (default 30) through scripts/fuzz.sh. docs/fuzzing.md.
# Usage: scripts/test-sanitize.sh [CTEST ARGS...]   (T81_SAN_BUILD_DIR overrides build-san,
# FUZZ_SECONDS the fuzzing time per harness)
set -euo pipefail
cd "$(dirname "$0")/.."
export T81_FUZZ_BUILD_DIR=${T81_SAN_BUILD_DIR:-build-san} T81_FUZZ_TESTS=ON

# The same configuration as scripts/fuzz.sh (which then finds everything built).
CXX=clang++ cmake -S . -B "$T81_FUZZ_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" \
  -DT81_FUZZ=ON -DT81_BUILD_TESTS=ON -DT81_BUILD_BENCH=OFF >/dev/null
nice -n 10 cmake --build "$T81_FUZZ_BUILD_DIR" -j "$(nproc)"
(
  cd "$T81_FUZZ_BUILD_DIR"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --output-on-failure -LE 'peer|memory' -j2 "$@"
)
scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
