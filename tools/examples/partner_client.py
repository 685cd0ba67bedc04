#!/usr/bin/python3
"""A partner's system talking to caseledger: submit an intake, read it back.

What a partner developer needs is only our .proto files, their organisation's
certificate and key, and the CA certificate. Generate the Python code once:

    protoc -I proto --python_out=gen --grpc_out=gen \
        --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin \
        proto/caseledger/v1/events.proto proto/caseledger/v1/ledger_service.proto

then run (Debian: apt-get install python3-grpcio python3-protobuf):

    /usr/bin/python3 tools/examples/partner_client.py --gen gen \
        --server 127.0.0.1:7443 --tls-dir var/tls --organisation vluchtelingenwerk

It prints the recorded version and position, then the event as read back.
Exit status 0 on success; on a gRPC error it prints the code and message.
"""
import argparse
import sys
import uuid
from datetime import datetime, timezone


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gen", required=True, help="directory with the generated *_pb2 modules")
    parser.add_argument("--server", default="127.0.0.1:7443")
    parser.add_argument("--tls-dir", default="var/tls")
    parser.add_argument("--organisation", default="vluchtelingenwerk")
    parser.add_argument("--user", default="begeleider-42", help="acting person (x-user-id)")
    parser.add_argument("--client", default="c-" + uuid.uuid4().hex[:8])
    args = parser.parse_args()

    sys.path.insert(0, args.gen)
    import grpc
    from caseledger.v1 import events_pb2, ledger_service_pb2, ledger_service_pb2_grpc

    def read(name):
        with open(f"{args.tls_dir}/{name}", "rb") as f:
            return f.read()

    # Mutual TLS: the server knows us by our certificate (O = organisation, OU = role).
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read("ca.pem"),
        private_key=read(f"{args.organisation}.key"),
        certificate_chain=read(f"{args.organisation}.pem"))
    channel = grpc.secure_channel(args.server, credentials)
    ledger = ledger_service_pb2_grpc.LedgerServiceStub(channel)
    metadata = [("x-user-id", args.user)]  # who acts; recorded in the envelope

    event = events_pb2.Event()
    event.envelope.event_id = str(uuid.uuid4())  # keep it: a retry must reuse it
    event.envelope.occurred_at.FromDatetime(datetime.now(timezone.utc).replace(microsecond=0))
    event.intake.track = events_pb2.TRACK_LEGAL
    event.intake.target_group = events_pb2.TARGET_GROUP_REJECTED_ASYLUM
    event.intake.organisation = args.organisation
    event.intake.location = "LVV Amsterdam-West"
    event.intake.legal_basis = "AVG art. 6(1)(e); convenant LVV"
    event.personal_data.given_names = "Voorbeeld"
    event.personal_data.family_name = "Cliënt"

    request = ledger_service_pb2.AppendEventsRequest(client_id=args.client, events=[event])
    request.expected_version.no_stream = True
    try:
        response = ledger.AppendEvents(request, metadata=metadata, timeout=10)
        print(f"recorded: client {args.client} version {response.stream_version} "
              f"position {list(response.global_positions)}")
        # Retrying the same request is safe: nothing is written twice.
        retry = ledger.AppendEvents(request, metadata=metadata, timeout=10)
        print(f"retry deduplicated: {retry.deduplicated}")

        page = ledger.ReadClientEvents(
            ledger_service_pb2.ReadClientEventsRequest(client_id=args.client, purpose="example"),
            metadata=metadata, timeout=10)
        for e in page.events:
            print(f"read back: version {e.envelope.stream_version} {e.envelope.type} "
                  f"by {e.envelope.organisation}/{e.envelope.user_id} "
                  f"for {e.personal_data.given_names} {e.personal_data.family_name}")
    except grpc.RpcError as error:
        print(f"error: {error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
