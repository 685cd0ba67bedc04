#!/usr/bin/env bash
# caseledger-bench against a real caseledgerd: every mode ends with one JSON
# line holding the figures issue 8's scripts read (compare.sh, scaling.sh,
# large_ledger.sh), with no errors and figures that agree with each other;
# bad flags are refused with exit 2 and a message that says what to give.
# Checks behaviour, not speed: the runs are one second long.
#   bench_test.sh SRC CASELEDGER_BENCH CASELEDGERD
set -euo pipefail
src=$1
bench_binary=$2
caseledgerd=$3
# shellcheck source=tests/integration/test_server.sh
source "$src/tests/integration/test_server.sh" "$src" "$caseledgerd" --metrics_listen "" --retention-interval-hours 0

fail() { echo "FAIL: $*" >&2; exit 1; }
bench() { "$bench_binary" --addr "127.0.0.1:$port" --tls-dir "$tmp/tls" --duration 1 "$@"; }
# check JSON_LINE PYTHON_EXPRESSION...: each expression, over the line's fields as d, must hold.
check() {
  local line=$1; shift
  python3 - "$line" "$@" <<'PY' || fail "$line"
import json, sys
d = json.loads(sys.argv[1])
for expr in sys.argv[2:]:
    if not eval(expr, {}, {"d": d}):
        sys.exit(f"does not hold: {expr}")
PY
}
last_json() { tail -1 <<<"$1"; }

# Appends of one event, with the server's CPU per call.
out=$(bench --clients 2 --streams 20 --server-pid "$pid")
line=$(last_json "$out")
check "$line" 'd["mode"] == "append"' 'd["errors"] == 0' 'd["conflicts"] == 0' \
  'd["appends_per_s"] > 0' 'd["events_per_s"] == d["appends_per_s"]' \
  '0 < d["p50_ms"] <= d["p99_ms"] <= d["p999_ms"]' \
  'd["lag_p99_ms"] >= d["lag_p50_ms"] >= 0' 'd["lag_probe_calls"] > 0' \
  'd["server_cpu_us_per_call"] > 0' 'd["bench_cpu_us_per_call"] > 0'
grep -q "^append: 2 clients x 1 events" <<<"$out" || fail "no human-readable summary: $out"

# Ten events per append: ten times the events of the appends.
line=$(last_json "$(bench --clients 2 --streams 20 --events-per-append 10)")
check "$line" 'd["errors"] == 0' 'd["events_per_append"] == 10' \
  'abs(d["events_per_s"] - 10 * d["appends_per_s"]) <= 10' 'not "server_cpu_us_per_call" in d'

# Reads of 100-event histories (the bench writes them first).
line=$(last_json "$(bench --mode read --clients 2 --streams 3 --server-pid "$pid")")
check "$line" 'd["mode"] == "read"' 'd["errors"] == 0' 'd["reads_per_s"] > 0' \
  'abs(d["events_per_s"] - 100 * d["reads_per_s"]) <= 100' 'd["server_cpu_us_per_call"] > 0'

# A loaded ledger, then access-request exports of its clients.
line=$(last_json "$(bench --mode load --clients 2 --streams 4 --run-id t)")
check "$line" 'd["mode"] == "load"' 'd["events"] == 400' 'd["events_per_s"] > 0'
line=$(last_json "$(bench --mode export --clients 1 --streams 4 --run-id t --reuse)")
check "$line" 'd["mode"] == "export"' 'd["errors"] == 0' 'd["exports_per_s"] > 0' 'd["p50_ms"] > 0'

# The ceiling: a call that touches no storage.
line=$(last_json "$(bench --mode ping --clients 2)")
check "$line" 'd["mode"] == "ping"' 'd["errors"] == 0' 'd["calls_per_s"] > 0'

# The raw RocksDB rate, in a directory of the test's own.
line=$(last_json "$(bench --mode raw-rocksdb --events-per-append 10 --dir "$tmp/raw")")
check "$line" 'd["mode"] == "raw-rocksdb"' 'd["events_per_s"] > 0' \
  'abs(d["events_per_s"] - 10 * d["batches_per_s"]) <= 10'

# Refused, with exit 2 and what to give instead.
set +e
msg=$(bench --clients 1 --streams 2 --server-pid 999999999 2>&1); rc=$?
set -e
[[ $rc -eq 2 ]] || fail "a --server-pid that is no process: exit $rc, want 2: $msg"
grep -q -- "--server-pid must be the process id of a caseledgerd" <<<"$msg" || fail "message: $msg"
set +e
msg=$(bench --clients 0 2>&1); rc=$?
set -e
[[ $rc -ne 0 ]] || fail "--clients 0 was accepted: $msg"
grep -q -- "--clients" <<<"$msg" || fail "message does not name --clients: $msg"
set +e
msg=$(bench --lag-poll-ms 0 2>&1); rc=$?
set -e
[[ $rc -ne 0 ]] || fail "--lag-poll-ms 0 was accepted: $msg"
grep -q -- "--lag-poll-ms" <<<"$msg" || fail "message does not name --lag-poll-ms: $msg"
echo "PASS"
