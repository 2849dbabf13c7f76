#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, clang, ASan + UBSan + libFuzzer) into build-fuzz and runs
# each for SECONDS (default 60), one at a time, from its seed corpus (fuzz/corpus/<name>) and
# dictionary. New inputs go to build-fuzz/fuzz-work/<name>/corpus (the repository's seeds are
# never written), findings and logs beside it. Prints the executions per harness; exits 0 only
# when no harness found anything. docs/fuzzing.md.
# Usage: scripts/fuzz.sh [SECONDS] [HARNESS...]   (T81_FUZZ_BUILD_DIR overrides build-fuzz;
# T81_FUZZ_TESTS=ON also builds the unit tests in that folder, as scripts/test-sanitize.sh does)
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-60}
shift || true
ALL=(gguf safetensors config idx cifar image_processor tokenizer_json tokenizer_bpe)
NAMES=("${ALL[@]}")
if (($#)); then NAMES=("$@"); fi
BUILD=${T81_FUZZ_BUILD_DIR:-build-fuzz}

dict_of() { case $1 in tokenizer_*) echo tokenizer ;; *) echo "$1" ;; esac; }
max_len_of() { case $1 in gguf) echo 16384 ;; cifar) echo 16384 ;; safetensors | tokenizer_json) echo 8192 ;; *) echo 4096 ;; esac; }

targets=()
for n in "${NAMES[@]}"; do
  [ -f "fuzz/${n}_fuzz.cc" ] || { echo "fuzz.sh: no harness '$n' (${ALL[*]})" >&2; exit 2; }
  targets+=("${n}_fuzz")
done
# -O1 with line tables: a third of RelWithDebInfo's build time, stack traces still name lines.
CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" \
  -DT81_FUZZ=ON -DT81_BUILD_TESTS="${T81_FUZZ_TESTS:-OFF}" -DT81_BUILD_BENCH=OFF >/dev/null
nice -n 10 cmake --build "$BUILD" -j "$(nproc)" --target "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
BUILD_ABS=$(cd "$BUILD" && pwd)
failed=0
summary=$(printf '%-16s %8s %12s  %s' harness seconds executions result)
for n in "${NAMES[@]}"; do
  work="$BUILD_ABS/fuzz-work/$n"
  rm -rf "$work/tmp"  # the harness's scratch folder (TMPDIR): removed even after a crash
  mkdir -p "$work/corpus" "$work/findings" "$work/tmp"
  log="$work/last.log"
  echo "fuzz.sh: $n for ${SECS}s (log: $log)"
  start=$(date +%s)
  rc=0
  TMPDIR="$work/tmp" nice -n 10 "$BUILD/fuzz/${n}_fuzz" "$work/corpus" "fuzz/corpus/$n" -dict="fuzz/dict/$(dict_of "$n").dict" \
    -max_total_time="$SECS" -max_len="$(max_len_of "$n")" -rss_limit_mb=2048 -timeout=30 \
    -print_final_stats=1 -artifact_prefix="$work/findings/" >"$log" 2>&1 || rc=$?
  secs=$(($(date +%s) - start))
  rm -rf "$work/tmp"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    result="ok"
  else
    result="FOUND (exit $rc): $(ls -t "$work/findings" | head -1)"
    failed=1
    grep -E "ERROR|SUMMARY|runtime error|#[0-9]+ 0x" "$log" | head -20 >&2 || true
  fi
  summary+=$'\n'$(printf '%-16s %8s %12s  %s' "$n" "$secs" "${execs:-?}" "$result")
done
echo "$summary"
exit "$failed"
