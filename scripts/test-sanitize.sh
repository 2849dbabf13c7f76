#!/usr/bin/env bash
# The sanitizer CI run: the unit tests under ASan + UBSan (gcc, build-asan; leaks and any UB fail a
# test), without the llama.cpp peer and memory-bound tests (labels peer, memory), then every fuzz
# harness for FUZZ_SECONDS (default 30) through scripts/fuzz.sh. docs/fuzzing.md.
# Usage: scripts/test-sanitize.sh [CTEST ARGS...]   (T81_ASAN_BUILD_DIR overrides build-asan,
# FUZZ_SECONDS the fuzzing time per harness)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${T81_ASAN_BUILD_DIR:-build-asan}

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DT81_SANITIZE=ON -DT81_BUILD_BENCH=OFF >/dev/null
nice -n 10 cmake --build "$BUILD" -j "$(nproc)"
(
  cd "$BUILD"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --output-on-failure -LE 'peer|memory' -j2 "$@"
)
scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
