"""--config FILE through the real binary: a working file, the example file,
and bad files rejected with exit 2 and file:line:column."""
import os
import re
import subprocess

import pytest

from conftest import RINGGATE_BIN, REPO
from test_transcoding import agents_backend, call, descriptors  # noqa: F401 (fixtures)


def run(*args):
    return subprocess.run([RINGGATE_BIN, *args], capture_output=True, text=True, timeout=20)


def test_example_config_is_valid():
    p = run("--config", os.path.join(REPO, "examples", "ringgate.yaml"), "--check")
    # The example names descriptor files relative to itself; --check loads
    # them, so it either passes or names the missing file.
    assert p.returncode in (0, 2), p.stderr
    if p.returncode == 2:
        assert "ringgate.yaml" in p.stderr or ".pb" in p.stderr, p.stderr


@pytest.mark.parametrize("text,line,words", [
    ("workers: lots\n", 1, "workers"),
    ("listen: [\"127.0.0.1:0\"]\ntimeouts:\n  idle: soon\n", 3, "idle"),
    ("listen: [\"127.0.0.1:0\"]\ncolour: blue\n", 2, "colour"),
    ("upstreams:\n  - name: a\n    endpoints: [\"127.0.0.1:1\"]\nservices:\n"
     "  - {service: x.Y, upstream: nope}\n", 5, "nope"),
    ("limits:\n  max_body: 1MiB\n  max_body: 2MiB\n", 3, "max_body"),
    ("io:\n  buffers: 100\n", 2, "power of two"),
    ("io:\n  buffer_size: 512\n", 2, "buffer_size"),
    ("io:\n  batch_wait: soon\n", 2, "300us"),
    ("io:\n  batch_wait: 300\n", 2, "300us"),
    ("io:\n  batch_wait: 20ms\n", 2, "out of range"),
])
def test_bad_config_exits_2_with_position(tmp_path, text, line, words):
    f = tmp_path / "ringgate.yaml"
    f.write_text(text)
    p = run("--config", str(f), "--check")
    assert p.returncode == 2, p
    m = re.search(r"ringgate\.yaml:(\d+):(\d+): ", p.stderr)
    assert m, p.stderr
    assert int(m.group(1)) == line
    assert words in p.stderr


@pytest.mark.parametrize("value,seconds", [("250us", 0.00025), ("0.5ms", 0.0005), ("0", 0)])
def test_io_batch_wait_from_the_file(ringgate, tmp_path, value, seconds):
    f = tmp_path / "gw.yaml"
    f.write_text(f"io:\n  buffers: 64\n  buffer_size: 4KiB\n  batch_wait: {value}\n")
    gw = ringgate("--config", str(f), workers=1)
    got = gw.metrics().value("ringgate_loop_batch_wait_seconds")
    if seconds and got == 0:
        pytest.skip("the kernel has no io_uring minimum wait (Linux < 6.12)")
    assert got == pytest.approx(seconds)
    assert gw.get("/healthz").status == 200


def test_config_file_serves_the_api(ringgate, tmp_path, descriptors, agents_backend):
    f = tmp_path / "gw.yaml"
    f.write_text(f"""
descriptors: [{descriptors[0]}]
upstreams:
  - name: agents
    endpoints: ["127.0.0.1:{agents_backend}"]
services:
  - service: agents.v1.AgentService
    upstream: agents
routes:
  extra:
    - method: GET
      path: /v2/agent/{{agent_id}}
      grpc: agents.v1.AgentService/GetAgent
      transcode: {{use_proto_names: true, enums_as_ints: true}}
transcoding:
  emit_defaults: true
headers:
  response: [x-agent-count]
""")
    gw = ringgate("--config", str(f))
    r = call(gw, "GET", "/v2/agent/agent-7f3a9c")
    assert r.status == 200, r
    a = r.json()
    assert a["display_name"] == "Summarizer" and a["status"] == 1
    r = call(gw, "POST", "/v1/agents", {"id": "agent-cfg", "displayName": "C"})
    assert r.status == 200 and r.header("x-agent-count") is not None
    a = call(gw, "GET", "/v1/agents/agent-cfg").json()
    assert a["displayName"] == "C"
    # emit_defaults: zero values appear; fields with presence stay absent.
    assert a["model"] == "" and a["executionCount"] == "0" and a["tools"] == []
    assert "temperature" not in a and "maxConcurrency" not in a
