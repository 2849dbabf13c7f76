#!/usr/bin/env bash
# Installs what t81 needs from Debian packages (only what is missing) and builds it into build/.
# Idempotent; run as root on Debian 12 (uses sudo when not root and sudo exists).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(g++ cmake ninja-build pkg-config zlib1g-dev nlohmann-json3-dev libcli11-dev libopenblas-dev libopenblas0-openmp
      libgtest-dev libgmock-dev libbenchmark-dev libpcre2-dev dataset-fashion-mnist)
PKGS+=(clang libclang-rt-dev libomp-dev)  # scripts/fuzz.sh: clang, libFuzzer + sanitizer runtimes, clang's OpenMP
PKGS+=(python3 chromium)  # t81 report's tests: the SVG parsed as XML, the page rendered headless
PKGS+=(python3-dev pybind11-dev python3-numpy python3-torch)  # t81lib: the numpy module (built for /usr/bin/python3), t81lib.torch, their tests
PKGS+=(python3-pil)  # data_test: the bilinear resize against PIL's, bit for bit; bench/vit_torch.py: torch above
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO=sudo
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD_DIR=${T81_BUILD_DIR:-build}
# Configure every time (cheap): it picks up the llama.cpp peer once scripts/peer/install.sh ran.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
