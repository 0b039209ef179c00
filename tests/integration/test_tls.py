"""TLS through the real binary (issue 5): clients -> ringgate over HTTPS
(python ssl, curl, openssl s_client) and ringgate -> gRPC backends over
TLS (grpcio servers with ssl_server_credentials).

Certificates come from tls_certs.py, generated once per session into a
temporary directory.  The `ringgate` fixture (conftest.py) starts the
binary with `--listen 127.0.0.1:0`, which the --tls-* flags turn into an
HTTPS listener; tests whose listeners are described in YAML use
`ringgate_yaml`, which passes no --listen (a --listen on the command line
replaces the file's list).  Every process is stopped at teardown and
checked for a clean exit and sanitizer reports, as in conftest.py.
"""
import hashlib
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import warnings
from concurrent import futures

import grpc
import pytest

import tls_certs
from conftest import (HOST, SOCK_TIMEOUT_S, Gateway, HttpConn, Metrics,
                      build_request, parse_metrics, run_cli, stop_gateways)
from test_transcoding import build_descriptor_set, call

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

TLS12 = ssl.TLSVersion.TLSv1_2
TLS13 = ssl.TLSVersion.TLSv1_3
VERSIONS = {"1.2": TLS12, "1.3": TLS13}

HS = "ringgate_tls_handshakes_total"
HS_FAIL = "ringgate_tls_handshake_failures_total"
RELOADS = "ringgate_tls_reloads_total"


def need_tool(name):
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed")


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    need_tool("openssl")
    return tls_certs.generate(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def site(tmp_path):
    """Files for --static: a small JSON document and 1 MiB of
    incompressible bytes (many TLS records per response)."""
    small = tmp_path / "r.json"
    small.write_bytes(b'{"hello":"tls"}\n')
    big = tmp_path / "big.bin"
    big.write_bytes(random.Random(5).randbytes(1 << 20))
    return {"small": small, "big": big,
            "args": ["--static", f"/r.json={small}", "--static", f"/big.bin={big}"]}


@pytest.fixture
def ringgate_yaml(tmp_path):
    """Factory: ringgate_yaml(yaml_text, workers=2, name="gw.yaml") -> a
    started gateway running from that file (written into tmp_path)."""
    started = []

    def start(text, workers=2, name="gw.yaml"):
        path = tmp_path / name
        path.write_text(text)
        gw = Gateway(["--config", str(path)], workers, listen=False)
        started.append(gw)
        return gw.start()

    yield start
    stop_gateways(started)


# ------------------------------------------------------------ TLS client side


def client_ctx(pki, version=None, min_v=None, max_v=None, alpn=None, cert=None, key=None,
               ca=None, check_hostname=True, ciphers=None):
    """A verifying client context trusting the test root CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca or pki.ca)
    ctx.check_hostname = check_hostname
    if version is not None:
        min_v = max_v = VERSIONS[version]
    if min_v is not None:
        ctx.minimum_version = min_v
    if max_v is not None:
        ctx.maximum_version = max_v
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


def legacy_ctx(version):
    """A client that speaks only TLS 1.0 or 1.1.  OpenSSL 3 refuses to
    offer them at the default security level, so lower it: otherwise the
    client would fail on its own and the test would prove nothing."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        v = ssl.TLSVersion.TLSv1 if version == "1.0" else ssl.TLSVersion.TLSv1_1
        ctx.minimum_version = v
        ctx.maximum_version = v
    return ctx


def tls_connect(gw, ctx, sni="localhost", session=None, timeout=SOCK_TIMEOUT_S):
    """An HttpConn over a completed TLS handshake.  sni=None sends no SNI
    (the address is then the name checked, against the IP SAN)."""
    raw = socket.create_connection((HOST, gw.port), timeout=timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        s = ctx.wrap_socket(raw, server_hostname=sni or HOST, session=session)
    except BaseException:
        raw.close()
        raise
    c = HttpConn(s)
    gw.conns.append(c)
    return c


def tls_close(c):
    """Close the way a well-behaved client does, with a close_notify, so
    that no server can blame an unclean end for refusing to resume the
    session."""
    try:
        # Non-blocking: send ours, do not wait for the server's.
        c.sock.settimeout(0.0)
        c.sock.unwrap()
    except (OSError, ValueError):
        pass
    c.close()


def tls_get(gw, ctx, path, sni="localhost", headers=None):
    c = tls_connect(gw, ctx, sni)
    try:
        return c.request("GET", path, [("Connection", "close")] + list(headers or []))
    finally:
        c.close()


def tls_metrics(gw, pki):
    r = tls_get(gw, client_ctx(pki), "/metrics")
    assert r.status == 200, r
    return Metrics(parse_metrics(r.body.decode()))


def msum(m, name, **labels):
    """Sum of every series of `name` whose labels include `labels`
    (absent series count 0: zero-valued series may be omitted)."""
    want = {(k, str(v)) for k, v in labels.items()}
    return sum(v for (n, ls), v in m.items() if n == name and want <= ls)


def leaf_der(path):
    with open(path) as f:
        pem = f.read()
    end = pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    return ssl.PEM_cert_to_DER_cert(pem[pem.index("-----BEGIN CERTIFICATE-----"):end])


def peer_der(c):
    return c.sock.getpeercert(binary_form=True)


def expect_rejected(gw, ctx, sni="localhost"):
    """The server refuses this client: the handshake fails, or (TLS 1.3,
    where the client finishes first) the first read fails or hits EOF.
    What must never happen is an HTTP response."""
    try:
        c = tls_connect(gw, ctx, sni, timeout=3.0)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
        return e
    try:
        c.send(build_request("GET", "/healthz", [("Connection", "close")]))
        c.sock.settimeout(3.0)
        while c._fill():
            pass
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
        assert not c.buf.startswith(b"HTTP/"), c.buf[:200]
        return e
    except socket.timeout:
        raise AssertionError(f"connection neither refused nor closed; got {c.buf[:200]!r}")
    finally:
        c.close()
    assert c.buf == b"", f"a refused client got bytes: {c.buf[:200]!r}"
    return "eof"


def assert_not_local_failure(err):
    """A refusal must come from the server, not from a client that could
    not build its own ClientHello."""
    text = str(err).upper()
    for local in ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "NO PROTOCOLS AVAILABLE",
                  "NO CIPHERS AVAILABLE", "UNSUPPORTED_PROTOCOL"):
        assert local not in text, f"the client failed on its own: {err}"


def raw_connect(gw, timeout=SOCK_TIMEOUT_S):
    s = socket.create_connection((HOST, gw.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c = HttpConn(s)
    gw.conns.append(c)
    return c


def client_hello_bytes(pki):
    """The bytes of a real ClientHello, from an in-memory handshake."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx(pki).wrap_bio(inc, out, server_side=False, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = out.read()
    assert hello[0] == 0x16 and len(hello) > 100, hello[:16]
    return hello


def assert_nothing_but_alert(buf):
    """After refusing a non-TLS peer the server may send a TLS alert
    record (type 21) and nothing else: never an HTTP response."""
    assert buf == b"" or buf[0] == 0x15, f"unexpected bytes from the server: {buf[:100]!r}"


def cli_tls(pki, *extra, cert=None, key=None):
    return ["--tls-cert", cert or pki.server, "--tls-key", key or pki.server_key, *extra]


def curl(gw, path, *args, ca=None, pki=None, host="localhost"):
    need_tool("curl")
    url = f"https://{host}:{gw.port}{path}"
    cmd = ["curl", "-sS", "--max-time", "10", "--resolve", f"{host}:{gw.port}:{HOST}",
           "--cacert", ca or pki.ca, "-o", "-", "-w",
           "\n%{http_code} %{http_version} %{ssl_verify_result}", *args, url]
    p = subprocess.run(cmd, capture_output=True, timeout=20)
    return p


def s_client(gw, *args, request=None, timeout=10):
    """openssl s_client against the gateway; returns its stdout + stderr.
    With a request, it is written and the output read until the server
    closes (-ign_eof).  The exit status is not returned: it reflects how
    the server closed (close_notify or not), which the contract leaves
    open."""
    need_tool("openssl")
    cmd = ["openssl", "s_client", "-connect", f"{HOST}:{gw.port}", *args]
    if request is not None:
        cmd.append("-ign_eof")
    p = subprocess.run(cmd, input=request or b"", capture_output=True, timeout=timeout)
    return (p.stdout + p.stderr).decode("utf-8", "replace")


# ====================================================== 1. versions and ALPN


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_handshake_and_get_static_and_healthz(ringgate, pki, site, version):
    gw = ringgate(*cli_tls(pki), *site["args"])
    ctx = client_ctx(pki, version)
    c = tls_connect(gw, ctx)
    assert c.sock.version() == "TLSv" + version
    assert peer_der(c) == leaf_der(pki.server)
    r = c.request("GET", "/r.json")
    assert r.status == 200, r
    assert r.body == site["small"].read_bytes()
    assert r.header("content-type") == "application/json"
    r = c.request("GET", "/healthz", [("Connection", "close")])
    assert r.status == 200, r
    c.expect_closed()


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_curl_get(ringgate, pki, site, version):
    gw = ringgate(*cli_tls(pki), *site["args"])
    # curl offers ALPN "h2,http/1.1"; the server must pick http/1.1.
    p = curl(gw, "/r.json", f"--tlsv{version}", "--tls-max", version, pki=pki)
    assert p.returncode == 0, p.stderr
    body, _, tail = p.stdout.rpartition(b"\n")
    assert tail.decode().split() == ["200", "1.1", "0"], (tail, p.stderr)
    assert body == site["small"].read_bytes()


def test_openssl_s_client_tls13_alpn_and_verify(ringgate, pki, site):
    gw = ringgate(*cli_tls(pki), *site["args"])
    out = s_client(gw, "-servername", "localhost", "-CAfile", pki.ca, "-verify_return_error",
                   "-tls1_3", "-alpn", "http/1.1",
                   request=b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert "ALPN protocol: http/1.1" in out, out
    assert "Verify return code: 0 (ok)" in out, out
    assert "Protocol  : TLSv1.3" in out or "New, TLSv1.3" in out, out
    assert "HTTP/1.1 200" in out, out


def test_min_version_13_refuses_tls12_client(ringgate, pki, site):
    gw = ringgate(*cli_tls(pki, "--tls-min-version", "1.3"), *site["args"])
    before = tls_metrics(gw, pki)
    err = expect_rejected(gw, client_ctx(pki, "1.2"))
    assert_not_local_failure(err)
    r = tls_get(gw, client_ctx(pki, "1.3"), "/r.json")
    assert r.status == 200, r
    after = tls_metrics(gw, pki)
    assert msum(after, HS_FAIL, side="server", reason="negotiation") - \
        msum(before, HS_FAIL, side="server", reason="negotiation") >= 1, after
    assert msum(after, HS, side="server", version="1.2") == 0


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_legacy_tls_versions_refused(ringgate, pki, site, version):
    gw = ringgate(*cli_tls(pki), *site["args"])
    before = tls_metrics(gw, pki)
    err = expect_rejected(gw, legacy_ctx(version))
    assert_not_local_failure(err)
    after = tls_metrics(gw, pki)
    # The refusal happened at the server (the ClientHello got there).
    assert msum(after, HS_FAIL, side="server") - msum(before, HS_FAIL, side="server") >= 1, after
    assert tls_get(gw, client_ctx(pki, "1.2"), "/r.json").status == 200


def test_tls12_cbc_only_client_refused(ringgate, pki, site):
    # Default suites: AEAD with ECDHE only.
    gw = ringgate(*cli_tls(pki), *site["args"])
    err = expect_rejected(gw, client_ctx(pki, "1.2",
                                         ciphers="ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA"))
    assert_not_local_failure(err)


def test_default_suites_prefer_chacha20(ringgate, pki, site):
    """ChaCha20-Poly1305 first, in the server's order (no AES-NI in
    Debian's wolfSSL), even when the client lists AES-GCM first."""
    gw = ringgate(*cli_tls(pki), *site["args"])
    c = tls_connect(gw, client_ctx(
        pki, "1.2", ciphers="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305"))
    assert c.sock.cipher()[0] == "ECDHE-ECDSA-CHACHA20-POLY1305", c.sock.cipher()
    tls_close(c)
    out = s_client(gw, "-servername", "localhost", "-CAfile", pki.ca, "-tls1_3",
                   "-ciphersuites", "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256",
                   request=b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert "Cipher is TLS_CHACHA20_POLY1305_SHA256" in out, out
    assert "HTTP/1.1 200" in out, out


@pytest.mark.parametrize("offer", [["http/1.1"], ["h2", "http/1.1"]])
def test_alpn_http11_selected(ringgate, pki, site, offer):
    gw = ringgate(*cli_tls(pki), *site["args"])
    c = tls_connect(gw, client_ctx(pki, alpn=offer))
    assert c.sock.selected_alpn_protocol() == "http/1.1"
    r = c.request("GET", "/r.json")
    assert r.status == 200 and r.version == "HTTP/1.1", r


def test_alpn_h2_only_client_gets_http11_without_alpn(ringgate, pki, site):
    gw = ringgate(*cli_tls(pki), *site["args"])
    c = tls_connect(gw, client_ctx(pki, alpn=["h2"]))
    assert c.sock.selected_alpn_protocol() is None
    r = c.request("GET", "/r.json")
    assert r.status == 200 and r.version == "HTTP/1.1", r
    assert r.body == site["small"].read_bytes()


# ================================================== 2. certificates and SNI


def sni_yaml(pki, site):
    return f"""
listen:
  - address: "127.0.0.1:0"
    tls:
      certificates:
        - {{cert: "{pki.server}", key: "{pki.server_key}"}}
        - {{cert: "{pki.other}", key: "{pki.other_key}"}}
        - cert: "{pki.server_rsa}"
          key: "{pki.server_rsa_key}"
          names: ["*.wild.test"]
static:
  - {{path: /r.json, file: "{site['small']}"}}
"""


def test_sni_selects_certificate(ringgate_yaml, pki, site):
    gw = ringgate_yaml(sni_yaml(pki, site))
    # Verified against the root only: other.test's intermediate must be sent.
    c = tls_connect(gw, client_ctx(pki), sni="other.test")
    assert peer_der(c) == leaf_der(pki.other)
    assert c.request("GET", "/r.json").status == 200
    c = tls_connect(gw, client_ctx(pki), sni="localhost")
    assert peer_der(c) == leaf_der(pki.server)
    assert c.request("GET", "/r.json").status == 200
    c = tls_connect(gw, client_ctx(pki), sni=None)  # no SNI: the first certificate
    assert peer_der(c) == leaf_der(pki.server)
    assert c.request("GET", "/r.json").status == 200
    loose = client_ctx(pki, check_hostname=False)
    for name, want in [("api.wild.test", pki.server_rsa),  # "*.suffix", one label deep
                       ("a.b.wild.test", pki.server),
                       ("wild.test", pki.server),
                       ("nomatch.test", pki.server)]:
        c = tls_connect(gw, loose, sni=name)
        assert peer_der(c) == leaf_der(want), name
        assert c.request("GET", "/r.json").status == 200, name


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_rsa_and_ecdsa_certificates(ringgate, pki, site, kind, version):
    cert, key = (pki.server_rsa, pki.server_rsa_key) if kind == "rsa" else (pki.server,
                                                                            pki.server_key)
    gw = ringgate(*cli_tls(pki, cert=cert, key=key), *site["args"], workers=1)
    c = tls_connect(gw, client_ctx(pki, version))
    assert peer_der(c) == leaf_der(cert)
    r = c.request("GET", "/r.json")
    assert r.status == 200 and r.body == site["small"].read_bytes(), r


def test_yaml_ciphers_groups_and_no_tickets(ringgate_yaml, pki, site):
    gw = ringgate_yaml(f"""
listen:
  - address: "127.0.0.1:0"
    tls:
      certificates:
        - {{cert: "{pki.server}", key: "{pki.server_key}"}}
      min_version: "1.3"
      ciphers: "TLS13-AES256-GCM-SHA384"
      groups: "P-384"
      session_tickets: false
static:
  - {{path: /r.json, file: "{site['small']}"}}
""")
    ctx = client_ctx(pki, "1.3")
    c = tls_connect(gw, ctx)
    assert c.sock.cipher()[0] == "TLS_AES_256_GCM_SHA384", c.sock.cipher()
    assert c.request("GET", "/r.json").status == 200
    session = c.sock.session
    tls_close(c)
    # Without tickets a TLS 1.3 session cannot be resumed.
    c = tls_connect(gw, ctx, session=session)
    assert not c.sock.session_reused
    assert c.request("GET", "/r.json").status == 200
    tls_close(c)
    # A client that cannot do the only suite is refused.
    p = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{gw.port}", "-tls1_3",
         "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256", "-CAfile", pki.ca,
         "-servername", "localhost"],
        input=b"", capture_output=True, timeout=10)
    assert p.returncode != 0, p.stdout[-400:]
    m = tls_metrics(gw, pki)
    assert msum(m, HS_FAIL, side="server", reason="negotiation") >= 1, m


# ============================================================ 3. resumption


def resumed_run(gw, pki, version, n):
    """One full handshake, then n connections each offering the session of
    the one before.  Returns the list of session_reused flags."""
    ctx = client_ctx(pki, version)
    c = tls_connect(gw, ctx)
    assert not c.sock.session_reused
    # TLS 1.3 tickets arrive after the handshake: read a response first.
    assert c.request("GET", "/r.json").status == 200
    session = c.sock.session
    assert session is not None
    tls_close(c)
    flags = []
    for _ in range(n):
        c = tls_connect(gw, ctx, session=session)
        flags.append(c.sock.session_reused)
        assert c.sock.version() == "TLSv" + version
        assert c.request("GET", "/r.json").status == 200
        session = c.sock.session or session
        tls_close(c)
    return flags


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_session_resumption_across_workers(ringgate, pki, site, version):
    """With two SO_REUSEPORT workers, connections land on either worker
    (P(all 20 on one) = 2^-19): every offered session must resume, so
    ticket keys have to be shared."""
    gw = ringgate(*cli_tls(pki), *site["args"], workers=2)
    before = tls_metrics(gw, pki)
    flags = resumed_run(gw, pki, version, 20)
    assert all(flags), f"{flags.count(False)} of {len(flags)} connections not resumed: {flags}"
    after = tls_metrics(gw, pki)
    resumed = msum(after, HS, side="server", version=version, resumed="true") - \
        msum(before, HS, side="server", version=version, resumed="true")
    assert resumed == 20, after


def test_handshake_metrics_count_versions_and_resumption(ringgate, pki, site):
    gw = ringgate(*cli_tls(pki), *site["args"], workers=2)
    before = tls_metrics(gw, pki)
    for _ in range(4):
        assert tls_get(gw, client_ctx(pki, "1.2"), "/r.json").status == 200
    for _ in range(3):
        assert tls_get(gw, client_ctx(pki, "1.3"), "/r.json").status == 200
    flags = resumed_run(gw, pki, "1.3", 5)  # one full 1.3 handshake, 5 resumed
    assert all(flags), flags
    after = tls_metrics(gw, pki)

    def delta(**labels):
        return msum(after, HS, side="server", **labels) - msum(before, HS, side="server", **labels)

    assert delta(version="1.2", resumed="false") == 4, after
    # 3 + the full one of resumed_run + the second /metrics scrape; >= for
    # the scrape's own handshake, <= catches double counting.
    assert 4 <= delta(version="1.3", resumed="false") <= 5, after
    assert delta(version="1.3", resumed="true") == 5, after
    assert delta(version="1.2", resumed="true") == 0, after
    assert delta() >= 13, after


# ================================================================== 4. mTLS


def test_mtls_required_client_certificate(ringgate, pki, site):
    gw = ringgate(*cli_tls(pki, "--tls-client-ca", pki.client_ca), *site["args"])
    good = client_ctx(pki, cert=pki.client, key=pki.client_key)
    before = Metrics(parse_metrics(tls_get(gw, good, "/metrics").body.decode()))
    for version in ("1.2", "1.3"):
        expect_rejected(gw, client_ctx(pki, version))  # no certificate
        expect_rejected(gw, client_ctx(pki, version, cert=pki.client_unknown,
                                       key=pki.client_unknown_key))
        c = tls_connect(gw, client_ctx(pki, version, cert=pki.client, key=pki.client_key))
        r = c.request("GET", "/r.json")
        assert r.status == 200 and r.body == site["small"].read_bytes(), r
    after = Metrics(parse_metrics(tls_get(gw, good, "/metrics").body.decode()))
    assert msum(after, HS_FAIL, side="server", reason="certificate") - \
        msum(before, HS_FAIL, side="server", reason="certificate") >= 4, after


def test_mtls_with_curl(ringgate, pki, site):
    gw = ringgate(*cli_tls(pki, "--tls-client-ca", pki.client_ca), *site["args"])
    p = curl(gw, "/r.json", "--cert", pki.client, "--key", pki.client_key, pki=pki)
    assert p.returncode == 0, p.stderr
    assert p.stdout.rpartition(b"\n")[2].split()[0] == b"200", p.stdout
    p = curl(gw, "/r.json", pki=pki)
    assert p.returncode != 0 and not p.stdout.startswith(b"{"), (p.stdout, p.stderr)


# ======================================================= 5. hostile clients


def test_stalled_handshake_is_closed_after_timeout(ringgate, pki, site):
    gw = ringgate(*cli_tls(pki, "--tls-handshake-timeout", "0.5"), *site["args"], workers=1)
    before = tls_metrics(gw, pki)
    hello = client_hello_bytes(pki)
    t0 = time.monotonic()
    silent = raw_connect(gw)
    half = raw_connect(gw)
    half.send(hello[: len(hello) // 2])
    for name, c in (("silent", silent), ("half a ClientHello", half)):
        took = c.closed_within(max(0.1, 2.5 - (time.monotonic() - t0)))
        assert took is not None, f"stalled handshake ({name}) not closed within 2.5 s"
        assert_nothing_but_alert(c.buf)
        # The server's clock starts after t0, so the close cannot be early.
        assert time.monotonic() - t0 >= 0.4, f"{name}: closed before the 0.5 s timeout"
    after = tls_metrics(gw, pki)
    assert msum(after, HS_FAIL, side="server", reason="timeout") - \
        msum(before, HS_FAIL, side="server", reason="timeout") >= 2, after
    assert tls_get(gw, client_ctx(pki), "/r.json").status == 200


def test_handshake_timeout_not_applied_to_established_connections(ringgate, pki, site):
    gw = ringgate(*cli_tls(pki, "--tls-handshake-timeout", "0.3"), *site["args"], workers=1)
    c = tls_connect(gw, client_ctx(pki))
    time.sleep(0.8)
    assert c.request("GET", "/r.json").status == 200


def test_garbage_instead_of_client_hello(ringgate, pki, site):
    gw = ringgate(*cli_tls(pki, "--tls-handshake-timeout", "5"), *site["args"], workers=1)
    before = tls_metrics(gw, pki)
    junk = b"\x03\x03" + random.Random(7).randbytes(594)
    # Handshake-layer lengths consistent with the record, so the server has
    # the whole message and must judge it rather than wait for more.
    hs = b"\x01" + len(junk).to_bytes(3, "big") + junk
    garbage = [
        b"\x00" + random.Random(3).randbytes(4095),  # not a TLS record type
        # A complete handshake record holding a ClientHello of junk.
        b"\x16\x03\x01" + len(hs).to_bytes(2, "big") + hs,
    ]
    for data in garbage:
        c = raw_connect(gw)
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        took = c.closed_within(3.0)
        assert took is not None, f"still open after {data[:20]!r}"
        assert_nothing_but_alert(c.buf)
    # Plain HTTP on the TLS port: a plain-text 400 that says so, then close.
    c = raw_connect(gw)
    c.send(b"GET /r.json HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert c.closed_within(3.0) is not None
    head, _, body = bytes(c.buf).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), c.buf
    assert b"Connection: close" in head and b"Content-Length: %d" % len(body) in head, c.buf
    assert b"HTTPS" in body and b"plain HTTP" in body, body
    r = tls_get(gw, client_ctx(pki), "/r.json")
    assert r.status == 200 and r.body == site["small"].read_bytes()
    after = tls_metrics(gw, pki)
    assert msum(after, HS_FAIL, side="server") - msum(before, HS_FAIL, side="server") >= 3, after
    assert msum(after, HS_FAIL, side="server", reason="protocol") - \
        msum(before, HS_FAIL, side="server", reason="protocol") >= 1, after
    assert msum(after, HS_FAIL, side="server", reason="timeout") == \
        msum(before, HS_FAIL, side="server", reason="timeout"), after


def test_bad_record_after_handshake_closes_and_counts(ringgate, pki, site):
    gw = ringgate(*cli_tls(pki), *site["args"], workers=1)
    before = tls_metrics(gw, pki)
    # A real handshake through memory BIOs over a plain socket, then an
    # application-data record whose tag cannot verify.
    sock = socket.create_connection((HOST, gw.port), timeout=SOCK_TIMEOUT_S)
    rbio, wbio = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client_ctx(pki, "1.3").wrap_bio(rbio, wbio, server_hostname="localhost")
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            sock.sendall(wbio.read())
            data = sock.recv(65536)
            assert data, "server closed during the handshake"
            rbio.write(data)
    sock.sendall(wbio.read())  # our Finished
    forged = b"\x17\x03\x03\x00\x40" + bytes(64)
    sock.sendall(forged)
    sock.settimeout(3.0)
    closed = False
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            closed = True
            break
        if not data:
            closed = True
            break
    sock.close()
    assert closed, "connection still open after a forged record"
    after = tls_metrics(gw, pki)
    assert msum(after, "ringgate_tls_record_errors_total", side="server") - \
        msum(before, "ringgate_tls_record_errors_total", side="server") == 1, after
    r = tls_get(gw, client_ctx(pki), "/r.json")
    assert r.status == 200


# ======================================= 6. HTTP/1.1 semantics over TLS


def test_keep_alive_many_requests_on_one_connection(ringgate, pki, site):
    gw = ringgate(*cli_tls(pki), *site["args"], workers=1)
    c = tls_connect(gw, client_ctx(pki))
    small = site["small"].read_bytes()
    for i in range(50):
        path = "/r.json" if i % 2 == 0 else "/healthz"
        r = c.request("GET", path)
        assert r.status == 200, (i, r)
        if path == "/r.json":
            assert r.body == small
    r = c.request("GET", "/nothing-here")
    assert r.status == 404
    assert c.request("GET", "/r.json").body == small


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_pipelined_requests_in_order(ringgate, pki, site, version):
    gw = ringgate(*cli_tls(pki), *site["args"], workers=1)
    c = tls_connect(gw, client_ctx(pki, version))
    paths = ["/r.json", "/healthz", "/missing", "/big.bin", "/r.json", "/missing", "/big.bin",
             "/healthz"] * 2
    c.send(b"".join(build_request("GET", p) for p in paths))
    big = site["big"].read_bytes()
    for i, p in enumerate(paths):
        r = c.read_response()
        if p == "/missing":
            assert r.status == 404, (i, r)
        else:
            assert r.status == 200, (i, r)
        if p == "/big.bin":
            assert len(r.body) == len(big) and r.body == big, (i, len(r.body))
        if p == "/r.json":
            assert r.body == site["small"].read_bytes(), (i, r)


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_large_response_intact(ringgate, pki, site, version):
    gw = ringgate(*cli_tls(pki), *site["args"], workers=1)
    c = tls_connect(gw, client_ctx(pki, version))
    want = hashlib.sha256(site["big"].read_bytes()).hexdigest()
    r = c.request("GET", "/big.bin")
    assert r.status == 200 and int(r.header("content-length")) == 1 << 20, r
    assert hashlib.sha256(r.body).hexdigest() == want
    # A slow reader: the server must hold the rest and resume cleanly.
    c.send(build_request("GET", "/big.bin"))
    time.sleep(0.3)
    r = c.read_response()
    assert hashlib.sha256(r.body).hexdigest() == want
    assert c.request("GET", "/r.json").body == site["small"].read_bytes()


# ================================================================ 7. reload


def reload_yaml(site):
    return f"""
listen:
  - address: "127.0.0.1:0"
    tls:
      certificates:
        - {{cert: live.pem, key: live.key}}
static:
  - {{path: /r.json, file: "{site['small']}"}}
"""


def install(src_cert, src_key, dst_dir):
    """Replace live.pem/live.key atomically, as certificate tools do."""
    for src, name in ((src_cert, "live.pem"), (src_key, "live.key")):
        tmp = os.path.join(dst_dir, name + ".new")
        shutil.copyfile(src, tmp)
        os.replace(tmp, os.path.join(dst_dir, name))


def wait_metric(gw, pki, name, labels, at_least, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        m = tls_metrics(gw, pki)
        if msum(m, name, **labels) >= at_least:
            return m
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}{labels} did not reach {at_least}: {m}")
        time.sleep(0.1)


def test_sighup_reloads_certificates(ringgate_yaml, pki, site, tmp_path):
    d = str(tmp_path)
    cert_a, key_a = tls_certs.issue_server(d, "A", pki.ca, pki.ca_key, cn="reload-A")
    cert_b, key_b = tls_certs.issue_server(d, "B", pki.ca, pki.ca_key, cn="reload-B")
    install(cert_a, key_a, d)
    gw = ringgate_yaml(reload_yaml(site))  # relative names: next to the YAML file
    old = tls_connect(gw, client_ctx(pki))
    assert peer_der(old) == leaf_der(cert_a)
    assert old.request("GET", "/r.json").status == 200

    install(cert_b, key_b, d)
    gw.signal(signal.SIGHUP)
    wait_metric(gw, pki, RELOADS, {"result": "ok"}, 1)
    new = tls_connect(gw, client_ctx(pki))
    assert peer_der(new) == leaf_der(cert_b)
    assert new.request("GET", "/r.json").status == 200
    # The connection from before the reload is still served.
    r = old.request("GET", "/r.json")
    assert r.status == 200 and r.body == site["small"].read_bytes()
    assert peer_der(old) == leaf_der(cert_a)

    mark = gw.line_count()
    with open(os.path.join(d, "live.pem"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    gw.signal(signal.SIGHUP)
    gw.wait_for_line(r"(?i)(tls.*keeping|keeping.*tls)", 5, start=mark)
    m = wait_metric(gw, pki, RELOADS, {"result": "failed"}, 1)
    assert msum(m, RELOADS, result="ok") == 1, m
    c = tls_connect(gw, client_ctx(pki))
    assert peer_der(c) == leaf_der(cert_b)
    assert c.request("GET", "/r.json").status == 200
    assert new.request("GET", "/r.json").status == 200
    assert old.request("GET", "/healthz").status == 200


# ============================================================ 8. bad config


def test_cert_without_key_exits_2(pki):
    p = run_cli("--listen", "127.0.0.1:0", "--tls-cert", pki.server, timeout=5)
    assert p.returncode == 2, p
    assert "--tls-key" in p.stderr, p.stderr
    p = run_cli("--listen", "127.0.0.1:0", "--tls-key", pki.server_key, timeout=5)
    assert p.returncode == 2, p
    assert "--tls-cert" in p.stderr, p.stderr


@pytest.mark.parametrize("check", [False, True])
def test_missing_cert_file_exits_2(pki, tmp_path, check):
    missing = str(tmp_path / "no-such-cert.pem")
    p = run_cli("--listen", "127.0.0.1:0", "--tls-cert", missing, "--tls-key", pki.server_key,
                *(["--check"] if check else []), timeout=5)
    assert p.returncode == 2, p
    assert "no-such-cert.pem" in p.stderr, p.stderr


@pytest.mark.parametrize("check", [False, True])
def test_key_not_matching_cert_exits_2(pki, check):
    p = run_cli("--listen", "127.0.0.1:0", "--tls-cert", pki.server, "--tls-key", pki.other_key,
                *(["--check"] if check else []), timeout=5)
    assert p.returncode == 2, p
    assert os.path.basename(pki.other_key) in p.stderr or \
        os.path.basename(pki.server) in p.stderr, p.stderr


def test_bad_min_version_and_client_ca_file_exit_2(pki, tmp_path):
    p = run_cli("--listen", "127.0.0.1:0", *cli_tls(pki, "--tls-min-version", "1.1"), timeout=5)
    assert p.returncode == 2 and "--tls-min-version" in p.stderr, p
    missing = str(tmp_path / "no-such-ca.pem")
    p = run_cli("--listen", "127.0.0.1:0", *cli_tls(pki, "--tls-client-ca", missing), timeout=5)
    assert p.returncode == 2 and "no-such-ca.pem" in p.stderr, p


@pytest.mark.parametrize("tls_body,words", [
    ("certificates: []", "certificates"),
    ("client_auth: require", "client_ca"),
    ("min_version: \"1.1\"", "min_version"),
    ("client_auth: sometimes", "client_auth"),
])
def test_bad_yaml_tls_exits_2_with_position(pki, tmp_path, tls_body, words):
    certs = "" if tls_body.startswith("certificates") else \
        f"      certificates:\n        - {{cert: \"{pki.server}\", key: \"{pki.server_key}\"}}\n"
    f = tmp_path / "ringgate.yaml"
    f.write_text("listen:\n  - address: \"127.0.0.1:0\"\n    tls:\n" + certs +
                 f"      {tls_body}\n")
    p = run_cli("--config", str(f), "--check", timeout=5)
    assert p.returncode == 2, p
    assert "ringgate.yaml:" in p.stderr and words in p.stderr, p.stderr


# ================================= 9. verified client identity to the backend


def varint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def sleep_reply(text):
    """ringgate.test.v1.SleepReply{slept: text}, encoded by hand."""
    b = text.encode()
    return b"\x0a" + varint(len(b)) + b


class Backend:
    """An in-process grpcio server for ringgate.test.v1.Errors/Sleep (raw
    bytes, no generated code).  The reply names the verified TLS client
    (x509_common_name, "-" when none); every x-* request header comes back
    as response metadata echo-<name>, all values joined by "|"."""

    def __init__(self, cert=None, key=None, client_ca=None, options=None):
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=options)

        def sleep(request, context):
            seen = {}
            for k, v in context.invocation_metadata():
                if k.startswith("x-") and not k.endswith("-bin"):
                    seen.setdefault(k, []).append(v)
            context.send_initial_metadata([("echo-" + k, "|".join(v)) for k, v in seen.items()])
            cn = context.auth_context().get("x509_common_name", [b"-"])[0].decode()
            return sleep_reply("tls:" + cn)

        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "ringgate.test.v1.Errors", {"Sleep": grpc.unary_unary_rpc_method_handler(sleep)}),))
        if cert is None:
            self.port = self.server.add_insecure_port("127.0.0.1:0")
        else:
            creds = grpc.ssl_server_credentials(
                [(open(key, "rb").read(), open(cert, "rb").read())],
                root_certificates=open(client_ca, "rb").read() if client_ca else None,
                require_client_auth=client_ca is not None)
            self.port = self.server.add_secure_port("127.0.0.1:0", creds)
        self.server.start()

    def stop(self):
        self.server.stop(grace=0)


@pytest.fixture
def backends():
    made = []

    def start(**kw):
        b = Backend(**kw)
        made.append(b)
        return b

    yield start
    for b in made:
        b.stop()


@pytest.fixture(scope="module")
def errors_pb(tmp_path_factory):
    need_tool("protoc")
    return build_descriptor_set(str(tmp_path_factory.mktemp("pb")), "errors_test.proto",
                                os.path.join(REPO, "tests", "protos"))


def test_client_subject_forwarded_and_never_spoofed(ringgate_yaml, pki, errors_pb, backends):
    be = backends()
    gw = ringgate_yaml(f"""
listen:
  - address: "127.0.0.1:0"
    tls:
      certificates:
        - {{cert: "{pki.server}", key: "{pki.server_key}"}}
      client_auth: optional
      client_ca: "{pki.client_ca}"
descriptors: ["{errors_pb}"]
upstreams:
  - name: be
    endpoints: ["127.0.0.1:{be.port}"]
services:
  - {{service: "*", upstream: be}}
headers:
  forward: [authorization, "x-client-*", x-tenant]
  response: ["echo-*"]
""", workers=1)
    spoof = [("X-Client-Cert-Subject", "/CN=admin/O=evil"), ("X-Tenant", "t1")]
    with_cert = client_ctx(pki, cert=pki.client, key=pki.client_key)
    r = tls_get(gw, with_cert, "/v1/sleep/0")
    assert r.status == 200, r
    assert r.header("echo-x-client-cert-subject") == tls_certs.CLIENT_SUBJECT, r
    r = tls_get(gw, with_cert, "/v1/sleep/0", headers=spoof)
    assert r.status == 200, r
    assert r.header("echo-x-client-cert-subject") == tls_certs.CLIENT_SUBJECT, r
    # The forward list itself works (so the drop above is deliberate).
    assert r.header("echo-x-tenant") == "t1", r
    r = tls_get(gw, client_ctx(pki), "/v1/sleep/0", headers=spoof)  # optional: no cert is fine
    assert r.status == 200, r
    assert r.header("echo-x-client-cert-subject") is None, r
    assert r.header("echo-x-tenant") == "t1", r


# ================================================= 10. upstream (client) TLS


def upstream_yaml(errors_pb, port, tls, authority="localhost"):
    return f"""
descriptors: ["{errors_pb}"]
upstreams:
  - name: be
    endpoints: ["127.0.0.1:{port}"]
    authority: {authority}
    connect_timeout: 2s
    backoff: {{initial: 50ms, max: 200ms}}
    tls: {tls}
services:
  - {{service: "*", upstream: be}}
"""


def run_upstream(ringgate, tmp_path, errors_pb, port, tls, name="up.yaml"):
    f = tmp_path / name
    f.write_text(upstream_yaml(errors_pb, port, tls))
    return ringgate("--config", str(f), workers=1)


def sleep_call(gw):
    return call(gw, "GET", "/v1/sleep/0", headers={"X-Request-Timeout": "3s"})


def test_upstream_tls_verified(ringgate, tmp_path, pki, errors_pb, backends):
    be = backends(cert=pki.server, key=pki.server_key)
    gw = run_upstream(ringgate, tmp_path, errors_pb, be.port, f'{{ca: "{pki.ca}"}}')
    for _ in range(3):
        r = sleep_call(gw)
        assert r.status == 200 and r.json() == {"slept": "tls:-"}, r
    m = gw.metrics()
    assert msum(m, HS, side="client") >= 1, m


def test_upstream_tls_session_resumed_on_reconnect(ringgate, tmp_path, pki, errors_pb, backends):
    # The backend ends every connection after 300 ms (GOAWAY), so ringgate
    # reconnects; the same server context can resume the session.
    be = backends(cert=pki.server, key=pki.server_key,
                  options=[("grpc.max_connection_age_ms", 300),
                           ("grpc.max_connection_age_grace_ms", 100)])
    gw = run_upstream(ringgate, tmp_path, errors_pb, be.port, f'{{ca: "{pki.ca}"}}')
    resumed = 0
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        r = sleep_call(gw)
        assert r.status in (200, 503), r
        m = gw.metrics()
        resumed = msum(m, HS, side="client", resumed="true")
        if resumed >= 2:
            break
        time.sleep(0.2)
    assert resumed >= 2, m
    assert msum(m, HS, side="client", resumed="false") >= 1, m
    r = sleep_call(gw)
    assert r.status == 200 and r.json() == {"slept": "tls:-"}, r


def test_upstream_tls_server_name_override(ringgate, tmp_path, pki, errors_pb, backends):
    be = backends(cert=pki.other, key=pki.other_key)  # other.test, chain via the intermediate
    gw = run_upstream(ringgate, tmp_path, errors_pb, be.port,
                      f'{{ca: "{pki.ca}", server_name: other.test}}')
    r = sleep_call(gw)
    assert r.status == 200 and r.json() == {"slept": "tls:-"}, r


@pytest.mark.parametrize("which", ["wrong_host", "unknown_ca", "expired"])
def test_upstream_tls_bad_certificate_is_503(ringgate, tmp_path, pki, errors_pb, backends,
                                             which):
    cert, key = {"wrong_host": (pki.other, pki.other_key),
                 "unknown_ca": (pki.unknown, pki.unknown_key),
                 "expired": (pki.expired, pki.expired_key)}[which]
    be = backends(cert=cert, key=key)
    gw = run_upstream(ringgate, tmp_path, errors_pb, be.port, f'{{ca: "{pki.ca}", verify: true}}')
    for _ in range(2):
        t0 = time.monotonic()
        r = sleep_call(gw)
        assert r.status == 503 and r.json()["code"] == 14, r
        assert time.monotonic() - t0 < 2.5
    m = gw.metrics()
    assert msum(m, HS_FAIL, side="client", reason="certificate") >= 1, m
    assert msum(m, HS, side="client") == 0, m


def test_upstream_tls_verify_false_accepts_unknown_ca(ringgate, tmp_path, pki, errors_pb,
                                                      backends):
    be = backends(cert=pki.unknown, key=pki.unknown_key)
    gw = run_upstream(ringgate, tmp_path, errors_pb, be.port, f'{{ca: "{pki.ca}", verify: false}}')
    r = sleep_call(gw)
    assert r.status == 200 and r.json() == {"slept": "tls:-"}, r


def test_upstream_mtls(ringgate, tmp_path, pki, errors_pb, backends):
    be = backends(cert=pki.server, key=pki.server_key, client_ca=pki.client_ca)
    gw = run_upstream(ringgate, tmp_path, errors_pb, be.port, f'{{ca: "{pki.ca}"}}',
                      name="nocert.yaml")
    r = sleep_call(gw)
    assert r.status == 503, r
    gw = run_upstream(ringgate, tmp_path, errors_pb, be.port,
                      f'{{ca: "{pki.ca}", cert: "{pki.client}", key: "{pki.client_key}"}}',
                      name="cert.yaml")
    r = sleep_call(gw)
    assert r.status == 200, r
    assert r.json() == {"slept": "tls:client-1"}, r  # the backend saw our certificate


def test_upstream_plaintext_backend_refused_when_tls_configured(ringgate, tmp_path, pki,
                                                               errors_pb, backends):
    be = backends()  # h2c only
    gw = run_upstream(ringgate, tmp_path, errors_pb, be.port, f'{{ca: "{pki.ca}"}}')
    r = sleep_call(gw)
    assert r.status == 503, r


class NoAlpnServer:
    """A TLS server (valid certificate for localhost) that selects
    http/1.1, never h2.  It records the SNI of every ClientHello: the
    callback runs while the hello is processed, before any reply, so the
    record is complete by the time the client has given up."""

    def __init__(self, pki):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pki.server, pki.server_key)
        self.ctx.set_alpn_protocols(["http/1.1"])
        self.hellos = []
        self.ctx.sni_callback = lambda sock, name, ctx: self.hellos.append(name)
        self.sock = socket.create_server((HOST, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            conn.settimeout(2.0)
            try:
                s = self.ctx.wrap_socket(conn, server_side=True)
                while s.recv(4096):
                    pass
            except OSError:
                pass
            finally:
                conn.close()

    def stop(self):
        self.done.set()
        self.thread.join(timeout=5)
        self.sock.close()


def test_upstream_without_alpn_h2_is_refused(ringgate, tmp_path, pki, errors_pb):
    srv = NoAlpnServer(pki)
    try:
        gw = run_upstream(ringgate, tmp_path, errors_pb, srv.port, f'{{ca: "{pki.ca}"}}')
        r = sleep_call(gw)
        assert r.status == 503 and r.json()["code"] == 14, r
        # TLS was attempted, with the authority's host as SNI.
        assert srv.hellos and set(srv.hellos) == {"localhost"}, srv.hellos
        m = gw.metrics()
        assert msum(m, HS_FAIL, side="client", reason="alpn") >= 1, m
    finally:
        srv.stop()
