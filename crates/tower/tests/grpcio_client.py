"""A second gRPC implementation for tests/grpc.rs: Python's grpcio (gRPC C-core).

Usage: python grpcio_client.py HOST:PORT < calls.json
calls.json: [{"method": "/pkg.Service/Method", "authorization": ["Bearer ..."]}, ...]
Prints a JSON list, one object per call: {"code": <int>, "message": <details or reply text>,
"www-authenticate": ..., "retry-after": ...} (the metadata keys only when present).

Messages are sent as raw protobuf bytes (no generated code, no protoc): a HelloRequest with
name = "test" is field 1, length-delimited.
"""

import json
import sys

import grpc

REQUEST = b"\x0a\x04test"


def reply_text(data):
    """The string field 1 of a HelloReply (short enough for a one-byte length)."""
    if len(data) >= 2 and data[0] == 0x0A and data[1] == len(data) - 2:
        return data[2:].decode("utf-8")
    raise ValueError(f"unexpected reply bytes {data!r}")


def main():
    calls = json.load(sys.stdin)
    seen = []
    with grpc.insecure_channel(sys.argv[1]) as channel:
        for call in calls:
            method = channel.unary_unary(call["method"])
            metadata = [("authorization", value) for value in call["authorization"]]
            try:
                reply = method(REQUEST, metadata=metadata, timeout=30)
                seen.append({"code": 0, "message": reply_text(reply)})
            except grpc.RpcError as error:
                row = {"code": error.code().value[0], "message": error.details() or ""}
                for key, value in list(error.initial_metadata() or []) + list(
                    error.trailing_metadata() or []
                ):
                    if key in ("www-authenticate", "retry-after"):
                        row[key] = value
                seen.append(row)
    json.dump(seen, sys.stdout)


if __name__ == "__main__":
    main()
