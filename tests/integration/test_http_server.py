"""
test_http_server.py - ringgate's HTTP/1.1 server, end to end, against the
real binary: admin endpoints and metrics, static routes, keep-alive and
pipelining, request bodies, request-smuggling defences (RFC 9112), limits,
timeouts, many connections, graceful drain, the command line, and garbage.

Protocol-level checks use raw sockets so that the exact bytes on the wire
are under the test's control; conftest.HttpConn frames responses by
Content-Length / chunked, so a response that is one byte off shows up as a
broken *next* response.
"""
import errno
import random
import re
import resource
import select
import shutil
import selectors
import signal
import socket
import subprocess
import time

import pytest

from conftest import HOST, Closed, HttpConn, build_request, parse_metrics, run_cli

# The gRPC code in ringgate's JSON error body for each HTTP status it raises.
GRPC_CODE = {400: 3, 404: 5, 405: 12, 408: 4, 413: 8, 414: 3, 431: 8, 501: 12, 505: 12}

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"


def assert_error(r, status):
    """r is ringgate's JSON error for status: {"code","message","details"}."""
    assert r.status == status, r
    assert r.header("Content-Type") == "application/json", r
    body = r.json()
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == GRPC_CODE[status], body
    assert isinstance(body["message"], str) and body["message"], body
    assert body["details"] == [], body
    return body


def delta(m1, m0, name, **labels):
    return m1.value(name, **labels) - m0.value(name, **labels)


def wait_until(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


def rejected_or_closed(c):
    """Read what the server does with a bad stream: a 4xx (then close) or a
    close without a response.  Returns the response or None."""
    try:
        r = c.read_response()
    except Closed:
        assert c.buf == b"", c.buf[:200]
        return None
    assert 400 <= r.status < 500 or r.status in (501, 505), r
    assert r.header("Connection") == "close", r
    c.expect_closed()
    return r


# ====================================================== 1. /healthz, /metrics


def test_healthz_is_ok_json(ringgate):
    gw = ringgate()
    r = gw.get("/healthz")
    assert r.status == 200 and r.reason == "OK"
    assert r.header("Content-Type") == "application/json"
    assert r.json() == {"status": "ok"}
    assert int(r.header("Content-Length")) == len(r.body)
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", r.header("Date"))


def test_metrics_prometheus_text(ringgate):
    gw = ringgate()
    gw.get("/healthz")
    r = gw.get("/metrics")
    assert r.status == 200
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4")
    text = r.body.decode()
    assert text.endswith("\n")

    # Every sample belongs to a family announced by # TYPE (histogram
    # samples by their base name), and each family is typed once.
    types = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in types, f"{name} typed twice"
            assert kind in ("counter", "gauge", "histogram"), line
            types[name] = kind
    m = parse_metrics(text)
    for name, _ in m:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or types.get(base) == "histogram", f"{name} has no # TYPE"
        if types.get(name) == "counter":
            assert name.endswith("_total"), name

    assert types["ringgate_connections_open"] == "gauge"
    assert types["ringgate_connections_accepted_total"] == "counter"
    assert types["ringgate_http_requests_total"] == "counter"
    assert types["ringgate_http_parse_errors_total"] == "counter"
    assert types["ringgate_http_timeouts_total"] == "counter"
    h = "ringgate_http_request_duration_seconds"
    assert types[h] == "histogram"

    mm = gw.metrics()
    assert mm.value("ringgate_connections_open") >= 1
    assert mm.value("ringgate_connections_accepted_total") >= 3
    for cls in ("1xx", "2xx", "3xx", "4xx", "5xx"):
        mm.value("ringgate_http_requests_total", code=cls)
    assert mm.value("ringgate_http_requests_total", code="2xx") >= 2
    for kind in ("cl_and_te", "bare_lf", "obs_fold", "host_missing", "chunk_size"):
        mm.value("ringgate_http_parse_errors_total", kind=kind)
    for kind in ("header", "body", "idle", "send"):
        mm.value("ringgate_http_timeouts_total", kind=kind)

    # Histogram: le ascending, cumulative counts non-decreasing, +Inf last
    # and equal to _count, _sum present.
    buckets = [(dict(labels)["le"], v) for (name, labels), v in mm.items()
               if name == h + "_bucket"]
    assert len(buckets) >= 5
    assert buckets[-1][0] == "+Inf"
    bounds = [float(le) for le, _ in buckets[:-1]]
    assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds)
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), counts
    assert counts[-1] == mm.value(h + "_count")
    assert mm.value(h + "_count") >= 2
    assert 0 <= mm.value(h + "_sum") < 60


def test_metrics_counters_move(ringgate):
    gw = ringgate()
    m0 = gw.metrics()
    n = 7
    c = gw.connect()
    for _ in range(n):
        assert c.request("GET", "/healthz").status == 200
    c.close()
    bad = gw.connect()
    bad.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n")
    assert_error(bad.read_response(), 400)
    bad.expect_closed()
    bad.close()
    nf = gw.get("/no/such/path")
    assert nf.status == 404
    m1 = gw.metrics()

    # m0's own scrape is counted once its response is queued, so it shows
    # in m1; m1's scrape is not in m1 yet.
    assert delta(m1, m0, "ringgate_http_requests_total", code="2xx") == n + 1
    assert delta(m1, m0, "ringgate_http_requests_total", code="4xx") == 2
    assert delta(m1, m0, "ringgate_http_requests_total", code="5xx") == 0
    assert delta(m1, m0, "ringgate_http_parse_errors_total", kind="obs_fold") == 1
    assert delta(m1, m0, "ringgate_http_parse_errors_total", kind="bare_lf") == 0
    h = "ringgate_http_request_duration_seconds"
    assert delta(m1, m0, h + "_count") == n + 3
    assert delta(m1, m0, h + "_bucket", le="+Inf") == n + 3
    # keep-alive conn, rejected conn, 404 conn, m1's conn.
    assert delta(m1, m0, "ringgate_connections_accepted_total") == 4
    assert m1.value("ringgate_http_response_bytes_total") > m0.value(
        "ringgate_http_response_bytes_total")

    # The gauge returns to just the scraping connection once clients left.
    assert wait_until(lambda: gw.metrics().value("ringgate_connections_open") == 1, 5)


# ============================================== 2. static routes, 404, 405


def test_static_get_and_head(ringgate, static_file):
    gw = ringgate("--static", f"/r={static_file}")
    data = static_file.read_bytes()
    c = gw.connect()
    g = c.request("GET", "/r")
    assert g.status == 200 and g.body == data
    assert g.header("Content-Type") == "application/json"
    assert g.header("Content-Length") == str(len(data))

    # HEAD: the same headers, no body.  Pipelining a GET behind it proves
    # that no body bytes followed the head.
    c.send(build_request("HEAD", "/r") + build_request("GET", "/healthz"))
    h = c.read_response("HEAD")
    assert h.status == 200 and h.body == b""
    assert h.header("Content-Length") == str(len(data))
    assert h.header("Content-Type") == g.header("Content-Type")
    nxt = c.read_response()
    assert nxt.status == 200 and nxt.json() == {"status": "ok"}

    hz = c.request("HEAD", "/healthz")
    assert hz.status == 200 and hz.header("Content-Length") == '15'
    assert c.request("GET", "/healthz").status == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"])
def test_static_other_methods_405(ringgate, static_file, method):
    gw = ringgate("--static", f"/r={static_file}")
    c = gw.connect()
    r = c.request(method, "/r", body=b'{"x":1}')
    body = assert_error(r, 405)
    assert r.header("Allow") == "GET, HEAD"
    assert method in body["message"]
    assert r.header("Connection") is None  # not a framing error: stays open
    assert c.request("GET", "/r").status == 200
    # Admin endpoints are read-only too.
    r = c.request(method, "/healthz", body=b"x")
    assert_error(r, 405)
    assert r.header("Allow") == "GET, HEAD"


def test_unknown_path_404(ringgate, static_file):
    gw = ringgate("--static", f"/r={static_file}")
    for path in ("/nope", "/r/", "/R", "/healthz/x", "/"):
        r = gw.get(path)
        body = assert_error(r, 404)
        assert isinstance(body["message"], str)
    # HEAD of an unknown path: same status and length, no body.
    c = gw.connect()
    c.send(build_request("HEAD", "/nope") + HEALTHZ)
    h = c.read_response("HEAD")
    assert h.status == 404 and h.body == b"" and int(h.header("Content-Length")) > 0
    assert c.read_response().status == 200


def test_error_body_is_valid_json_for_hostile_paths(ringgate):
    gw = ringgate()
    for path in ('/a"b\\c', "/%22%5C", "/" + "q" * 500, "/x'<script>"):
        r = gw.get(path)
        body = assert_error(r, 404)  # json.loads succeeded
        assert path[:100] in body["message"]  # the path, escaped and bounded
        assert len(r.body) < 2000


def test_query_string_and_absolute_form(ringgate):
    gw = ringgate()
    assert gw.get("/healthz?verbose=1&x=%20").status == 200
    c = gw.connect()
    c.send(b"GET http://localhost/healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
    r = c.read_response()
    assert r.status == 200 and r.json() == {"status": "ok"}
    # Leading empty lines before the request line are allowed (RFC 9112 2.2).
    c.send(b"\r\n\r\n" + HEALTHZ)
    assert c.read_response().status == 200


def test_static_large_file_and_backpressure(ringgate, tmp_path):
    big = random.Random(7).randbytes(3 << 20)
    f = tmp_path / "big.bin"
    f.write_bytes(big)
    gw = ringgate("--static", f"/big={f}")
    c = gw.connect(timeout=10)
    # Four 3 MiB responses asked for at once, and not read for a while:
    # the server must stop at its output high-water mark, then resume.
    c.send((build_request("GET", "/big") * 4) + HEALTHZ)
    time.sleep(0.5)
    for _ in range(4):
        r = c.read_response()
        assert r.status == 200
        assert r.header("Content-Type") == "application/octet-stream"
        assert r.body == big
    assert c.read_response().status == 200


# ============================================================ 3. keep-alive


def test_keepalive_many_requests_one_connection(ringgate, static_file):
    gw = ringgate("--static", f"/r={static_file}")
    m0 = gw.metrics()
    c = gw.connect()
    for i in range(300):
        path = ("/healthz", "/r", "/missing")[i % 3]
        r = c.request("GET", path)
        assert r.status == (200, 200, 404)[i % 3]
        assert r.header("Connection") is None
    m1 = gw.metrics()
    assert delta(m1, m0, "ringgate_connections_accepted_total") == 2  # c and m1's
    assert c.request("GET", "/healthz").status == 200


def test_http10_without_keepalive_closes(ringgate):
    gw = ringgate()
    c = gw.connect()
    c.send(b"GET /healthz HTTP/1.0\r\n\r\n" + HEALTHZ)
    r = c.read_response()
    assert r.status == 200 and r.json() == {"status": "ok"}
    assert r.header("Connection") == "close"
    c.expect_closed()


def test_http10_keepalive_stays_open(ringgate):
    gw = ringgate()
    c = gw.connect()
    for _ in range(3):
        c.send(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.header("Connection").lower() == "keep-alive"
    # Host is optional on 1.0; a 1.1 request may follow on the same conn.
    assert c.request("GET", "/healthz").status == 200
    c.send(b"GET /healthz HTTP/1.0\r\n\r\n")
    assert c.read_response().header("Connection") == "close"
    c.expect_closed()


@pytest.mark.parametrize("value", ["close", "Close", "keep-alive, close", "TE, close"])
def test_http11_connection_close(ringgate, value):
    gw = ringgate()
    c = gw.connect()
    c.send(build_request("GET", "/healthz", [("Connection", value)]) + HEALTHZ)
    r = c.read_response()
    assert r.status == 200
    assert r.header("Connection") == "close"
    c.expect_closed()  # the pipelined request is not answered


@pytest.mark.parametrize("workers", [1, 2])
def test_many_short_connections_each_answered(ringgate, workers):
    # Connection: close, read by Content-Length, close at once: the
    # server's lingering close of one connection overlaps the accept of
    # the next, which gets the same descriptor number.
    gw = ringgate(workers=workers)
    for i in range(400):
        c = gw.connect()
        try:
            r = c.request("GET", "/healthz" if i % 2 else "/missing",
                          [("Connection", "close")])
        except Closed as e:
            raise AssertionError(f"connection {i}: closed without a response ({e})") from None
        assert r.status == (200 if i % 2 else 404)
        c.close()


def test_client_half_close_still_gets_response(ringgate):
    gw = ringgate()
    c = gw.connect()
    c.send(HEALTHZ + HEALTHZ)
    c.sock.shutdown(socket.SHUT_WR)
    assert c.read_response().status == 200
    assert c.read_response().status == 200
    c.expect_closed()


def test_request_delivered_byte_by_byte(ringgate, static_file):
    gw = ringgate("--static", f"/r={static_file}")
    c = gw.connect()
    raw = build_request("GET", "/r", [("User-Agent", "trickle"), ("Accept", "*/*")])
    for i in range(len(raw)):
        c.send(raw[i:i + 1])
        if i % 8 == 0:
            time.sleep(0.002)
    r = c.read_response()
    assert r.status == 200 and r.body == static_file.read_bytes()


# ============================================================ 4. pipelining


def pipeline_batch(n, seed):
    """n requests over several paths and methods with what each must get."""
    rng = random.Random(seed)
    reqs, expect = [], []
    for i in range(n):
        kind = rng.choice(["healthz", "static", "missing", "head", "post", "metrics"])
        if kind == "healthz":
            reqs.append(build_request("GET", f"/healthz?i={i}"))
            expect.append(("GET", 200, b'{"status":"ok"}'))
        elif kind == "static":
            reqs.append(build_request("GET", "/r"))
            expect.append(("GET", 200, b'{"hello":"world"}\n'))
        elif kind == "missing":
            reqs.append(build_request("GET", f"/missing/{i}"))
            expect.append(("GET", 404, f"/missing/{i}".encode()))
        elif kind == "head":
            reqs.append(build_request("HEAD", "/r"))
            expect.append(("HEAD", 200, b""))
        elif kind == "post":
            body = f'{{"n":{i}}}'.encode() * (i % 5 + 1)
            reqs.append(build_request("POST", "/r", body=body))
            expect.append(("POST", 405, b"POST"))
        else:
            reqs.append(build_request("GET", "/metrics"))
            expect.append(("GET", 200, b"ringgate_connections_open"))
    return reqs, expect


def check_pipelined(c, expect):
    for i, (method, status, needle) in enumerate(expect):
        r = c.read_response(method)
        assert r.status == status, f"response {i}: {r}"
        if method == "HEAD":
            assert r.body == b"" and r.header("Content-Length") == "18"
        elif status == 200 and needle.startswith(b"{"):
            assert r.body == needle, f"response {i}: {r}"
        else:
            assert needle in r.body, f"response {i}: {r}"


def test_pipelining_100_requests_in_one_write(ringgate, static_file):
    gw = ringgate("--static", f"/r={static_file}")
    reqs, expect = pipeline_batch(100, seed=1)
    reqs.append(build_request("GET", "/healthz", [("Connection", "close")]))
    expect.append(("GET", 200, b'{"status":"ok"}'))
    c = gw.connect()
    c.send(b"".join(reqs))
    check_pipelined(c, expect)
    c.expect_closed()


def test_pipelining_split_at_random_points(ringgate, static_file):
    gw = ringgate("--static", f"/r={static_file}")
    reqs, expect = pipeline_batch(100, seed=2)
    stream = b"".join(reqs)
    rng = random.Random(3)
    c = gw.connect()
    i = 0
    while i < len(stream):
        n = rng.randint(1, 700)
        c.send(stream[i:i + n])
        i += n
        time.sleep(0.001)
    check_pipelined(c, expect)
    assert c.request("GET", "/healthz").status == 200


# ================================================================ 5. bodies


def test_content_length_body_is_framed(ringgate, static_file):
    gw = ringgate("--static", f"/r={static_file}")
    c = gw.connect()
    body = b"GET /healthz HTTP/1.1\r\nHost: smuggled\r\n\r\n"  # looks like a request
    c.send(build_request("POST", "/r", body=body)
           + build_request("GET", "/healthz", [("Content-Length", "5")], b"abcde")
           + build_request("GET", "/r"))
    assert_error(c.read_response(), 405)
    r = c.read_response()
    assert r.status == 200 and r.json() == {"status": "ok"}
    r = c.read_response()
    assert r.status == 200 and r.body == static_file.read_bytes()
    # Nothing else: the body that looked like a request was not one.
    c.sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        c._fill()


CHUNKED_BODY = (b"5;name=value\r\nhello\r\n"
                b"6;a;b=\"quoted;\\\"str\"\r\n world\r\n"
                b"A\r\n0123456789\r\n"
                b"0;last\r\n"
                b"X-Trailer: t\r\nX-Other: u\r\n\r\n")


def test_chunked_body_with_extensions_and_trailers(ringgate, static_file):
    gw = ringgate("--static", f"/r={static_file}")
    c = gw.connect()
    te = [("Transfer-Encoding", "chunked")]
    c.send(build_request("POST", "/r", te) + CHUNKED_BODY
           + build_request("GET", "/healthz", [("Transfer-Encoding", "Chunked")])
           + b"3\r\nabc\r\n0\r\n\r\n"
           + build_request("GET", "/r"))
    assert_error(c.read_response(), 405)
    assert c.read_response().json() == {"status": "ok"}
    assert c.read_response().body == static_file.read_bytes()


def test_chunked_body_byte_by_byte(ringgate):
    gw = ringgate()
    c = gw.connect()
    raw = build_request("GET", "/healthz", [("Transfer-Encoding", "chunked")]) + CHUNKED_BODY
    for i in range(len(raw)):
        c.send(raw[i:i + 1])
        if i % 4 == 0:
            time.sleep(0.002)
    c.send(HEALTHZ)
    assert c.read_response().status == 200
    assert c.read_response().status == 200


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_expect_100_continue(ringgate, framing):
    gw = ringgate()
    c = gw.connect()
    body = b"0123456789"
    if framing == "length":
        hdrs = [("Content-Length", "10"), ("Expect", "100-continue")]
        rest = body
    else:
        hdrs = [("Transfer-Encoding", "chunked"), ("Expect", "100-Continue")]
        rest = b"a\r\n" + body + b"\r\n0\r\n\r\n"
    c.send(build_request("GET", "/healthz", hdrs))
    interim = c.read_response(allow_interim=True)
    assert interim.status == 100 and interim.reason == "Continue"
    assert interim.raw_head == b"HTTP/1.1 100 Continue\r\n\r\n"
    c.send(rest)
    r = c.read_response()
    assert r.status == 200 and r.json() == {"status": "ok"}
    # Only one 100 per request, and the next request gets none unasked.
    c.send(HEALTHZ)
    assert c.read_response().status == 200


def test_expect_100_continue_not_sent_for_too_large_body(ringgate):
    gw = ringgate("--max-body", "1000")
    c = gw.connect()
    c.send(build_request("POST", "/healthz",
                         [("Content-Length", "5000"), ("Expect", "100-continue")]))
    r = c.read_response()  # a 100 would fail here
    assert_error(r, 413)
    assert r.header("Connection") == "close"
    c.expect_closed()


def test_expect_100_continue_http10_gets_no_interim(ringgate):
    gw = ringgate()
    c = gw.connect()
    c.send(b"GET /healthz HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
    c.sock.settimeout(0.5)
    with pytest.raises(socket.timeout):
        c._fill()
    c.sock.settimeout(5)
    c.send(b"abc")
    assert c.read_response().status == 200


def test_body_limit_exact_is_accepted(ringgate):
    gw = ringgate("--max-body", "1000")
    c = gw.connect()
    c.send(build_request("GET", "/healthz", body=b"x" * 1000))
    assert c.read_response().status == 200
    c.send(build_request("GET", "/healthz", [("Transfer-Encoding", "chunked")])
           + b"1f4\r\n" + b"y" * 500 + b"\r\n1f4\r\n" + b"z" * 500 + b"\r\n0\r\n\r\n")
    assert c.read_response().status == 200


def test_chunk_size_over_max_body_413_before_data(ringgate):
    gw = ringgate("--max-body", "1000")
    c = gw.connect()
    # The declared size alone is over the limit: no need to wait for data.
    c.send(build_request("POST", "/healthz", [("Transfer-Encoding", "chunked")])
           + b"fffffff\r\n")
    r = c.read_response()
    assert_error(r, 413)
    c.expect_closed()


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_body_over_max_body_413(ringgate, framing):
    gw = ringgate("--max-body", "1000")
    m0 = gw.metrics()
    c = gw.connect()
    if framing == "length":
        req = build_request("POST", "/healthz", body=b"x" * 1001)
    else:
        req = (build_request("POST", "/healthz", [("Transfer-Encoding", "chunked")])
               + b"258\r\n" + b"a" * 600 + b"\r\n258\r\n" + b"b" * 600 + b"\r\n0\r\n\r\n")
    c.send(req + HEALTHZ)
    r = c.read_response()
    assert_error(r, 413)
    assert r.header("Connection") == "close"
    c.expect_closed()
    m1 = gw.metrics()
    assert delta(m1, m0, "ringgate_http_parse_errors_total", kind="body_too_large") == 1


def test_large_bodies_are_framed(ringgate):
    gw = ringgate()
    c = gw.connect(timeout=10)
    body = random.Random(5).randbytes(900_000)
    c.send(build_request("GET", "/healthz", body=body) + HEALTHZ)
    assert c.read_response().status == 200
    assert c.read_response().status == 200
    # 1000 chunks (extensions on a few: their bytes count against the
    # 4 KiB chunk-metadata budget).
    chunks = b"".join(b"%x%s\r\n%s\r\n" % (len(p), b";n=%d" % i if i % 100 == 0 else b"", p)
                      for i, p in enumerate(body[k:k + 900] for k in range(0, 900_000, 900)))
    c.send(build_request("GET", "/healthz", [("Transfer-Encoding", "chunked")])
           + chunks + b"0\r\n\r\n" + HEALTHZ)
    assert c.read_response().status == 200
    assert c.read_response().status == 200


def test_header_names_case_insensitive_and_obs_text_values(ringgate):
    gw = ringgate()
    c = gw.connect()
    c.send(b"GET /healthz HTTP/1.1\r\nhOsT: localhost\r\ncontent-LENGTH: 3\r\n"
           b"X-Name: caf\xc3\xa9 \xff\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\nabc" + HEALTHZ)
    assert c.read_response().status == 200
    assert c.read_response().status == 200


def test_pipelined_stream_larger_than_receive_buffers(ringgate):
    gw = ringgate("--buffer-size", "4096")
    reqs = [build_request("GET", f"/healthz?n={i}", [("X-Pad", "p" * (i % 300))])
            for i in range(600)]
    stream = b"".join(reqs)
    assert len(stream) > 20 * 4096
    c = gw.connect(timeout=10)
    c.send(stream)
    for i in range(600):
        r = c.read_response()
        assert r.status == 200, (i, r)
    assert c.request("GET", "/healthz").status == 200


def test_slow_reader_within_send_timeout_gets_whole_response(ringgate, tmp_path):
    # --send-timeout bounds the time *without* the client reading, not the
    # time to transfer a large response to a client that reads steadily.
    # Three 4 MiB responses are more than the kernel's socket buffers
    # (tcp_wmem max is 4 MiB), so most of them wait in ringgate's queue
    # while the client reads at a steady 4 MB/s for ~3 s.
    big = random.Random(11).randbytes(4 << 20)
    f = tmp_path / "big.bin"
    f.write_bytes(big)
    gw = ringgate("--static", f"/big={f}", "--send-timeout", "1")
    s = socket.create_connection((HOST, gw.port), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    c = HttpConn(s)
    gw.conns.append(c)
    c.send(build_request("GET", "/big") * 3)
    rate = 4e6
    data = bytearray()
    t0 = time.monotonic()
    while len(data) < 3 * len(big) and time.monotonic() - t0 < 10:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        ahead = len(data) / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    took = time.monotonic() - t0
    c.buf = bytes(data)
    for i in range(3):
        try:
            r = c.read_response()
        except Closed:
            raise AssertionError(f"cut off after {len(data)} bytes, {took:.1f} s, "
                                 f"while reading steadily") from None
        assert r.status == 200 and r.body == big, i
    assert took > 2, took  # the reader really was slower than the timeout
    m = gw.metrics()
    assert m.value("ringgate_http_timeouts_total", kind="send") == 0


def test_client_that_stops_reading_is_cut_off(ringgate, tmp_path):
    big = random.Random(12).randbytes(4 << 20)
    f = tmp_path / "big.bin"
    f.write_bytes(big)
    gw = ringgate("--static", f"/big={f}", "--send-timeout", "1")
    c = gw.connect()
    c.send(build_request("GET", "/big"))
    assert wait_until(
        lambda: gw.metrics().value("ringgate_http_timeouts_total", kind="send") == 1, 5, 0.2)
    assert wait_until(lambda: gw.metrics().value("ringgate_connections_open") == 1, 5)
    c.close()


def test_client_reset_mid_response(ringgate, tmp_path):
    big = random.Random(13).randbytes(2 << 20)
    f = tmp_path / "big.bin"
    f.write_bytes(big)
    gw = ringgate("--static", f"/big={f}")
    for _ in range(10):
        c = gw.connect()
        c.send(build_request("GET", "/big") * 5)
        c.sock.recv(1000)
        # RST instead of FIN: the server's pending sends fail.
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        c.close()
    assert gw.get("/healthz").status == 200
    assert wait_until(lambda: gw.metrics().value("ringgate_connections_open") == 1, 5)


def test_content_types_by_extension(ringgate, tmp_path):
    files = {"a.txt": "text/plain; charset=utf-8", "b.html": "text/html; charset=utf-8",
             "c.yaml": "application/yaml", "d.bin": "application/octet-stream"}
    args = []
    for name in files:
        (tmp_path / name).write_bytes(name.encode())
        args += ["--static", f"/{name}={tmp_path / name}"]
    gw = ringgate(*args)
    for name, ctype in files.items():
        r = gw.get(f"/{name}")
        assert r.status == 200 and r.body == name.encode()
        assert r.header("Content-Type") == ctype


# ================================================ 6. request-smuggling defences


def post(headers, body=b"", version="1.1", host=True):
    head = f"POST /healthz HTTP/{version}\r\n".encode()
    if host:
        head += b"Host: localhost\r\n"
    return head + headers + b"\r\n" + body


SMUGGLING = [
    # (id, bytes, status, acceptable parse-error kinds)
    ("cl_then_te", post(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
     400, {"cl_and_te"}),
    ("te_then_cl", post(b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n"),
     400, {"cl_and_te"}),
    ("cl_twice_different", post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"),
     400, {"cl_conflict"}),
    ("cl_list_different", post(b"Content-Length: 5, 6\r\n", b"hello!"), 400, {"cl_conflict"}),
    ("te_gzip", post(b"Transfer-Encoding: gzip\r\n", b"0\r\n\r\n"), 501, {"te_unsupported"}),
    ("te_unknown_xchunked", post(b"Transfer-Encoding: xchunked\r\n", b"0\r\n\r\n"),
     501, {"te_unsupported"}),
    ("te_chunked_gzip", post(b"Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n"),
     400, {"te_not_chunked_last"}),
    ("te_chunked_chunked", post(b"Transfer-Encoding: chunked, chunked\r\n", b"0\r\n\r\n"),
     400, {"te_not_chunked_last"}),
    ("te_two_fields_chunked", post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"
                                   b"\r\n", b"0\r\n\r\n"), 400, {"te_not_chunked_last"}),
    ("te_http10", post(b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n", version="1.0",
                       host=False), 400, {"te_http10"}),
    ("obs_fold_space", post(b"X-A: a\r\n b\r\nContent-Length: 0\r\n"), 400, {"obs_fold"}),
    ("obs_fold_tab", post(b"X-A: a\r\n\tb\r\n"), 400, {"obs_fold"}),
    ("obs_fold_cl", post(b"Content-Length:\r\n 5\r\n", b"hello"), 400, {"obs_fold"}),
    ("space_before_colon", post(b"Content-Length : 5\r\n", b"hello"),
     400, {"space_before_colon"}),
    ("tab_before_colon", post(b"Transfer-Encoding\t: chunked\r\n", b"0\r\n\r\n"),
     400, {"space_before_colon"}),
    ("nul_in_value", post(b"X-A: a\x00b\r\n"), 400, {"bad_header_value"}),
    ("ctl_in_value", post(b"X-A: a\x01b\r\n"), 400, {"bad_header_value"}),
    ("del_in_value", post(b"X-A: a\x7fb\r\n"), 400, {"bad_header_value"}),
    ("esc_in_value", post(b"X-A: \x1b[2Jx\r\n"), 400, {"bad_header_value"}),
    ("bare_cr_in_value", post(b"X-A: a\rb\r\n"), 400, {"bare_cr", "bad_header_value"}),
    ("bare_cr_line_end", post(b"X-A: a\r\rContent-Length: 0\r\n"),
     400, {"bare_cr", "bad_header_value"}),
    ("bare_cr_request_line", b"GET /healthz HTTP/1.1\rHost: localhost\r\n\r\n",
     400, {"bare_cr", "bad_version", "bad_request_line"}),
    ("bare_lf_header", post(b"X-A: a\nContent-Length: 0\r\n"), 400, {"bare_lf"}),
    ("bare_lf_request_line", b"GET /healthz HTTP/1.1\nHost: localhost\r\n\r\n",
     400, {"bare_lf", "bad_version", "bad_request_line"}),
    ("bare_lf_head_end", b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\n",
     400, {"bare_lf"}),
    ("chunk_size_zz", post(b"Transfer-Encoding: chunked\r\n", b"zz\r\nhello\r\n0\r\n\r\n"),
     400, {"chunk_size"}),
    ("chunk_size_negative", post(b"Transfer-Encoding: chunked\r\n", b"-1\r\nx\r\n0\r\n\r\n"),
     400, {"chunk_size"}),
    # A size that cannot be represented is a malformed size line (RFC 9112
    # 7.1; nginx: 400), not a too-large body, however early it passes
    # --max-body.
    ("chunk_size_overflow", post(b"Transfer-Encoding: chunked\r\n",
                                 b"fffffffffffffffffff1\r\nx\r\n0\r\n\r\n"),
     400, {"chunk_size"}),
    ("chunk_size_0x", post(b"Transfer-Encoding: chunked\r\n", b"0x5\r\nhello\r\n0\r\n\r\n"),
     400, {"chunk_size"}),
    ("chunk_size_empty", post(b"Transfer-Encoding: chunked\r\n", b"\r\nhello\r\n0\r\n\r\n"),
     400, {"chunk_size"}),
    ("chunk_data_overrun", post(b"Transfer-Encoding: chunked\r\n", b"3\r\nhello\r\n0\r\n\r\n"),
     400, {"chunk_data_end"}),
    ("chunk_bare_lf", post(b"Transfer-Encoding: chunked\r\n", b"5\nhello\r\n0\r\n\r\n"),
     400, {"chunk_size", "bare_lf"}),
    ("cl_plus", post(b"Content-Length: +5\r\n", b"hello"), 400, {"cl_invalid"}),
    ("cl_hex", post(b"Content-Length: 0x5\r\n", b"hello"), 400, {"cl_invalid"}),
    ("cl_inner_space", post(b"Content-Length: 5 5\r\n", b"hello"), 400, {"cl_invalid"}),
    ("cl_alpha", post(b"Content-Length: abc\r\n", b"hello"), 400, {"cl_invalid"}),
    ("cl_negative", post(b"Content-Length: -1\r\n", b"hello"), 400, {"cl_invalid"}),
    ("cl_empty", post(b"Content-Length: \r\n", b"hello"), 400, {"cl_invalid"}),
    ("cl_overflow", post(b"Content-Length: 184467440737095516160\r\n", b"hello"),
     400, {"cl_invalid"}),
    ("host_missing", b"GET /healthz HTTP/1.1\r\nX-A: b\r\n\r\n", 400, {"host_missing"}),
    ("host_duplicate", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
     400, {"host_duplicate"}),
    ("header_name_bad_char", post(b"X@Y: z\r\n"), 400, {"bad_header_name"}),
    ("header_name_empty", post(b": z\r\n"), 400, {"bad_header_name"}),
    ("version_2", b"GET /healthz HTTP/2.0\r\nHost: localhost\r\n\r\n", 505,
     {"version_unsupported"}),
    ("version_lowercase", b"GET /healthz http/1.1\r\nHost: localhost\r\n\r\n", 400,
     {"bad_version"}),
    ("request_line_double_space", b"GET  /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
     400, {"bad_request_line", "bad_target"}),
    ("target_fragment", b"GET /healthz#x HTTP/1.1\r\nHost: localhost\r\n\r\n", 400,
     {"bad_target"}),
    ("target_bad_pct", b"GET /healthz%zz HTTP/1.1\r\nHost: localhost\r\n\r\n", 400,
     {"bad_target"}),
    ("host_with_userinfo", b"GET /healthz HTTP/1.1\r\nHost: user@evil\r\n\r\n", 400,
     {"bad_header_value"}),
]


def smuggling_params():
    for case in SMUGGLING:
        marks = ()
        if hasattr(case, "marks"):  # a pytest.param carrying a known-bug mark
            case, marks = case.values, case.marks
        i, r, s, k = case
        yield pytest.param(r, s, k, id=i, marks=marks)


@pytest.mark.parametrize("raw,status,kinds", list(smuggling_params()))
def test_smuggling_rejected_and_closed(ringgate, raw, status, kinds):
    gw = ringgate()
    m0 = gw.metrics()
    c = gw.connect()
    # The second request must never be answered: after an ambiguous
    # request the server cannot know where the next one starts.
    c.send(raw + HEALTHZ)
    r = c.read_response()
    assert_error(r, status)
    assert r.header("Connection") == "close"
    c.expect_closed()
    m1 = gw.metrics()
    moved = {k for k in kinds if delta(m1, m0, "ringgate_http_parse_errors_total", kind=k)}
    assert len(moved) == 1, f"parse-error kinds moved: {moved}, expected one of {kinds}"
    assert delta(m1, m0, "ringgate_http_requests_total",
                 code=f"{status // 100}xx") == 1
    # The server is unharmed.
    assert gw.get("/healthz").status == 200


# ================================================================ 7. limits


def test_request_line_over_8k_414(ringgate):
    gw = ringgate()
    m0 = gw.metrics()
    c = gw.connect()
    c.send(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n" + HEALTHZ)
    assert_error(c.read_response(), 414)
    c.expect_closed()
    # Enforced before the line ends: no need to buffer an endless line.
    c = gw.connect()
    c.send(b"GET /" + b"b" * 9000)
    assert_error(c.read_response(), 414)
    c.expect_closed()
    m1 = gw.metrics()
    assert delta(m1, m0, "ringgate_http_parse_errors_total", kind="uri_too_long") == 2
    # Just under the limit is fine (and reaches routing: 404).
    c = gw.connect()
    path = "/" + "c" * 8000
    c.send(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    assert_error(c.read_response(), 404)


def test_header_block_over_max_header_bytes_431(ringgate):
    gw = ringgate("--max-header-bytes", "4096")
    c = gw.connect()
    c.send(build_request("GET", "/healthz", [("X-Big", "v" * 5000)]) + HEALTHZ)
    assert_error(c.read_response(), 431)
    c.expect_closed()
    # Many small fields that add up.
    c = gw.connect()
    c.send(build_request("GET", "/healthz", [(f"X-F{i}", "w" * 60) for i in range(70)]))
    assert_error(c.read_response(), 431)
    c.expect_closed()
    # An unterminated head is cut off at the limit, not buffered.
    c = gw.connect()
    c.send(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"v" * 5000)
    assert_error(c.read_response(), 431)
    c.expect_closed()
    # Under the limit is served.
    assert gw.get("/healthz", headers={"X-Ok": "v" * 3500}).status == 200
    m = gw.metrics()
    assert m.value("ringgate_http_parse_errors_total", kind="headers_too_large") == 3


def test_too_many_header_fields_431(ringgate):
    gw = ringgate("--max-headers", "10")
    c = gw.connect()
    # Host + 9 more = 10 fields: allowed.
    c.send(build_request("GET", "/healthz", [(f"X-{i}", "1") for i in range(9)]))
    assert c.read_response().status == 200
    c.send(build_request("GET", "/healthz", [(f"X-{i}", "1") for i in range(10)]) + HEALTHZ)
    assert_error(c.read_response(), 431)
    c.expect_closed()
    m = gw.metrics()
    assert m.value("ringgate_http_parse_errors_total", kind="too_many_headers") == 1


def test_trailers_count_against_chunk_meta_limit(ringgate):
    gw = ringgate()
    c = gw.connect()
    trailers = b"".join(b"X-T%d: %s\r\n" % (i, b"t" * 100) for i in range(60))  # > 4 KiB
    c.send(build_request("POST", "/healthz", [("Transfer-Encoding", "chunked")])
           + b"1\r\na\r\n0\r\n" + trailers + b"\r\n" + HEALTHZ)
    r = c.read_response()
    assert 400 <= r.status < 500
    assert r.header("Connection") == "close"
    c.expect_closed()


# ======================================================= 8. slowloris, timeouts


def read_408_or_close(c, timeout):
    """Wait for the server to give up on c: returns (seconds, response|None)."""
    t0 = time.monotonic()
    c.sock.settimeout(timeout)
    try:
        r = c.read_response()
    except Closed:
        return time.monotonic() - t0, None
    except socket.timeout:
        raise AssertionError(f"no 408 / close within {timeout} s") from None
    took = time.monotonic() - t0
    c.expect_closed()
    return took, r


def test_slowloris_half_head_gets_408(ringgate):
    gw = ringgate("--header-timeout", "1")
    c = gw.connect()
    c.send(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1")
    took, r = read_408_or_close(c, 5)
    assert 0.8 <= took <= 3.0, took
    if r is not None:
        assert_error(r, 408)
        assert r.header("Connection") == "close"
    m = gw.metrics()
    assert m.value("ringgate_http_timeouts_total", kind="header") == 1
    assert m.value("ringgate_http_requests_total", code="4xx") == (1 if r else 0)


def test_slowloris_trickle_does_not_extend_header_clock(ringgate):
    gw = ringgate("--header-timeout", "1")
    c = gw.connect()
    c.send(b"GET /healthz HTTP/1.1\r\n")
    t0 = time.monotonic()
    trickle = b"Host: localhost\r\nX-Trickle: " + b"a" * 100
    cut_at = None
    for i in range(len(trickle)):
        ready, _, _ = select.select([c.sock], [], [], 0.3)
        if ready:
            cut_at = time.monotonic() - t0
            break
        try:
            c.send(trickle[i:i + 1])
        except OSError:
            cut_at = time.monotonic() - t0
            break
        if time.monotonic() - t0 > 6:
            break
    assert cut_at is not None, "a trickling client kept the head open for 6 s"
    assert 0.8 <= cut_at <= 2.5, cut_at
    try:
        r = c.read_response()
        assert_error(r, 408)
    except Closed:
        pass
    m = gw.metrics()
    assert m.value("ringgate_http_timeouts_total", kind="header") == 1


def test_header_clock_starts_per_request_on_keepalive(ringgate):
    gw = ringgate("--header-timeout", "1", "--idle-timeout", "5")
    c = gw.connect()
    # Several requests, each complete quickly, over more than the header
    # timeout in total: none is cut off.
    for _ in range(4):
        assert c.request("GET", "/healthz").status == 200
        time.sleep(0.4)
    c.send(b"GET /healthz HTTP/1.1\r\n")
    took, r = read_408_or_close(c, 5)
    assert 0.8 <= took <= 3.0, took


def test_idle_keepalive_connection_closed(ringgate):
    gw = ringgate("--idle-timeout", "1")
    c = gw.connect()
    assert c.request("GET", "/healthz").status == 200
    took = c.closed_within(5)
    assert took is not None, "idle connection not closed"
    assert 0.7 <= took <= 3.0, took
    assert c.buf == b""
    # A connection that never sends a byte is idle too.
    c2 = gw.connect()
    took = c2.closed_within(5)
    assert took is not None and took <= 3.0
    assert c2.buf == b""
    m = gw.metrics()
    assert m.value("ringgate_http_timeouts_total", kind="idle") == 2


def test_stalled_body_gets_408(ringgate):
    gw = ringgate("--body-timeout", "1")
    c = gw.connect()
    c.send(build_request("POST", "/healthz", [("Content-Length", "100")]) + b"x" * 10)
    took, r = read_408_or_close(c, 5)
    assert 0.8 <= took <= 3.0, took
    assert r is not None
    assert_error(r, 408)
    m = gw.metrics()
    assert m.value("ringgate_http_timeouts_total", kind="body") == 1


# ============================================================ 9. concurrency


def test_2000_concurrent_connections(ringgate):
    n = 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = n + 256
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    gw = ringgate(workers=2)
    m0 = gw.metrics()
    sel = selectors.DefaultSelector()
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex((HOST, gw.port))
            assert err in (0, errno.EINPROGRESS), errno.errorcode.get(err)
            socks.append(s)
            sel.register(s, selectors.EVENT_WRITE)

        # 1. All connected.
        pending = set(socks)
        deadline = time.monotonic() + 15
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                s = key.fileobj
                assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
                sel.unregister(s)
                pending.discard(s)
        assert not pending, f"{len(pending)} connections never completed"

        # All of them are open at the same time on the server.
        open_now = wait_until(
            lambda: gw.metrics().value("ringgate_connections_open") >= n + 1, 10, 0.2)
        assert open_now, gw.metrics().value("ringgate_connections_open")

        # 2. One request on each.
        req = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        for s in socks:
            assert s.send(req) == len(req)
            sel.register(s, selectors.EVENT_READ)

        # 3. Read every response to EOF.
        data = {s: b"" for s in socks}
        open_socks = set(socks)
        deadline = time.monotonic() + 15
        while open_socks and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                s = key.fileobj
                try:
                    chunk = s.recv(4096)
                except BlockingIOError:
                    continue
                if chunk:
                    data[s] += chunk
                else:
                    sel.unregister(s)
                    open_socks.discard(s)
        assert not open_socks, f"{len(open_socks)} responses never finished"
        statuses = {}
        for s in socks:
            head, _, body = data[s].partition(b"\r\n\r\n")
            status = head.split(b" ", 2)[1] if head else b"none"
            statuses[status] = statuses.get(status, 0) + 1
            assert body == b'{"status":"ok"}', data[s][:300]
        assert statuses == {b"200": n}, statuses
    finally:
        sel.close()
        for s in socks:
            s.close()

    m1 = gw.metrics()
    assert delta(m1, m0, "ringgate_connections_accepted_total") >= n + 1
    assert delta(m1, m0, "ringgate_http_requests_total", code="2xx") >= n
    assert wait_until(lambda: gw.metrics().value("ringgate_connections_open") == 1, 10, 0.2)


def test_max_connections_limit(ringgate):
    gw = ringgate("--max-connections", "3", workers=1)
    held = [gw.connect() for _ in range(3)]
    for c in held:
        assert c.request("GET", "/healthz").status == 200
    extra = gw.connect()
    try:
        extra.send(HEALTHZ)
    except OSError:
        pass
    extra.expect_closed()
    for c in held:
        c.close()

    def served():
        try:
            return gw.get("/healthz").status == 200
        except (Closed, OSError):
            return False
    assert wait_until(served, 5)
    m = gw.metrics()
    assert m.value("ringgate_connections_rejected_total") >= 1


# ============================================================== 10. drain


def test_sigterm_drains_in_flight_then_exits(ringgate):
    # More workers than connections: some workers have nothing to drain
    # and stop at once; their listeners must be closed all the same.
    gw = ringgate(workers=4)
    idle = gw.connect()
    assert idle.request("GET", "/healthz").status == 200
    busy = gw.connect()
    body = b"0123456789" * 4
    busy.send(build_request("GET", "/healthz", [("Content-Length", str(len(body)))])
              + body[:15])
    time.sleep(0.3)  # the half request reaches the server

    mark = gw.line_count()
    gw.signal(signal.SIGTERM)
    gw.wait_for_line(r"draining", 5, start=mark)
    time.sleep(0.3)

    # Idle keep-alive connections are closed by the drain.
    idle.expect_closed(timeout=3)

    # New connections are refused (or closed without a response), on
    # every worker's listener: SO_REUSEPORT spreads them by source port.
    for _ in range(16):
        try:
            late = socket.create_connection((HOST, gw.port), timeout=2)
        except (ConnectionRefusedError, ConnectionResetError):
            continue
        lc = HttpConn(late)
        gw.conns.append(lc)
        try:
            lc.send(HEALTHZ)
        except OSError:
            pass
        lc.expect_closed(timeout=3)
        lc.close()

    # The in-flight request completes, marked as the connection's last.
    busy.send(body[15:])
    r = busy.read_response()
    assert r.status == 200 and r.json() == {"status": "ok"}
    assert r.header("Connection") == "close"
    busy.expect_closed()
    idle.close()
    busy.close()

    assert gw.wait_exit(5) == 0
    assert "stopped" in gw.stderr


def test_sigterm_drain_timeout_bounds_exit(ringgate):
    gw = ringgate("--drain-timeout", "1")
    stalled = gw.connect()
    stalled.send(build_request("POST", "/healthz", [("Content-Length", "100")]) + b"half")
    stalled2 = gw.connect()
    stalled2.send(b"GET /healthz HTTP/1.1\r\nHost: loc")
    time.sleep(0.3)
    t0 = time.monotonic()
    gw.signal(signal.SIGTERM)
    assert gw.wait_exit(5) == 0
    took = time.monotonic() - t0
    assert took <= 2.5, took
    assert "drain deadline passed" in gw.stderr
    for c in (stalled, stalled2):
        c.sock.settimeout(2)
        try:
            while c._fill():
                pass
        except socket.timeout:
            raise AssertionError("stalled client not closed at exit") from None


def test_second_sigterm_aborts(ringgate):
    gw = ringgate("--drain-timeout", "30")
    stalled = gw.connect()
    stalled.send(build_request("POST", "/healthz", [("Content-Length", "100")]) + b"half")
    time.sleep(0.3)
    mark = gw.line_count()
    gw.signal(signal.SIGTERM)
    gw.wait_for_line(r"draining", 5, start=mark)
    time.sleep(0.2)
    t0 = time.monotonic()
    gw.signal(signal.SIGTERM)
    assert gw.wait_exit(5) == 0
    assert time.monotonic() - t0 <= 2.0


def test_sighup_keeps_serving(ringgate):
    gw = ringgate()
    c = gw.connect()
    assert c.request("GET", "/healthz").status == 200
    mark = gw.line_count()
    gw.signal(signal.SIGHUP)
    gw.wait_for_line(r"SIGHUP", 5, start=mark)
    assert c.request("GET", "/healthz").status == 200
    assert gw.get("/healthz").status == 200
    assert gw.proc.poll() is None


# ================================================================ 11. CLI


@pytest.mark.parametrize("args,needle", [
    (["--bogus"], "--bogus"),
    (["--workers", "0"], "--workers"),
    (["--workers", "abc"], "--workers"),
    (["--workers", "-1"], "--workers"),
    (["--workers"], "--workers"),
    (["--listen", "nonsense"], "nonsense"),
    (["--listen", "127.0.0.1:99999"], "99999"),
    (["--listen", "127.0.0.1:"], "--listen"),
    (["--max-body", "lots"], "--max-body"),
    (["--header-timeout", "0"], "--header-timeout"),
    (["--buffers", "1000"], "--buffers"),
    (["--batch-wait", "10001"], "--batch-wait"),
    (["--batch-wait", "-5"], "--batch-wait"),
    (["--log-level", "loud"], "--log-level"),
    (["--static", "noslash=/etc/hostname"], "--static"),
    (["--static", "/x=/nonexistent/file.json"], "/nonexistent/file.json"),
    (["--static", "/healthz=/etc/hostname"], "--static"),
    (["--check", "--static", "/x=/nonexistent"], "/nonexistent"),
    (["extra-positional"], "extra-positional"),
])
def test_cli_bad_arguments_exit_2(args, needle):
    p = run_cli(*args)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert needle in p.stderr, p.stderr
    assert p.stderr.count("\n") <= 3, p.stderr  # one clear message, not a dump


def _wrk_load(port, path, seconds=1, connections=64):
    """Bounded load from wrk on 127.0.0.1 (installed by deploy/debian-deps.sh)."""
    subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", f"http://{HOST}:{port}{path}"],
                   check=True, capture_output=True, timeout=seconds + 30)


def test_batch_wait_under_load(ringgate, static_file):
    """Under load from 64 connections the loop stretches its waits to gather
    batches (with a long --batch-wait it must); with --batch-wait 0 it never
    does.  Both keep answering."""
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    on = ringgate("--static", f"/r={static_file}", "--batch-wait", "1000", workers=1)
    off = ringgate("--static", f"/r={static_file}", "--batch-wait", "0", workers=1)
    m = on.metrics()
    if m.value("ringgate_loop_batch_wait_seconds") == 0:
        pytest.skip("the kernel has no io_uring minimum wait (IORING_FEAT_MIN_TIMEOUT, 6.12)")
    assert m.value("ringgate_loop_batch_wait_seconds") == pytest.approx(0.001)
    assert off.metrics().value("ringgate_loop_batch_wait_seconds") == 0

    for gw in (on, off):
        _wrk_load(gw.port, "/r")
    m_on, m_off = on.metrics(), off.metrics()
    for m in (m_on, m_off):
        assert m.value("ringgate_http_requests_total", code="2xx") > 1000
        assert m.value("ringgate_loop_completions_total") >= m.value("ringgate_loop_waits_total")
    assert m_on.value("ringgate_loop_batched_waits_total") > 0
    assert m_off.value("ringgate_loop_batched_waits_total") == 0
    assert m_off.value("ringgate_loop_waits_total") > 0
    assert on.get("/r").status == 200 and off.get("/r").status == 200


def test_cli_version():
    p = run_cli("--version")
    assert p.returncode == 0
    assert re.fullmatch(r"ringgate \d+\.\d+\.\d+\S*\n", p.stdout), p.stdout


def test_cli_help():
    p = run_cli("--help")
    assert p.returncode == 0
    for opt in ("--listen", "--workers", "--static", "--max-body", "--check", "--version"):
        assert opt in p.stdout


def test_cli_check(static_file):
    p = run_cli("--check", "--listen", "127.0.0.1:0", "--workers", "2",
                "--static", f"/r={static_file}")
    assert p.returncode == 0, p.stderr
    assert "configuration OK" in p.stdout


def test_cli_port_in_use_exits_1():
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        blocker.bind((HOST, 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        p = run_cli("--listen", f"{HOST}:{port}", "--workers", "1", timeout=15)
        assert p.returncode == 1, (p.returncode, p.stderr)
        assert f"{HOST}:{port}" in p.stderr
        assert "in use" in p.stderr.lower(), p.stderr
    finally:
        blocker.close()


# ============================================================ 12. garbage


def send_garbage(gw, data):
    c = gw.connect()
    try:
        c.send(data)
    except OSError:
        pass  # the server may close while we still write
    try:
        return rejected_or_closed(c)
    except (ConnectionResetError, BrokenPipeError):
        return None
    finally:
        c.close()  # ends the server's lingering close at once


TLS_CLIENT_HELLO = bytes.fromhex(
    "16030100c8010000c40303") + bytes(range(32)) + bytes.fromhex(
    "20") + bytes(range(32, 64)) + bytes.fromhex(
    "0008130213031301c02f0100007300000010000e00000b6578616d706c652e636f6d"
    "000a00040002001d000d0004000204030010000b000908687474702f312e31"
    "002b0003020304003300260024001d0020") + bytes(32)


@pytest.mark.parametrize("name", ["random", "huge_header_line", "huge_request_line",
                                  "tls_client_hello", "h2_preface", "nul_bytes",
                                  "only_crlf", "http09"])
def test_garbage_then_still_serving(ringgate, name):
    gw = ringgate()
    data = {
        "random": random.Random(20240601).randbytes(4096),
        "huge_header_line": b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Huge: "
                            + b"h" * 200000,
        "huge_request_line": b"GET /" + b"A" * 200000,
        "tls_client_hello": TLS_CLIENT_HELLO,
        "h2_preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00",
        "nul_bytes": b"\x00" * 3000,
        "only_crlf": b"\r\n" * 10000,  # more than a whole head may hold
        "http09": b"GET /healthz\r\n\r\n",
    }[name]
    r = send_garbage(gw, data)
    # Each of these is recognisably bad within its first bytes (or past a
    # limit): a production server answers with an error, then closes.
    assert r is not None, f"{name}: closed without a response"
    assert 400 <= r.status < 500 or (name == "h2_preface" and r.status == 505), r
    for _ in range(3):
        assert gw.get("/healthz").json() == {"status": "ok"}
    m = gw.metrics()
    assert m.value("ringgate_connections_open") == 1 or wait_until(
        lambda: gw.metrics().value("ringgate_connections_open") == 1, 5)


def test_many_garbage_connections_interleaved_with_good_ones(ringgate):
    gw = ringgate()
    rng = random.Random(99)
    good = gw.connect()
    for i in range(40):
        send_garbage(gw, rng.randbytes(rng.randint(1, 3000)))
        assert good.request("GET", "/healthz").status == 200
