#!/usr/bin/env bash
# The seed's benchmark 3 at its own model size: a ViT of google/vit-base-patch16-224's exact shape
# (86 M parameters, 224×224, patch 16, 12 layers of width 768; random values: speed and size
# figures only — no pretrained weights reach these machines), through `t81 bench vit` at batch 32
# on 2 threads, float vs packed ternary, with PyTorch's float forward of the same shape timed in
# the same command. Grey Fashion-MNIST images are resized to 224 and repeated to 3 channels, as the
# HF image processor does; the 1000-label head is replaced by a 10-label one. Peak RSS printed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
T81=${T81_BUILD_DIR:-build}/src/t81
M=benchmarks/models
mkdir -p "$M"
[ -f "$M/vit-b16/model.safetensors" ] || "$T81" init "$M/vit-b16" --arch vit --image-size 224 --patch 16 \
  --channels 3 --labels 1000 --n-embd 768 --n-layer 12 --n-head 12 --n-ff 3072 --seed 0
/usr/bin/time -f "[bench vit] peak RSS %M KB, %e s" "$T81" bench vit --model-id "$M/vit-b16" --device cpu \
  --threshold 0.45 --batch-size 32 --max-eval-samples 512 --eval-batches 3 --threads 2 \
  --torch-script bench/vit_torch.py --json-output benchmarks/vit_b16_speed.json
