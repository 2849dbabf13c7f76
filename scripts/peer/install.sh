#!/usr/bin/env bash
# Installs the llama.cpp peer used by the `peer` tests and `t81 bench gguf`: npm
# node-llama-cpp@3.21.1 (prebuilt llama.cpp libraries; pinned exactly) into third_party/npm, and
# the llama.cpp source bundled inside that package (for the headers matching those libraries).
# Idempotent. Needs node/npm (Debian: nodejs npm) and git.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=third_party/npm
PKG=node-llama-cpp
VER=3.21.1
BINS=$DIR/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
if ! command -v npm >/dev/null || ! command -v git >/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm git >/dev/null
fi
mkdir -p "$DIR"
if [ ! -f "$BINS/libllama.v0.4.0.so" ] || ! grep -q "\"version\": \"$VER\"" "$DIR/node_modules/$PKG/package.json" 2>/dev/null; then
  echo "peer: installing $PKG@$VER (prebuilt llama.cpp) into $DIR"
  [ -f "$DIR/package.json" ] || (cd "$DIR" && npm init -y >/dev/null)
  (cd "$DIR" && npm install --save-exact --no-audit --no-fund --ignore-scripts "$PKG@$VER" >/dev/null)
fi
if [ ! -f "$DIR/llama.cpp/include/llama.h" ]; then
  rm -rf "$DIR/llama.cpp"
  git clone -q "$DIR/node_modules/$PKG/llama/gitRelease.bundle" "$DIR/llama.cpp" 2>/dev/null
fi
test -f "$BINS/libllama.v0.4.0.so" && test -f "$DIR/llama.cpp/include/llama.h"
echo "peer: ready ($BINS)"
