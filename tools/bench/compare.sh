#!/usr/bin/env bash
# compare.sh — issue 8's targets, each measured side by side in one run:
# caseledgerd (fresh data directory, TLS on, loopback) through caseledger-bench
# against PostgreSQL 15 through postgres_peer.sh, and the raw RocksDB batch
# rate, and the ceiling of a call that touches no storage (ping). Prints every
# JSON line and the ratios. Needs a Release build in build/ (tools/setup) and
# about 3 minutes. tools/bench/large_ledger.sh measures the large-ledger
# targets (export, start, rebuild, memory).
#   tools/bench/compare.sh [SECONDS_PER_RUN] [ROUNDS]     (defaults 10 and 1)
# The machine is shared and its speed drifts by ±30% within minutes, for
# PostgreSQL as much as for caseledger. With ROUNDS > 1 the whole set runs
# that many times, each pair still side by side, and the last lines give the
# median of each ratio over the rounds (and its range), which moves much less
# than one round's.
set -euo pipefail
secs=${1:-10}
rounds=${2:-1}
# shellcheck source=tools/bench/bench_server.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_server.sh" compare
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }

one_round() {
  # A round runs in a pipeline's subshell, which does not run the script's
  # EXIT trap: it stops its own server when it ends, also on an error.
  trap stop_server EXIT
  echo "== 32 clients, 1 event per append"
  start_server
  c32=$(b --clients 32 --events-per-append 1 --streams 10000); echo "$c32"
  p32=$("$root/tools/bench/postgres_peer.sh" append 32 "$secs" 500 10000 | tail -1); echo "$p32"
  echo "== 1 client, sequential appends"
  start_server
  c1=$(b --clients 1 --events-per-append 1 --streams 1000); echo "$c1"
  p1=$("$root/tools/bench/postgres_peer.sh" append 1 "$secs" 500 1000 | tail -1); echo "$p1"
  echo "== 100 events per append (8 clients) and the raw RocksDB WriteBatch(100)"
  start_server
  c100=$(b --clients 8 --events-per-append 100 --streams 800); echo "$c100"
  raw=$("$bench" --mode raw-rocksdb --events-per-append 100 --event-size 500 --duration "$secs" --dir "$work/raw-$r" | tail -1); echo "$raw"; rm -rf "$work/raw-$r"
  echo "== reading a 100-event history (8 clients)"
  start_server
  cr=$(b --mode read --clients 8 --streams 100); echo "$cr"
  pr=$("$root/tools/bench/postgres_peer.sh" read 8 "$secs" 500 100 | tail -1); echo "$pr"

  echo "== the ceiling: grpc.health.v1 Check over TLS, no storage (32 clients, then 1)"
  start_server
  ping32=$(b --mode ping --clients 32); echo "$ping32"
  ping1=$(b --mode ping --clients 1); echo "$ping1"

  echo "== ratios (target in brackets)"
  echo "appends/s 32 clients vs PostgreSQL:   $(ratio "$(field "$c32" events_per_s)" "$(field "$p32" events_per_s)")  [>= 4]"
  echo "p99 PostgreSQL / caseledger, 32:      $(ratio "$(field "$p32" p99_ms)" "$(field "$c32" p99_ms)")  [>= 3]"
  echo "appends/s 1 client vs PostgreSQL:     $(ratio "$(field "$c1" events_per_s)" "$(field "$p1" events_per_s)")  [>= 1.3]"
  echo "100/append vs raw WriteBatch(100):    $(ratio "$(field "$c100" events_per_s)" "$(field "$raw" events_per_s)")  [>= 0.70]"
  echo "history reads/s vs PostgreSQL:        $(ratio "$(field "$cr" reads_per_s)" "$(field "$pr" tx_per_s)")  [>= 3]"
  echo "projection lag p99 under 32 clients:  $(field "$c32" lag_p99_ms) ms  [<= 100]"
  echo "== CPU per call over the measured seconds, in µs"
  for w in "32 clients:$c32" "1 client:$c1" "100 per append:$c100" "history read:$cr" "ping, 32 clients:$ping32"; do
    echo "server CPU, ${w%%:*}: $(field "${w#*:}" server_cpu_us_per_call)  (bench $(field "${w#*:}" bench_cpu_us_per_call))"
  done
}

ratios=$work/ratios
for r in $(seq "$rounds"); do
  [[ $rounds -gt 1 ]] && echo "######## round $r of $rounds"
  one_round | tee "$work/round"
  # One line per figure: "<label>|<value>|<op>|<bound>", the target as the
  # ratio lines above print it (op and bound empty for the CPU figures).
  grep -E '^(appends/s|p99|100/append|history|projection lag|server CPU)' "$work/round" |
    sed -E 's/^([^:]+):[[:space:]]+([0-9.]+|n\/a)[^[]*(\[([<>]=) ([0-9.]+)\])?.*/\1|\2|\4|\5/' >>"$ratios"
done
if [[ $rounds -gt 1 ]]; then
  echo "== medians over $rounds rounds (min-max), each target judged on its median"
  python3 - "$ratios" <<'PY'
import statistics, sys
values = {}
targets = {}  # label -> (op, bound), from the ratio lines
order = []
for line in open(sys.argv[1]):
    label, value, op, bound = line.rstrip("\n").split("|")
    if label not in values:
        values[label] = []
        order.append(label)
    if value != "n/a":
        values[label].append(float(value))
    if op:
        targets[label] = (op, bound)
for label in order:
    v = values[label]
    if v:
        median = statistics.median(v)
        line = f"{label + ':':38s}{median:.2f}  ({min(v):.2f}-{max(v):.2f})"
        if label in targets:
            op, bound = targets[label]
            met = median >= float(bound) if op == ">=" else median <= float(bound)
            line = f"{line:60s}[{op} {bound}] {'met' if met else 'not met'}"
        print(line)
PY
fi
