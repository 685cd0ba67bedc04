#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UBSan) in
# build-fuzz/ and runs each for a bounded time. Exit non-zero on any crash,
# leak or sanitizer report; the crashing input is left in build-fuzz/crashes/.
#   tests/fuzz/run.sh [SECONDS_PER_TARGET]      (default 20)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${CASELEDGER_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${1:-20}
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCASELEDGER_FUZZ=ON -DCASELEDGER_SANITIZE=address,undefined \
  -DCASELEDGER_BUILD_TESTS=OFF -DCASELEDGER_BUILD_BENCHMARKS=OFF >/dev/null
targets=(event_decode_fuzzer merkle_verify_fuzzer event_validate_fuzzer)
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >/dev/null
mkdir -p "$build/crashes"
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  log="$build/$t.log"
  if ! UBSAN_OPTIONS=halt_on_error=1 "$build/tests/fuzz/$t" "$corpus" -max_total_time="$seconds" \
       -max_len=4096 -artifact_prefix="$build/crashes/$t-" >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz: $t FAILED (input in $build/crashes/)"
    exit 1
  fi
  runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || echo "?")
  echo "fuzz: $t ok, $runs executions in ${seconds}s"
done
