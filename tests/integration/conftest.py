"""
conftest.py - fixtures for the integration tests: the real ringgate binary,
started on an ephemeral port, and a raw-socket HTTP/1.1 client.

The binary comes from RINGGATE_BIN (default: <repo>/build/gateway/ringgate),
so the same tests run against the sanitizer build.  Every process started
here is stopped at teardown (SIGTERM, then SIGKILL after 10 s) and the test
fails if it exited non-zero or printed a sanitizer report.
"""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RINGGATE_BIN = os.environ.get("RINGGATE_BIN", os.path.join(REPO, "build", "gateway", "ringgate"))

HOST = "127.0.0.1"
START_TIMEOUT_S = 15.0  # the sanitizer build starts slower
STOP_TIMEOUT_S = 10.0
SOCK_TIMEOUT_S = 5.0

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")


def sanitizer_report(text):
    """The first sanitizer marker found in text, or None."""
    for m in SANITIZER_MARKERS:
        if m in text:
            return m
    return None


def run_cli(*args, timeout=15):
    """Run ringgate to completion (for CLI checks); returns CompletedProcess
    with text stdout/stderr.  Fails on a sanitizer report."""
    p = subprocess.run([RINGGATE_BIN, *args], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, errors="replace", timeout=timeout)
    bad = sanitizer_report(p.stderr)
    assert bad is None, f"sanitizer report ({bad}) from {args}:\n{p.stderr}"
    return p


# ---------------------------------------------------------------- HTTP client


class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)] as received
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        vals = self.header_all(name)
        assert len(vals) <= 1, f"{name} appears {len(vals)} times: {vals}"
        return vals[0] if vals else None

    def header_all(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return f"<Response {self.status} {self.headers} {self.body[:200]!r}>"


class Closed(Exception):
    """The server closed the connection where a response was expected."""


class HttpConn:
    """A raw TCP connection with a response parser that frames responses
    exactly (Content-Length, chunked, or close-delimited)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False
        self.reset = False

    # -- low level --
    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
            self.reset = True
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _read_until(self, sep, limit=1 << 20):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out, self.buf = self.buf[: i + len(sep)], self.buf[i + len(sep):]
                return out
            if len(self.buf) > limit:
                raise AssertionError(f"no {sep!r} within {limit} bytes: {self.buf[:200]!r}")
            if not self._fill():
                raise Closed(f"closed while waiting for {sep!r}; have {self.buf[:200]!r}")

    def _read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise Closed(f"closed with {len(self.buf)} of {n} bytes")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    # -- responses --
    def read_head(self):
        head = self._read_until(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        m = re.fullmatch(rb"(HTTP/1\.[01]) (\d{3}) ?(.*)", lines[0])
        assert m, f"bad status line {lines[0]!r}"
        headers = []
        for ln in lines[1:]:
            name, sep, value = ln.partition(b":")
            assert sep and name and name == name.strip(), f"bad header line {ln!r}"
            headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
        return m.group(1).decode(), int(m.group(2)), m.group(3).decode("latin-1"), headers, head

    def read_response(self, method="GET", allow_interim=False):
        """The next response.  1xx responses are returned only when
        allow_interim, otherwise they are an error."""
        version, status, reason, headers, raw = self.read_head()
        r = Response(version, status, reason, headers, b"", raw)
        if 100 <= status < 200:
            assert allow_interim, f"unexpected interim response {raw!r}"
            return r
        te = r.header("Transfer-Encoding")
        cl = r.header("Content-Length")
        if method == "HEAD" or status in (204, 304):
            return r
        if te is not None:
            assert te.lower() == "chunked", te
            assert cl is None, "response has both Content-Length and Transfer-Encoding"
            body = b""
            while True:
                size_line = self._read_until(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    while self._read_until(b"\r\n") != b"\r\n":
                        pass
                    break
                body += self._read_exact(size)
                assert self._read_exact(2) == b"\r\n"
            r.body = body
        elif cl is not None:
            assert re.fullmatch(r"\d+", cl), cl
            r.body = self._read_exact(int(cl))
        else:
            while self._fill():
                pass
            r.body, self.buf = self.buf, b""
        return r

    def request(self, method, path, headers=None, body=b"", version="1.1"):
        self.send(build_request(method, path, headers, body, version))
        return self.read_response(method)

    def expect_closed(self, timeout=3.0):
        """Assert that the server closes the connection (EOF or reset)
        without sending anything more, within timeout."""
        self.sock.settimeout(timeout)
        try:
            while self._fill():
                pass
        except socket.timeout:
            raise AssertionError(f"connection still open after {timeout} s; "
                                 f"unread {self.buf[:200]!r}") from None
        assert self.buf == b"", f"unexpected bytes after the response: {self.buf[:300]!r}"

    def closed_within(self, timeout):
        """Seconds until the server closed the connection (sending nothing
        but possibly one response first), or None if it stayed open."""
        t0 = time.monotonic()
        self.sock.settimeout(timeout)
        try:
            while self._fill():
                pass
        except socket.timeout:
            return None
        return time.monotonic() - t0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def build_request(method, path, headers=None, body=b"", version="1.1"):
    """A well-formed request; headers is a list of (name, value) pairs or a
    dict.  Host is added for HTTP/1.1 unless given; Content-Length is
    added when there is a body and no framing header was given."""
    hdrs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in hdrs}
    if version == "1.1" and "host" not in names:
        hdrs.insert(0, ("Host", "localhost"))
    if body and "content-length" not in names and "transfer-encoding" not in names:
        hdrs.append(("Content-Length", str(len(body))))
    head = f"{method} {path} HTTP/{version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs)
    return head.encode("latin-1") + b"\r\n" + body


def parse_metrics(text):
    """Prometheus text format -> {(name, frozenset(labels.items())): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)', line)
        assert m, f"bad metrics line {line!r}"
        labels = {}
        if m.group(3):
            for lm in re.finditer(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?', m.group(3)):
                labels[lm.group(1)] = lm.group(2)
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


class Metrics(dict):
    def value(self, name, **labels):
        key = (name, frozenset(labels.items()))
        assert key in self, f"metric {name}{labels} missing"
        return self[key]


# ------------------------------------------------------------------ process


class Gateway:
    def __init__(self, args, workers, listen=True):
        # listen=False: the addresses come from a --config file only (a
        # --listen on the command line would replace the file's list).
        where = ["--listen", f"{HOST}:0"] if listen else []
        self.args = [RINGGATE_BIN, *where, "--workers", str(workers), *args]
        self.lines = []
        self.cond = threading.Condition()
        self.port = None
        self.conns = []
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self.reader.start()

    def _drain_stderr(self):
        # Read until EOF so the process never blocks on a full pipe.
        for raw in iter(self.proc.stderr.readline, b""):
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # EOF marker
            self.cond.notify_all()

    @property
    def stderr(self):
        with self.cond:
            return "".join(l for l in self.lines if l is not None)

    def wait_for_line(self, pattern, timeout, start=0):
        """The first match of regex pattern in a stderr line at index >= start."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    line = self.lines[i]
                    if line is None:
                        raise AssertionError(f"ringgate exited (status {self.proc.poll()}) "
                                             f"before printing /{pattern}/:\n{self.stderr}")
                    m = rx.search(line)
                    if m:
                        return m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no /{pattern}/ on stderr within {timeout} s:\n"
                                         f"{self.stderr}")
                self.cond.wait(left)

    def line_count(self):
        with self.cond:
            return len(self.lines)

    def start(self):
        m = self.wait_for_line(r"listening on 127\.0\.0\.1:(\d+)", START_TIMEOUT_S)
        self.port = int(m.group(1))
        self.wait_for_line(r"ready:", START_TIMEOUT_S)
        return self

    # -- clients --
    def connect(self, timeout=SOCK_TIMEOUT_S):
        s = socket.create_connection((HOST, self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = HttpConn(s)
        self.conns.append(c)
        return c

    def get(self, path, method="GET", headers=None):
        c = self.connect()
        try:
            hdrs = [("Connection", "close")] + list((headers or {}).items())
            return c.request(method, path, hdrs)
        finally:
            c.close()

    def metrics(self):
        r = self.get("/metrics")
        assert r.status == 200, r
        return Metrics(parse_metrics(r.body.decode()))

    # -- process --
    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        """Stop the process; returns a list of problems (empty when clean)."""
        for c in self.conns:
            c.close()
        problems = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append(f"did not exit within {STOP_TIMEOUT_S} s of SIGTERM; killed")
        self.reader.join(timeout=5)
        if self.proc.returncode != 0:
            problems.append(f"exit status {self.proc.returncode}")
        bad = sanitizer_report(self.stderr)
        if bad:
            problems.append(f"sanitizer report ({bad})")
        return problems


@pytest.fixture
def ringgate():
    """Factory: ringgate(*extra_args, workers=2) -> a started Gateway."""
    started = []

    def start(*args, workers=2):
        gw = Gateway([str(a) for a in args], workers)
        started.append(gw)
        return gw.start()

    yield start
    stop_gateways(started)


def stop_gateways(started):
    """Teardown of a gateway factory: stop each one, show its stderr (pytest
    prints it only when the test fails), and fail on a bad exit or a
    sanitizer report."""
    failures = []
    for gw in started:
        problems = gw.stop()
        print(f"--- ringgate stderr ({' '.join(gw.args[1:])}) ---\n{gw.stderr}")
        if problems:
            failures.append(f"{' '.join(gw.args)}: {'; '.join(problems)}\n"
                            f"--- stderr ---\n{gw.stderr[-20000:]}")
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


@pytest.fixture
def static_file(tmp_path):
    """A small JSON file for --static routes."""
    p = tmp_path / "r.json"
    p.write_bytes(b'{"hello":"world"}\n')
    return p
