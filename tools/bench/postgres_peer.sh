#!/usr/bin/env bash
# postgres_peer.sh — the same workloads as caseledger-bench, against
# PostgreSQL 15 (Debian's postgresql-15) as a Marten-style event table, for a
# side-by-side comparison on this machine.
#
#   tools/bench/postgres_peer.sh append CLIENTS [SECONDS] [EVENT_SIZE] [STREAMS]
#   tools/bench/postgres_peer.sh read   CLIENTS [SECONDS] [EVENT_SIZE] [STREAMS]
#
# Starts its own server on loopback in a temporary directory (as the
# "postgres" user when run as root), synchronous_commit on, fsync on; makes
#   events(seq_id bigserial primary key, stream_id text, version int,
#          type text, data bytea, occurred_at timestamptz, unique (stream_id, version))
# append: each pgbench client owns STREAMS/CLIENTS streams and appends one
#   event with the next version computed in the same statement; the unique
#   (stream_id, version) index is the expected-version check.
# read: STREAMS histories of 100 events; each transaction reads one whole.
# Runs pgbench for SECONDS, stops the server, removes the directory, and
# prints one JSON line: events_per_s, p50_ms, p99_ms (from pgbench's
# per-transaction log).
set -euo pipefail
mode=${1:?append or read}
clients=${2:?clients}
seconds=${3:-10}
size=${4:-500}
streams=${5:-10000}
bin=/usr/lib/postgresql/15/bin
if [[ ! -x $bin/postgres ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
  else
    echo "postgres_peer: install postgresql-15 (Debian package)" >&2
    exit 2
  fi
fi
dir=$(mktemp -d /tmp/pgpeer-XXXXXX)
port=$((20000 + RANDOM % 20000))
as=()
if [[ $(id -u) -eq 0 ]]; then
  chown postgres "$dir"
  as=(runuser -u postgres --)
fi
cleanup() {
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
"${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start \
  -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c synchronous_commit=on -c fsync=on -c max_connections=600 -c shared_buffers=256MB" >/dev/null
psql=("${as[@]}" "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
"${psql[@]}" <<SQL
CREATE TABLE events (
  seq_id bigserial PRIMARY KEY,
  stream_id text NOT NULL,
  version int NOT NULL,
  type text NOT NULL,
  data bytea NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (stream_id, version));
SQL

per_client=$(( streams / clients > 0 ? streams / clients : 1 ))
script="$dir/script.sql"
if [[ $mode == append ]]; then
  cat >"$script" <<SQL
\\set s random(0, $((per_client - 1)))
INSERT INTO events (stream_id, version, type, data)
  SELECT 'b-' || :client_id || '-' || :s, coalesce(max(version), 0) + 1, 'AttendanceRegistered', decode(repeat('78', $size), 'hex')
  FROM events WHERE stream_id = 'b-' || :client_id || '-' || :s;
SQL
  events_per_tx=1
else
  "${psql[@]}" -c "INSERT INTO events (stream_id, version, type, data)
    SELECT 'r-' || s, v, 'AttendanceRegistered', decode(repeat('78', $size), 'hex')
    FROM generate_series(0, $((streams - 1))) s, generate_series(1, 100) v;" -c "VACUUM ANALYZE events;"
  cat >"$script" <<SQL
\\set s random(0, $((streams - 1)))
SELECT seq_id, stream_id, version, type, data, occurred_at FROM events WHERE stream_id = 'r-' || :s ORDER BY version;
SQL
  events_per_tx=100
fi
chmod a+r "$script"
(cd "$dir" && "${as[@]}" "$bin/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -c "$clients" -j 2 -T "$seconds" \
  -f "$script" --log --log-prefix="$dir/tx" postgres >"$dir/pgbench.out" 2>&1) || { cat "$dir/pgbench.out" >&2; exit 1; }
# Per-transaction log lines: client_id transaction_no time_us script_no time_epoch time_us_part
python3 - "$dir" "$mode" "$clients" "$seconds" "$size" "$events_per_tx" <<'PY'
import glob, sys
d, mode, clients, seconds, size, per_tx = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
lat = []
for f in glob.glob(d + "/tx*"):
    for line in open(f):
        parts = line.split()
        if len(parts) >= 3 and parts[2].isdigit():
            lat.append(int(parts[2]) / 1000.0)
lat.sort()
def pct(p):
    return lat[min(len(lat) - 1, int(p * (len(lat) - 1) + 0.5))] if lat else 0.0
tps = len(lat) / seconds
print(f"postgresql {mode}: {clients} clients, {len(lat)} transactions in {seconds:.0f} s: {tps:.0f}/s, "
      f"{tps * per_tx:.0f} events/s; p50 {pct(0.5):.2f} p99 {pct(0.99):.2f} p99.9 {pct(0.999):.2f} ms")
print('{"system":"postgresql","mode":"%s","clients":%d,"event_size":%d,"duration_s":%.1f,"tx_per_s":%.0f,'
      '"events_per_s":%.0f,"p50_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f}' % (mode, clients, size, seconds, tps, tps * per_tx,
                                                                          pct(0.5), pct(0.99), pct(0.999)))
PY
