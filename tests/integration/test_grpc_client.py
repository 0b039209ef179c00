"""Interop of ringgate's HTTP/2 gRPC client with a real grpcio server,
and its behaviour against broken servers.

The client runs inside grpc_driver (the same code a worker runs: one
io_uring loop, an upstream pool, grpc_call); the server is
backend_echo.py (grpcio) or a hand-written hostile HTTP/2 peer.
"""
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"


def driver_bin():
    rg = os.environ.get("RINGGATE_BIN", os.path.join(ROOT, "build", "gateway", "ringgate"))
    build = os.path.dirname(os.path.dirname(os.path.abspath(rg)))
    return os.path.join(build, "tests", "integration", "grpc_driver")


def pattern(n):
    return bytes((i * 31 + 7) & 0xFF for i in range(n))


def fnv1a(data, h=0xCBF29CE484222325):
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def sanitizer_clean(stderr):
    for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
        assert marker not in stderr, stderr


def run_driver(port, path, *args, timeout=60):
    cmd = [driver_bin(), "--upstream", "127.0.0.1:%d" % port, "--path", path] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    sanitizer_clean(p.stderr)
    assert p.returncode == 0, (p.returncode, p.stderr)
    return json.loads(p.stdout)


class Backend:
    """backend_echo.py as a child process, restartable on the same port."""

    def __init__(self, port=0):
        self.port = port
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [PY, os.path.join(HERE, "backend_echo.py"), "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("READY"), line
        self.port = int(line.split()[1])
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture(scope="module")
def backend():
    b = Backend().start()
    yield b
    b.stop()


ECHO = "/ringgate.test.Echo/"


def test_unary_with_text_and_binary_metadata(backend):
    r = run_driver(backend.port, ECHO + "Echo", "--data", "hello",
                   "--metadata", "x-user=bob", "--metadata", "x-trace-bin=00ff10")
    assert r["code"] == 0 and r["from_server"]
    assert bytes.fromhex(r["first_hex"]) == b"hello"
    headers = dict(map(tuple, r["headers"]))
    assert headers["content-type"] == "application/grpc"
    assert headers["echo-x-user"] == "bob"
    # The server saw the decoded bytes 00 ff 10 and sent them back as -bin.
    assert headers["echo-x-trace-bin"].rstrip("=") == "AP8Q"
    trailers = dict(map(tuple, r["trailers"]))
    assert trailers["grpc-status"] == "0"
    assert trailers["x-trailer"] == "yes"


def test_empty_request_and_response(backend):
    r = run_driver(backend.port, ECHO + "Echo")
    assert r["code"] == 0 and r["messages"] == 1 and r["bytes"] == 0


def test_4mib_request_and_response(backend):
    size = 4 << 20
    r = run_driver(backend.port, ECHO + "Echo", "--data-size", str(size))
    assert r["code"] == 0 and r["bytes"] == size
    assert r["fnv"] == fnv1a(pattern(size))
    r = run_driver(backend.port, ECHO + "Big", "--data", str(size))
    assert r["code"] == 0 and r["bytes"] == size
    assert r["fnv"] == fnv1a(pattern(size))


def test_4mib_with_small_stream_window(backend):
    # Our receive window far below the message: flow control must keep it
    # moving with batched WINDOW_UPDATEs, not stall.
    size = 4 << 20
    r = run_driver(backend.port, ECHO + "Big", "--data", str(size), "--stream-window", "65535")
    assert r["code"] == 0 and r["bytes"] == size


def test_1000_concurrent_calls_on_one_connection(backend):
    r = run_driver(backend.port, ECHO + "Echo", "--data", "x" * 100,
                   "--calls", "3000", "--concurrency", "1000", "--timeout-ms", "30000")
    assert r["by_code"] == {"OK": 3000}, r["by_code"]
    assert r["connects"] == 1
    assert r["messages"] == 3000 and r["bytes"] == 300000


def test_1000_concurrent_calls_on_several_connections(backend):
    r = run_driver(backend.port, ECHO + "Echo", "--data", "y",
                   "--calls", "2000", "--concurrency", "1000", "--conns", "3")
    assert r["by_code"] == {"OK": 2000}, r["by_code"]
    assert r["connects"] == 3


def test_server_streaming_10000_messages(backend):
    r = run_driver(backend.port, ECHO + "Stream", "--data", "10000:10")
    assert r["code"] == 0
    assert r["messages"] == 10000 and r["bytes"] == 100000
    assert r["fnv"] == fnv1a(pattern(10) * 10000)


def test_deadline_exceeded_reported_by_server(backend):
    t0 = time.monotonic()
    r = run_driver(backend.port, ECHO + "Sleep", "--data", "3000", "--timeout-ms", "300")
    assert r["code"] == 4
    assert time.monotonic() - t0 < 2.5


STATUS_CASES = [
    (1, "cancelled by the backend"),
    (2, "unknown thing"),
    (3, "field 'name' is required"),
    (4, "too slow"),
    (5, "agent nöt found ✓"),
    (6, "already there: 100%"),
    (7, "denied\tfor you"),
    (8, "quota exhausted"),
    (9, "precondition"),
    (10, "aborted"),
    (11, "out of range"),
    (12, "unimplemented"),
    (13, "internal: 内部错误"),
    (14, "unavailable"),
    (15, "data loss"),
    (16, "who are you?"),
]


@pytest.mark.parametrize("code,message", STATUS_CASES)
def test_every_status_code_and_message(backend, code, message):
    r = run_driver(backend.port, ECHO + "Status", "--data", "%d:%s" % (code, message))
    assert r["code"] == code
    assert bytes.fromhex(r["message_hex"]).decode("utf-8") == message
    assert r["from_server"]
    # An abort before any message is a trailers-only response.
    assert r["headers"] == []
    assert r["messages"] == 0


def test_status_details_bin_decoded(backend):
    r = run_driver(backend.port, ECHO + "Details", "--data", "9:with details")
    assert r["code"] == 9
    assert bytes.fromhex(r["details_hex"]) == b"9:with details"


def test_unreachable_backend_fails_fast():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    r = run_driver(port, ECHO + "Echo", "--data", "x", "--timeout-ms", "5000")
    assert r["code"] == 14
    assert time.monotonic() - t0 < 3.0


def test_server_restart_mid_load():
    b = Backend().start()
    port = b.port
    try:
        drv = subprocess.Popen(
            [driver_bin(), "--upstream", "127.0.0.1:%d" % port, "--path", ECHO + "Echo",
             "--data", "z", "--duration-ms", "5000", "--concurrency", "50",
             "--timeout-ms", "3000", "--bucket-ms", "500", "--backoff-max-ms", "300"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.2)
        b.stop(signal.SIGTERM)  # graceful: GOAWAY, then close
        time.sleep(1.0)
        b = Backend(port).start()
        out, err = drv.communicate(timeout=30)
        sanitizer_clean(err)
        assert drv.returncode == 0, err
        r = json.loads(out)
    finally:
        b.stop()
    assert r["finished"] == r["calls"]
    # No call hung to its deadline; every failure is a clean status.
    assert set(r["by_code"]) <= {"OK", "UNAVAILABLE", "CANCELLED"}, r["by_code"]
    tl = r["timeline"]
    assert sum(ok for ok, _, _ in tl[:2]) > 0, tl
    assert sum(ok for ok, _, _ in tl[-3:]) > 0, tl  # recovered on a new connection
    assert r["connects"] >= 2


def test_backend_killed_then_recovers():
    b = Backend().start()
    port = b.port
    try:
        drv = subprocess.Popen(
            [driver_bin(), "--upstream", "127.0.0.1:%d" % port, "--path", ECHO + "Echo",
             "--data", "k", "--duration-ms", "5000", "--concurrency", "20",
             "--timeout-ms", "3000", "--bucket-ms", "500", "--backoff-max-ms", "300"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.2)
        b.stop(signal.SIGKILL)
        time.sleep(1.5)
        b = Backend(port).start()
        out, err = drv.communicate(timeout=30)
        sanitizer_clean(err)
        r = json.loads(out)
    finally:
        b.stop()
    assert set(r["by_code"]) <= {"OK", "UNAVAILABLE"}, r["by_code"]
    assert r["by_code"].get("UNAVAILABLE", 0) > 0
    tl = r["timeline"]
    assert sum(ok for ok, _, _ in tl[-3:]) > 0, tl
    assert r["max_latency_ms"] < 3000  # nothing waited for its deadline


# ---- hostile servers -------------------------------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST, SETTINGS, PUSH, PING, GOAWAY, WINDOW, CONT = 0, 1, 3, 4, 5, 6, 7, 8, 9
PROTOCOL_ERROR, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, COMPRESSION_ERROR = 1, 3, 6, 9


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def read_frames(conn, until):
    """Read frames until until(frames) is true or the peer closes."""
    buf = b""
    frames = []
    conn.settimeout(5)
    while True:
        while len(buf) >= 9:
            ln = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + ln:
                break
            frames.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF,
                           buf[9:9 + ln]))
            buf = buf[9 + ln:]
        if until(frames):
            return frames
        try:
            chunk = conn.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return frames
        if not chunk:
            return frames
        buf += chunk


class EvilServer(threading.Thread):
    """Accepts one connection, reads the client preface and the first
    HEADERS, then plays `script(conn)`; records every frame received."""

    def __init__(self, script):
        super().__init__(daemon=True)
        self.script = script
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.frames = []

    def run(self):
        conn, _ = self.sock.accept()
        with conn:
            pre = b""
            conn.settimeout(5)
            while len(pre) < len(PREFACE):
                pre += conn.recv(len(PREFACE) - len(pre))
            assert pre == PREFACE
            self.frames = read_frames(conn, lambda fr: any(f[0] == HEADERS for f in fr))
            self.script(conn)
            self.frames += read_frames(conn, lambda fr: any(f[0] == GOAWAY for f in fr))
        self.sock.close()

    def goaway_code(self):
        for ftype, _, _, payload in self.frames:
            if ftype == GOAWAY:
                return int.from_bytes(payload[4:8], "big")
        return None


SETTINGS_EMPTY = frame(SETTINGS, 0, 0)
SETTINGS_ACK = frame(SETTINGS, 1, 0)

HOSTILE = [
    ("http1_reply", lambda c: c.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
     {PROTOCOL_ERROR, FRAME_SIZE_ERROR}),
    ("data_on_stream_0", lambda c: c.sendall(SETTINGS_EMPTY + frame(DATA, 0, 0, b"x")),
     {PROTOCOL_ERROR}),
    ("oversized_frame", lambda c: c.sendall(SETTINGS_EMPTY + frame(DATA, 0, 1, b"x" * 20000)),
     {FRAME_SIZE_ERROR}),
    ("bad_hpack_index_0", lambda c: c.sendall(SETTINGS_EMPTY + frame(HEADERS, 4, 1, b"\x80")),
     {COMPRESSION_ERROR}),
    ("connection_window_overflow",
     lambda c: c.sendall(SETTINGS_EMPTY + frame(WINDOW, 0, 0, struct.pack(">I", 0x7FFFFFFF))),
     {FLOW_CONTROL_ERROR}),
    ("push_promise", lambda c: c.sendall(SETTINGS_EMPTY + frame(PUSH, 4, 1, b"\x00\x00\x00\x02\x88")),
     {PROTOCOL_ERROR}),
    ("initial_window_too_big",
     lambda c: c.sendall(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0x80000000))),
     {FLOW_CONTROL_ERROR}),
    ("headers_on_idle_stream",
     lambda c: c.sendall(SETTINGS_EMPTY + frame(HEADERS, 5, 3, b"\x88")),
     {PROTOCOL_ERROR}),
    ("continuation_interrupted",
     lambda c: c.sendall(SETTINGS_EMPTY + frame(HEADERS, 0, 1, b"\x88") + frame(PING, 0, 0, b"\0" * 8)),
     {PROTOCOL_ERROR}),
    ("settings_not_first", lambda c: c.sendall(frame(PING, 0, 0, b"\0" * 8)),
     {PROTOCOL_ERROR}),
]


@pytest.mark.parametrize("name,script,codes", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_server_gets_goaway_with_the_right_code(name, script, codes):
    srv = EvilServer(script)
    srv.start()
    r = run_driver(srv.port, ECHO + "Echo", "--data", "x", "--timeout-ms", "4000")
    srv.join(timeout=10)
    assert r["code"] in (13, 14), r  # INTERNAL or UNAVAILABLE, never OK, never a hang
    assert srv.goaway_code() in codes, (name, srv.frames)


def test_rst_stream_refused_is_retried_then_unavailable():
    # Every attempt is refused: the call is replayed (the server promised
    # it did nothing), then fails UNAVAILABLE.
    def script(c):
        c.sendall(SETTINGS_EMPTY + SETTINGS_ACK)
        sid = 1
        for _ in range(3):
            c.sendall(frame(RST, 0, sid, struct.pack(">I", 7)))
            read_frames(c, lambda fr, s=sid + 2: any(f[0] == HEADERS and f[2] == s for f in fr))
            sid += 2

    srv = EvilServer(script)
    srv.start()
    r = run_driver(srv.port, ECHO + "Echo", "--data", "x", "--timeout-ms", "4000")
    srv.join(timeout=10)
    assert r["code"] == 14, r


def test_deadline_enforced_locally_when_server_is_silent():
    def script(c):
        c.sendall(SETTINGS_EMPTY + SETTINGS_ACK)
        read_frames(c, lambda fr: any(f[0] == RST for f in fr))
        srv.rst = True

    srv = EvilServer(script)
    srv.rst = False
    srv.start()
    t0 = time.monotonic()
    r = run_driver(srv.port, ECHO + "Echo", "--data", "x", "--timeout-ms", "400")
    elapsed = time.monotonic() - t0
    srv.join(timeout=10)
    assert r["code"] == 4 and not r["from_server"], r
    assert elapsed < 3.0
    assert srv.rst  # the stream was cancelled with RST_STREAM


def test_keepalive_ping_timeout_declares_connection_dead():
    def script(c):
        c.sendall(SETTINGS_EMPTY + SETTINGS_ACK)
        # Read pings and never answer them.
        srv.seen = read_frames(c, lambda fr: any(f[0] == GOAWAY for f in fr))

    srv = EvilServer(script)
    srv.start()
    t0 = time.monotonic()
    r = run_driver(srv.port, ECHO + "Echo", "--data", "x", "--timeout-ms", "20000",
                   "--ping-interval-ms", "200", "--ping-timeout-ms", "300")
    srv.join(timeout=10)
    assert r["code"] == 14, r
    assert time.monotonic() - t0 < 5.0
    assert any(f[0] == PING for f in srv.seen)
