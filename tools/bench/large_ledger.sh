#!/usr/bin/env bash
# large_ledger.sh — issue 8's targets for a large ledger, on a fresh
# caseledgerd (TLS, loopback) in a temporary directory:
#   1. load CLIENTS client histories of 100 events (default 10,000: 1,000,000 events)
#   2. access-request export (PrivacyService.ExportSubjectData, JSON) of random clients: p50/p99
#   3. stop cleanly, start again: milliseconds from launch to SERVING
#   4. SIGKILL right after more appends, start again: milliseconds to SERVING (WAL replay)
#   5. rebuild of the caseload projection: events/s
#   6. 32 clients appending for SECONDS: peak server RSS
# Each figure is printed as one JSON line; needs a Release build in build/.
#   tools/bench/large_ledger.sh [CLIENTS] [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${CASELEDGER_BUILD_DIR:-$root/build}
clients=${1:-10000}
secs=${2:-15}
work=$(mktemp -d /tmp/caseledger-large-XXXXXX)
port=$((40000 + RANDOM % 20000))
"$root/deploy/make-certs.sh" "$work/tls" >/dev/null
server=""
start() {
  "$build/services/caseledgerd" --data-dir "$work" --listen "127.0.0.1:$port" --metrics_listen "" \
    --min-free-mb 64 --retention-interval-hours 0 >/dev/null 2>>"$work/server.log" &
  server=$!
}
stop() { kill "-$1" "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
trap 'stop TERM; rm -rf "$work"' EXIT
now_ms() { date +%s%3N; }
# Sets started_ms: milliseconds from launch until a health check answers
# SERVING (each check starts the CLI, about 25-35 ms: an upper bound).
started_ms=0
timed_start() {
  local t0; t0=$(now_ms)
  start
  until "$build/tools/caseledger" --server "127.0.0.1:$port" --tls-dir "$work/tls" --as admin health >/dev/null 2>&1; do
    sleep 0.01
  done
  started_ms=$(( $(now_ms) - t0 ))
}
bench() { "$build/tools/caseledger-bench" --addr "127.0.0.1:$port" --tls-dir "$work/tls" "$@" | tail -1; }

timed_start
echo "== load: $clients clients x 100 events"
bench --mode load --clients 8 --streams "$clients" --run-id big
echo "== access-request export of one client, at $((clients * 100)) events"
bench --mode export --clients 1 --streams "$clients" --run-id big --reuse --duration 5
echo "== start to SERVING after a clean stop"
stop TERM
timed_start
echo "{\"mode\":\"start\",\"after\":\"clean stop\",\"events\":$((clients * 100)),\"ms_to_serving\":$started_ms}"
echo "== start to SERVING after SIGKILL (just after 200,000 more events)"
bench --mode load --clients 8 --streams 2000 --run-id more >/dev/null
stop KILL
timed_start
echo "{\"mode\":\"start\",\"after\":\"SIGKILL\",\"events\":$((clients * 100 + 200000)),\"ms_to_serving\":$started_ms}"
echo "== rebuild of the caseload projection"
"$build/tools/caseledger" --server "127.0.0.1:$port" --tls-dir "$work/tls" --as admin --json rebuild caseload | tail -1
echo "== peak server RSS under 32 appending clients"
peak=0
bench --clients 32 --streams 10000 --duration "$secs" --run-id rss >"$work/rss.json" &
load=$!
while kill -0 "$load" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
  (( rss > peak )) && peak=$rss
  sleep 0.2
done
wait "$load" || true
cat "$work/rss.json"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
echo "{\"mode\":\"rss\",\"clients\":32,\"peak_rss_mib\":$((peak / 1024)),\"vm_hwm_mib\":$((hwm / 1024))}"
