#!/usr/bin/python3
"""A real grpcio server for the interop tests: service ringgate.test.Echo.

Messages are raw bytes (generic handlers, no generated code), so the tests
need no .proto compilation.  Methods:

  Echo     unary: returns the request; echoes x-* request metadata as
           initial metadata "echo-<key>", and sends trailer "x-trailer: yes"
  Status   unary: request b"CODE:message" -> that status and message
  Details  unary: request b"CODE:message" -> that status plus
           grpc-status-details-bin (the request bytes)
  Big      unary: request b"N" -> N bytes of pattern
  Sleep    unary: request b"MS" -> sleeps MS milliseconds, returns b"slept"
  Stream   server streaming: request b"COUNT:SIZE" -> COUNT messages of SIZE bytes
  Sum      client streaming: returns the total length of all request messages

Run: backend_echo.py --port P [--port-file F].  Prints "READY <port>" on
stdout once serving.  SIGTERM stops it gracefully (GOAWAY, then close).
"""
import argparse
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

CODES = {c.value[0]: c for c in grpc.StatusCode}


def pattern(n):
    return bytes((i * 31 + 7) & 0xFF for i in range(n))


def echo(request, context):
    md = [("echo-" + k, v) for k, v in context.invocation_metadata() if k.startswith("x-")]
    bins = [(k, v) for k, v in context.invocation_metadata() if k.endswith("-bin") and k.startswith("x-")]
    context.send_initial_metadata(md)
    context.set_trailing_metadata([("x-trailer", "yes")] + [("echo-" + k, v) for k, v in bins])
    return request


def status(request, context):
    code, _, message = request.decode("utf-8").partition(":")
    context.abort(CODES[int(code)], message)


def details(request, context):
    code, _, message = request.decode("utf-8").partition(":")
    context.set_trailing_metadata([("grpc-status-details-bin", request)])
    context.set_code(CODES[int(code)])
    context.set_details(message)
    return b""


def big(request, context):
    return pattern(int(request))


def sleep(request, context):
    time.sleep(int(request) / 1000.0)
    return b"slept"


def stream(request, context):
    count, _, size = request.decode().partition(":")
    chunk = pattern(int(size))
    for _ in range(int(count)):
        yield chunk


def total(request_iterator, context):
    return str(sum(len(m) for m in request_iterator)).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--workers", type=int, default=32)
    args = ap.parse_args()

    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Status": grpc.unary_unary_rpc_method_handler(status),
        "Details": grpc.unary_unary_rpc_method_handler(details),
        "Big": grpc.unary_unary_rpc_method_handler(big),
        "Sleep": grpc.unary_unary_rpc_method_handler(sleep),
        "Stream": grpc.unary_stream_rpc_method_handler(stream),
        "Sum": grpc.stream_unary_rpc_method_handler(total),
    }
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=args.workers),
        options=[
            ("grpc.max_send_message_length", 64 << 20),
            ("grpc.max_receive_message_length", 64 << 20),
            ("grpc.so_reuseport", 1),
        ],
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("ringgate.test.Echo", handlers),))
    port = server.add_insecure_port("127.0.0.1:%d" % args.port)
    server.start()
    print("READY %d" % port, flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    server.stop(grace=1).wait()
    sys.exit(0)


if __name__ == "__main__":
    main()
