# Sourced by the shell tests: a caseledgerd of their own, on a free loopback
# port, with development certificates; stopped and its directory removed when
# the test exits.
#   source test_server.sh SRC CASELEDGERD [more caseledgerd arguments]
# Sets tmp (the data directory; TLS files in $tmp/tls), port and pid.
test_server_src=$1
test_server_binary=$2
shift 2
tmp=$(mktemp -d)
pid=
test_server_cleanup() {
  if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap test_server_cleanup EXIT
"$test_server_src/deploy/make-certs.sh" "$tmp/tls" >/dev/null
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$test_server_binary" --data-dir "$tmp" --listen "127.0.0.1:$port" "$@" 2>"$tmp/server.log" &
pid=$!
# The port is bound once every service is registered.
for _ in $(seq 1 200); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.05
done
