#!/usr/bin/env bash
# scaling.sh — how caseledgerd's rates, latencies and CPU per call change with
# the number of clients and the size of an event (the README's scaling
# table). Every row is one caseledger-bench pass on a fresh caseledgerd (TLS
# on, loopback, empty data directory):
#   appends of one 500-byte event, 1 / 8 / 32 / 64 clients (10,000 clients' cases)
#   appends of one event, 8 clients, events of 100 / 2,000 / 8,000 bytes
#   appends of 100 events of 500 bytes, 4 / 8 / 16 / 32 clients
#   reads of a 100-event history, 1 / 8 / 32 clients
# Prints every JSON line as it comes, then the table. Needs a Release build
# in build/ (tools/setup) and about 5 minutes with the default 6 seconds.
#   tools/bench/scaling.sh [SECONDS_PER_ROW]
# One pass moves by a third with this machine's spells (see compare.sh):
# read the rows as a shape, not as exact figures.
set -euo pipefail
secs=${1:-6}
# shellcheck source=tools/bench/bench_server.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_server.sh" scaling

rows=$work/rows
row() {
  start_server
  local line
  line=$(b "$@")
  echo "$line"
  echo "$line" >>"$rows"
}
echo "== appends of one 500-byte event"
for c in 1 8 32 64; do row --clients "$c" --streams 10000; done
echo "== appends of one event, 8 clients, by event size"
for size in 100 2000 8000; do row --clients 8 --streams 10000 --event-size "$size"; done
echo "== appends of 100 events of 500 bytes"
for c in 4 8 16 32; do row --clients "$c" --events-per-append 100 --streams $((c * 100)); done
echo "== reads of a 100-event history"
for c in 1 8 32; do row --mode read --clients "$c" --streams 100; done
stop_server

echo "== scaling, $secs s per row (server and bench CPU per call in µs)"
python3 - "$rows" <<'PY'
import json, sys
print(f"{'workload':22s} {'clients':>7s} {'event B':>7s} {'calls/s':>9s} {'events/s':>9s} {'p50 ms':>7s} "
      f"{'p99 ms':>7s} {'server µs':>9s} {'bench µs':>8s}")
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["mode"] == "read":
        workload, calls = "read 100-event history", d["reads_per_s"]
    else:
        workload, calls = f"append {d['events_per_append']} per call", d["appends_per_s"]
    print(f"{workload:22s} {d['clients']:7d} {d['event_size']:7d} {calls:9.0f} {d['events_per_s']:9.0f} "
          f"{d['p50_ms']:7.2f} {d['p99_ms']:7.2f} {d.get('server_cpu_us_per_call', 0):9.1f} "
          f"{d.get('bench_cpu_us_per_call', 0):8.1f}")
PY
