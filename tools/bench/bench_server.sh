# bench_server.sh — sourced by the bench scripts (compare.sh, scaling.sh):
# a fresh caseledgerd per workload, on a loopback port, with development
# certificates, and the bench command that drives it.
#   source bench_server.sh NAME     (NAME names the temporary directory)
# Sets root, build, bench, work (removed on exit), port and server (the pid of
# the running caseledgerd, empty when none). Defines:
#   start_server   stop the running server, start one on an empty data
#                  directory and wait until it answers a health check
#   stop_server    stop it (SIGTERM) and remove its data directory
#   b ARGS...      run caseledger-bench against it for $secs seconds (the
#                  caller sets secs), with its pid for the CPU figures; prints
#                  the JSON line
#   field JSON KEY print one field of a JSON line
# Every workload gets a fresh server, as postgres_peer.sh gives each one a
# fresh PostgreSQL: otherwise a workload would share the two cores with the
# compactions of the one before.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${CASELEDGER_BUILD_DIR:-$root/build}
bench=$build/tools/caseledger-bench
bench_script=${1:?source bench_server.sh NAME}
work=$(mktemp -d "/tmp/caseledger-$bench_script-XXXXXX")
port=$((40000 + RANDOM % 20000))
"$root/deploy/make-certs.sh" "$work/tls" >/dev/null
server=""
servers=0
stop_server() {
  if [[ -n $server ]]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -rf "$work/data-$servers"
    server=""
  fi
}
start_server() {
  stop_server
  servers=$((servers + 1))
  mkdir -p "$work/data-$servers"
  "$build/services/caseledgerd" --data-dir "$work/data-$servers" --listen "127.0.0.1:$port" \
    --tls-ca "$work/tls/ca.pem" --tls-cert "$work/tls/server.pem" --tls-key "$work/tls/server.key" \
    --metrics_listen "" --min-free-mb 64 --retention-interval-hours 0 \
    >"$work/server-$servers.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    "$build/tools/caseledger" --server "127.0.0.1:$port" --tls-dir "$work/tls" --as admin health >/dev/null 2>&1 &&
      return 0
    sleep 0.1
  done
  echo "$bench_script: caseledgerd did not start; see $work/server-$servers.log" >&2
  exit 1
}
trap 'stop_server; rm -rf "$work"' EXIT
b() { "$bench" --addr "127.0.0.1:$port" --tls-dir "$work/tls" --duration "$secs" --server-pid "$server" "$@" | tail -1; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])['$2'])" "$1"; }
