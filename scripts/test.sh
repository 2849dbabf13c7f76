#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every test with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
# The llama.cpp peer (npm node-llama-cpp, pinned) for the tests labelled "peer".
# T81_SKIP_PEER=1 runs everything else (for machines without the npm registry).
if [ "${T81_SKIP_PEER:-0}" != 1 ]; then
  scripts/peer/install.sh
fi
# The tokenizer references (npm, pinned) for tests/text: always.
scripts/text/install.sh
scripts/setup.sh
BUILD_DIR=${T81_BUILD_DIR:-build}
cd "$BUILD_DIR"
if [ "${T81_SKIP_PEER:-0}" = 1 ]; then
  ctest --output-on-failure -j "$(nproc)" -LE peer "$@"
else
  ctest --output-on-failure -j "$(nproc)" "$@"
fi
