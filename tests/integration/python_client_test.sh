#!/usr/bin/env bash
# The partner example (tools/examples/partner_client.py) against the real
# caseledgerd: generate Python code from our protos with Debian's protoc and
# grpc_python_plugin, start a server on a free loopback port, run the example.
# Uses /usr/bin/python3 on purpose: a python3 earlier on PATH may not be Debian's.
set -euo pipefail
src=$1
source "$src/tests/integration/test_server.sh" "$src" "$2" --metrics_listen 127.0.0.1:0
mkdir -p "$tmp/gen"
protoc -I "$src/proto" --python_out="$tmp/gen" --grpc_out="$tmp/gen" \
  --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin \
  "$src/proto/caseledger/v1/events.proto" "$src/proto/caseledger/v1/ledger_service.proto"

out=$(/usr/bin/python3 "$src/tools/examples/partner_client.py" --gen "$tmp/gen" \
        --server "127.0.0.1:$port" --tls-dir "$tmp/tls" --client c-py-1)
echo "$out"
grep -qx "recorded: client c-py-1 version 1 position \[1\]" <<<"$out"
grep -qx "retry deduplicated: True" <<<"$out"
grep -qx "read back: version 1 Intake by vluchtelingenwerk/begeleider-42 for Voorbeeld Cliënt" <<<"$out"

# A municipality certificate may not append: exit 1 with the gRPC code.
if err=$(/usr/bin/python3 "$src/tools/examples/partner_client.py" --gen "$tmp/gen" \
           --server "127.0.0.1:$port" --tls-dir "$tmp/tls" --organisation gemeente 2>&1); then
  echo "the municipality's append was accepted" >&2
  exit 1
fi
echo "$err"
grep -q "^error: PERMISSION_DENIED: AppendEvents needs the partner role" <<<"$err"
echo "python client test: ok"
