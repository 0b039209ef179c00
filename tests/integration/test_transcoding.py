"""REST -> gRPC end to end: the real binary in front of real grpcio
backends, over every route form, status mapping, streaming, and failure.

Backends: examples/agents_backend.py (the README's example service) and an
in-process grpcio server for ringgate.test.v1.Errors.
"""
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from concurrent import futures

import grpc
import pytest
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, empty_pb2, message_factory

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"


def build_descriptor_set(tmp, proto, include):
    out = os.path.join(tmp, os.path.basename(proto).replace(".proto", ".pb"))
    subprocess.run(["protoc", "--include_imports", "--descriptor_set_out=" + out,
                    "-I" + include, "-I" + os.path.join(REPO, "protos"), "-I/usr/include",
                    proto], check=True)
    return out


@pytest.fixture(scope="module")
def descriptors(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("pb"))
    agents = build_descriptor_set(tmp, "agents/v1/agents.proto", os.path.join(REPO, "protos"))
    errors = build_descriptor_set(tmp, "errors_test.proto", os.path.join(REPO, "tests", "protos"))
    return agents, errors


@pytest.fixture(scope="module")
def agents_backend(descriptors):
    proc = subprocess.Popen([PY, os.path.join(REPO, "examples", "agents_backend.py"),
                             "--descriptors", descriptors[0], "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    assert line.startswith("READY"), line
    yield int(line.split()[1])
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)


def encode_status(code, message, details):
    """google.rpc.Status by hand: code=1, message=2, details=3 (Any)."""
    def field(num, payload):
        return bytes([(num << 3) | 2]) + varint(len(payload)) + payload

    def varint(v):
        out = b""
        while v >= 0x80:
            out += bytes([(v & 0x7F) | 0x80])
            v >>= 7
        return out + bytes([v])

    body = bytes([0x08]) + varint(code) + field(2, message.encode())
    for any_msg in details:
        body += field(3, any_msg.SerializeToString())
    return body


@pytest.fixture(scope="module")
def errors_backend(descriptors):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(descriptors[1], "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    cls = lambda n: factory.GetPrototype(pool.FindMessageTypeByName(n))
    FailRequest, SleepRequest = cls("ringgate.test.v1.FailRequest"), cls("ringgate.test.v1.SleepRequest")
    SleepReply, ErrorInfo = cls("ringgate.test.v1.SleepReply"), cls("ringgate.test.v1.ErrorInfo")
    codes = {c.value[0]: c for c in grpc.StatusCode}

    def fail(req, context):
        message = req.message or "failed with %d" % req.code
        if req.details:
            info = ErrorInfo(reason="QUOTA", metadata={"limit": "10"})
            known = any_pb2.Any()
            known.Pack(info)
            unknown = any_pb2.Any(type_url="type.googleapis.com/other.v1.Unknown", value=b"\x01\x02")
            context.set_trailing_metadata(
                [("grpc-status-details-bin", encode_status(req.code, message, [known, unknown]))])
        context.abort(codes[req.code], message)

    def sleep(req, context):
        time.sleep(req.ms / 1000.0)
        return SleepReply(slept="%dms" % req.ms)

    handlers = {
        "Fail": grpc.unary_unary_rpc_method_handler(
            fail, request_deserializer=FailRequest.FromString,
            response_serializer=empty_pb2.Empty.SerializeToString),
        "Sleep": grpc.unary_unary_rpc_method_handler(
            sleep, request_deserializer=SleepRequest.FromString,
            response_serializer=SleepReply.SerializeToString),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("ringgate.test.v1.Errors", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port
    server.stop(grace=0)


@pytest.fixture
def gw_agents(ringgate, descriptors, agents_backend):
    return ringgate("--descriptors", descriptors[0], "--upstream", "127.0.0.1:%d" % agents_backend)


@pytest.fixture
def gw_errors(ringgate, descriptors, errors_backend):
    return ringgate("--descriptors", descriptors[1], "--upstream", "127.0.0.1:%d" % errors_backend)


def call(gw, method, path, body=None, headers=None):
    c = gw.connect()
    try:
        hdrs = [("Connection", "close")] + list((headers or {}).items())
        data = b""
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            if not any(k.lower() == "content-type" for k, _ in hdrs):
                hdrs.append(("Content-Type", "application/json"))
        return c.request(method, path, hdrs, data)
    finally:
        c.close()


# ---- route forms -----------------------------------------------------------

def test_get_with_path_variable(gw_agents):
    r = call(gw_agents, "GET", "/v1/agents/agent-7f3a9c")
    assert r.status == 200, r
    assert r.header("content-type") == "application/json"
    a = r.json()
    assert a["id"] == "agent-7f3a9c"
    assert a["displayName"] == "Summarizer"  # lowerCamelCase
    assert a["status"] == "AGENT_STATUS_READY"  # enums by name
    assert a["executionCount"] == "12345"  # int64 as a string
    assert a["totalTokens"] == "9007199254740993"  # beyond 2^53, exact
    assert a["labels"] == {"tier": "gold"}
    assert a["tools"][0]["timeout"] == "2.500s"
    assert a["parameters"] == {"max_words": 200, "style": "brief"}
    assert a["createTime"] == "2026-01-01T00:00:00Z"
    assert len(r.header("x-request-id")) == 32


def test_additional_binding(gw_agents):
    r = call(gw_agents, "GET", "/v1/teams/search/agents/agent-7f3a9c")
    assert r.status == 200 and r.json()["team"] == "search"
    r = call(gw_agents, "GET", "/v1/teams/other/agents/agent-7f3a9c")
    assert r.status == 404 and r.json()["code"] == 5


def test_percent_encoded_path_variable(gw_agents):
    r = call(gw_agents, "GET", "/v1/agents/agent%2D7f3a9c")
    assert r.status == 200 and r.json()["id"] == "agent-7f3a9c"


def test_query_parameters(gw_agents):
    r = call(gw_agents, "GET", "/v1/agents?pageSize=5&filter=Summ")
    assert r.status == 200, r
    body = r.json()
    assert body["totalSize"] == 1 and body["agents"][0]["id"] == "agent-7f3a9c"
    r = call(gw_agents, "GET", "/v1/agents?page_size=5&filter=nothing%20here")
    assert r.status == 200 and r.json().get("agents", []) == []


def test_unknown_query_parameter_is_400(gw_agents):
    r = call(gw_agents, "GET", "/v1/agents?colour=blue")
    assert r.status == 400
    assert "colour" in r.json()["message"]


def test_bad_query_value_names_the_parameter(gw_agents):
    r = call(gw_agents, "GET", "/v1/agents?pageSize=lots")
    assert r.status == 400
    assert "pageSize" in r.json()["message"]


def test_post_body_field_create_and_conflict(gw_agents):
    agent = {"id": "agent-new1", "displayName": "Writer", "model": "m", "labels": {"a": "b"},
             "temperature": 0.25, "maxConcurrency": 4, "configDigest": "AAEC"}
    r = call(gw_agents, "POST", "/v1/agents", agent)
    assert r.status == 200, r
    got = r.json()
    assert got["id"] == "agent-new1" and got["temperature"] == 0.25
    assert got["maxConcurrency"] == 4 and got["configDigest"] == "AAEC"
    r = call(gw_agents, "POST", "/v1/agents", agent)
    assert r.status == 409 and r.json()["code"] == 6


def test_invalid_argument_from_backend(gw_agents):
    r = call(gw_agents, "POST", "/v1/agents", {"model": "m"})
    assert r.status == 400
    assert r.json() == {"code": 3, "message": "agent.display_name is required", "details": []}


def test_patch_nested_path_variable_and_field_mask(gw_agents):
    call(gw_agents, "POST", "/v1/agents", {"id": "agent-p", "displayName": "Old", "model": "m1"})
    r = call(gw_agents, "PATCH", "/v1/agents/agent-p?updateMask=displayName",
             {"displayName": "New", "model": "ignored"})
    assert r.status == 200, r
    got = r.json()
    assert got["displayName"] == "New" and got["model"] == "m1"
    assert "updateTime" in got


def test_delete_returns_empty_object(gw_agents):
    call(gw_agents, "POST", "/v1/agents", {"id": "agent-d", "displayName": "D"})
    r = call(gw_agents, "DELETE", "/v1/agents/agent-d")
    assert r.status == 200 and r.json() == {}
    r = call(gw_agents, "DELETE", "/v1/agents/agent-d")
    assert r.status == 404


def test_custom_verb_with_body_star(gw_agents):
    r = call(gw_agents, "POST", "/v1/agents/agent-7f3a9c:execute",
             {"input": "one two three", "parameters": {"x": [1, "a", None, True]}, "timeout": "1.5s"})
    assert r.status == 200, r
    e = r.json()
    assert e["agentId"] == "agent-7f3a9c"
    assert e["output"] == {"summary": "one two three", "words": 3}
    assert e["tokensUsed"] == "9"


def test_bad_json_names_the_field(gw_agents):
    r = call(gw_agents, "POST", "/v1/agents", {"displayName": 42})
    assert r.status == 400
    assert "displayName" in r.json()["message"]
    r = call(gw_agents, "POST", "/v1/agents", b'{"displayName": "x",')
    assert r.status == 400 and r.json()["code"] == 3
    r = call(gw_agents, "POST", "/v1/agents", {"displayName": "x", "colour": 1})
    assert r.status == 400 and "colour" in r.json()["message"]


def test_unsupported_content_type_is_415(gw_agents):
    r = call(gw_agents, "POST", "/v1/agents", b"displayName=x",
             {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 415


def test_unknown_path_404_and_wrong_method_405(gw_agents):
    r = call(gw_agents, "GET", "/v1/nothing")
    assert r.status == 404 and r.json()["code"] == 5
    r = call(gw_agents, "PUT", "/v1/agents/agent-7f3a9c")
    assert r.status == 405
    allow = r.header("allow")
    assert set(m.strip() for m in allow.split(",")) == {"GET", "PATCH", "DELETE"}


def test_request_id_is_kept_and_returned(gw_agents):
    r = call(gw_agents, "GET", "/v1/agents/agent-7f3a9c", headers={"X-Request-Id": "abc-123"})
    assert r.header("x-request-id") == "abc-123"


def test_keep_alive_and_pipelined_api_requests_in_order(gw_agents):
    c = gw_agents.connect()
    try:
        reqs = b"".join(
            b"GET /v1/agents/%s HTTP/1.1\r\nHost: x\r\n\r\n" % name
            for name in [b"agent-7f3a9c", b"missing-1", b"agent-7f3a9c", b"missing-2"] * 5)
        c.send(reqs)
        statuses = [c.read_response().status for _ in range(20)]
        assert statuses == [200, 404, 200, 404] * 5
    finally:
        c.close()


# ---- streaming --------------------------------------------------------------

def test_server_streaming_as_ndjson(gw_agents):
    r = call(gw_agents, "GET", "/v1/agents/agent-7f3a9c/executions/e1:stream?afterSequence=10")
    assert r.status == 200, r
    assert r.header("content-type") == "application/x-ndjson"
    lines = [json.loads(l) for l in r.body.decode().splitlines()]
    assert [l["result"]["sequence"] for l in lines] == ["11", "12", "13"]
    assert lines[0]["result"]["logLine"] == "step 11 of e1"


def test_server_streaming_as_sse(gw_agents):
    r = call(gw_agents, "GET", "/v1/agents/agent-7f3a9c/executions/e2:stream",
             headers={"Accept": "text/event-stream"})
    assert r.status == 200 and r.header("content-type") == "text/event-stream"
    events = [e for e in r.body.decode().split("\n\n") if e]
    assert len(events) == 3 and all(e.startswith("data: ") for e in events)
    assert json.loads(events[0][6:])["sequence"] == "1"


def test_error_mid_stream_is_a_final_error_record(gw_agents):
    r = call(gw_agents, "GET", "/v1/agents/agent-7f3a9c/executions/fail:stream")
    assert r.status == 200
    lines = [json.loads(l) for l in r.body.decode().splitlines()]
    assert len(lines) == 4 and "result" in lines[0]
    assert lines[-1] == {"error": {"code": 10, "message": "execution aborted mid-stream",
                                   "details": []}}
    r = call(gw_agents, "GET", "/v1/agents/agent-7f3a9c/executions/fail:stream",
             headers={"Accept": "text/event-stream"})
    assert r.body.decode().rstrip().split("\n\n")[-1].startswith("event: error\ndata: {")


def test_stream_that_fails_before_any_message_gets_the_http_status(gw_agents):
    r = call(gw_agents, "GET", "/v1/agents/nobody/executions/x:stream")
    assert r.status == 404 and r.json()["code"] == 5


# ---- status mapping, details, deadlines, upstream down -----------------------

HTTP_FOR = {1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400,
            10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401}


@pytest.mark.parametrize("code", sorted(HTTP_FOR))
def test_every_grpc_status_maps_to_its_http_status(gw_errors, code):
    r = call(gw_errors, "GET", "/v1/fail/%d?message=n%%C3%%B6pe%%20%d" % (code, code))
    assert r.status == HTTP_FOR[code], r
    assert r.json() == {"code": code, "message": "nöpe %d" % code, "details": []}


def test_error_details_decoded_when_known(gw_errors):
    r = call(gw_errors, "GET", "/v1/fail/8?details=true&message=slow%20down")
    assert r.status == 429
    body = r.json()
    assert body["code"] == 8 and body["message"] == "slow down"
    assert body["details"][0] == {"@type": "type.googleapis.com/ringgate.test.v1.ErrorInfo",
                                  "reason": "QUOTA", "metadata": {"limit": "10"}}
    assert body["details"][1] == {"@type": "type.googleapis.com/other.v1.Unknown",
                                  "value": "AQI="}


def test_deadline_from_timeout_header_is_504(gw_errors):
    r = call(gw_errors, "GET", "/v1/sleep/50")
    assert r.status == 200 and r.json() == {"slept": "50ms"}
    t0 = time.monotonic()
    r = call(gw_errors, "GET", "/v1/sleep/3000", headers={"X-Request-Timeout": "200ms"})
    assert r.status == 504 and r.json()["code"] == 4
    assert time.monotonic() - t0 < 2.0
    r = call(gw_errors, "GET", "/v1/sleep/1", headers={"X-Request-Timeout": "soon"})
    assert r.status == 400


def test_backend_down_is_503(ringgate, descriptors):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gw = ringgate("--descriptors", descriptors[1], "--upstream", "127.0.0.1:%d" % port)
    t0 = time.monotonic()
    r = call(gw, "GET", "/v1/fail/3")
    assert r.status == 503 and r.json()["code"] == 14
    assert time.monotonic() - t0 < 3


def test_backend_back_is_used_by_the_next_call(ringgate, descriptors, tmp_path):
    """After a long outage the backoff timer is far off (here up to 30 s);
    a call that finds every connection down starts a connect at once (at
    most one per initial backoff), so the first call after the backend is
    back succeeds instead of failing until the timer fires."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(f"""
descriptors: ["{descriptors[0]}"]
upstreams:
  - name: be
    endpoints: ["127.0.0.1:{port}"]
    backoff: {{initial: 50ms, max: 30s}}
services:
  - {{service: "*", upstream: be}}
""")
    gw = ringgate("--config", str(cfg), workers=1)
    end = time.monotonic() + 4.0
    while time.monotonic() < end:
        r = call(gw, "GET", "/v1/agents/agent-7f3a9c")
        assert r.status == 503 and r.json()["code"] == 14, r
        time.sleep(0.05)
    before = gw.metrics().value("ringgate_upstream_connect_failures_total", upstream="be")
    assert before >= 10  # the calls drove attempts, about one per 50 ms
    proc = subprocess.Popen([PY, os.path.join(REPO, "examples", "agents_backend.py"),
                             "--descriptors", descriptors[0], "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY"), line
        time.sleep(0.06)  # past the initial backoff since the last attempt
        r = call(gw, "GET", "/v1/agents/agent-7f3a9c")
        assert r.status == 200 and r.json()["id"] == "agent-7f3a9c", r
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_bad_descriptor_file_exits_2(tmp_path):
    bad = tmp_path / "bad.pb"
    bad.write_bytes(b"\xff\xff\xff not a descriptor set")
    p = subprocess.run([os.environ.get("RINGGATE_BIN", os.path.join(REPO, "build", "gateway", "ringgate")),
                        "--descriptors", str(bad), "--upstream", "127.0.0.1:1", "--check"],
                       capture_output=True, text=True, timeout=15)
    assert p.returncode == 2
    assert "bad.pb" in p.stderr
