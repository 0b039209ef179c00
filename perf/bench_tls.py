#!/usr/bin/python3
"""TLS benchmark: ringgate (wolfSSL) vs nginx (OpenSSL), side by side in one run.

Both servers serve the same ~400-byte JSON body (perf/payload.json) as GET /r
over HTTPS with the same ECDSA P-256 certificate (made at run time with the
openssl CLI), on one worker pinned to CPU 0; the load generators run pinned
to CPU 1. Rounds alternate ringgate, nginx, ringgate, nginx, ...

Cases (TLS 1.3 everywhere, X25519 key exchange):
  full         openssl s_time -new: a new connection and a full handshake each
               time; the client closes right after its Finished (no request)
  full_get     s_time -new -www /r: full handshake + GET /r (HTTP/1.0; the
               server closes after the reply)
  resumed_get  s_time -reuse -www /r: the same with a session ticket (PSK +
               X25519); resumption is checked on both sides
  ka_chacha20  wrk, 64 keep-alive HTTPS connections, TLS_CHACHA20_POLY1305_SHA256
  ka_aes128gcm the same with TLS_AES_128_GCM_SHA256 (forced on both servers)

Primary figure: server CPU time (utime+stime of all the server's processes,
/proc/PID/stat) per handshake / connection / request. The client runs on one
core and is usually the bottleneck, so its CPU is reported too.

Usage (from the repository root):
  /usr/bin/python3 perf/bench_tls.py [--quick] [--only nginx|ringgate] [--rounds N] [--duration S]

Standard library + the openssl CLI, wrk, taskset, nginx. Loopback only.
Every load is bounded in time. See perf/README.md, "TLS benchmark".
"""

import argparse
import collections
import datetime
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine_load import proc_stat  # noqa: E402
import bench_static as bs  # noqa: E402  (house helpers: /proc readers, servers, wrk parsing)
from bench_static import (CLK_TCK, HOST, LOAD_CPU, PATH, PAYLOAD, REPO, RESULTS_DIR,  # noqa: E402
                          SERVER_CPU, _child_setup, all_ticks_except, cpu0_busy_ticks,
                          fmt, log, med, response_complete, version_of)

SNI = "localhost"
# One TLS 1.3 suite per keep-alive case: (case, IANA/OpenSSL name, wolfSSL name).
KA_SUITES = (
    ("ka_chacha20", "TLS_CHACHA20_POLY1305_SHA256", "TLS13-CHACHA20-POLY1305-SHA256"),
    ("ka_aes128gcm", "TLS_AES_128_GCM_SHA256", "TLS13-AES128-GCM-SHA256"),
)
# The handshake cases' client offers only this suite, so both servers pick it
# (nginx would otherwise follow the client's order, AES-256-GCM first).
HS_SUITE = "TLS_CHACHA20_POLY1305_SHA256"
# nginx's key-exchange groups: the same list as ringgate's default.
NGINX_GROUPS = "X25519:prime256v1:secp384r1"
HS_CASES = ("full", "full_get", "resumed_get")
CASE_TITLE = {
    "full": "full handshake (s_time -new, no request)",
    "full_get": "full handshake + GET /r (s_time -new -www /r)",
    "resumed_get": "resumed handshake + GET /r (s_time -reuse -www /r)",
    "ka_chacha20": "keep-alive GET /r, CHACHA20-POLY1305 (wrk)",
    "ka_aes128gcm": "keep-alive GET /r, AES-128-GCM (wrk)",
}
CASE_UNIT = {"full": "handshake", "full_get": "connection", "resumed_get": "connection",
             "ka_chacha20": "request", "ka_aes128gcm": "request"}


class NotReady(RuntimeError):
    """The server under test cannot run this benchmark (e.g. no TLS support yet)."""


# --------------------------------------------------------------------------
# certificate and TLS client helpers


def run_checked(cmd, what, timeout=30, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{what} failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stdout}{p.stderr}")
    return p


def make_cert(d):
    """Self-signed ECDSA P-256 leaf for localhost/127.0.0.1. The key is in SEC1
    ("EC PRIVATE KEY") form, which wolfSSL and OpenSSL both load."""
    key, cert = d / "key.pem", d / "cert.pem"
    run_checked(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], "key generation")
    run_checked(["openssl", "req", "-x509", "-new", "-key", key, "-out", cert, "-days", "2", "-sha256",
                 "-subj", "/CN=localhost/O=ringgate-bench",
                 "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], "certificate generation")
    text = run_checked(["openssl", "x509", "-in", cert, "-noout", "-text", "-fingerprint", "-sha256"],
                       "certificate dump").stdout
    if "prime256v1" not in text or "ecdsa-with-SHA256" not in text:
        raise RuntimeError(f"generated certificate is not ECDSA P-256:\n{text}")
    fp = re.search(r"Fingerprint=([0-9A-F:]+)", text).group(1)
    return cert, key, fp


def client_context(cafile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    ctx.check_hostname = True
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def https_get(port, ctx, path=PATH, timeout=2.0):
    """One HTTP/1.1 GET over a new TLS connection: (status, headers, head_len,
    body, tls_version, cipher_name)."""
    req = f"GET {path} HTTP/1.1\r\nHost: {SNI}\r\n\r\n".encode()
    with socket.create_connection((HOST, port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=SNI) as s:
            s.sendall(req)
            buf = b""
            while True:
                r = response_complete(buf)
                if r:
                    return (*r, s.version(), s.cipher()[0])
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("closed before a whole response")
                buf += chunk


def s_client_check(port, cafile, suites=None):
    """The connection parameters as the openssl CLI (the same library and
    defaults as s_time and wrk) negotiates them."""
    cmd = ["openssl", "s_client", "-connect", f"{HOST}:{port}", "-servername", SNI, "-brief",
           "-CAfile", cafile, "-verify_return_error"]
    if suites:
        cmd += ["-ciphersuites", suites]
    p = subprocess.run([str(c) for c in cmd], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=15)
    text = p.stdout + p.stderr
    got = {}
    for key, pat in (("protocol", r"Protocol version: (\S+)"), ("cipher", r"Ciphersuite: (\S+)"),
                     ("group", r"(?:Server|Peer) Temp Key: ([^,\n]+)"),
                     ("signature", r"Signature type: (\S+)"), ("verification", r"Verification: (\S+)")):
        m = re.search(pat, text)
        got[key] = m.group(1).strip() if m else None
    got["ok"] = p.returncode == 0 and "CONNECTION ESTABLISHED" in text
    got["raw"] = text.strip()[-1500:]
    return got


# --------------------------------------------------------------------------
# servers: bench_static's, with TLS listeners


class TlsServer:
    """Mixin: `listeners` is a list of (case, IANA suite or None); one port each."""

    def alloc_ports(self):
        self.ports = {self.listeners[0][0]: self.port}
        for case, _ in self.listeners[1:]:
            self.ports[case] = bs.free_port()

    def wait_served(self, t0, timeout=10.0, poll=0.005):
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if self.proc.poll() is not None:
                raise NotReady(f"{self.name} exited with status {self.proc.returncode} before serving HTTPS; "
                               f"command: {' '.join(self.argv_used)}\n--- its output ---\n{self.log_tail()}")
            try:
                for port in self.ports.values():
                    st = https_get(port, self.ctx, timeout=0.5)[0]
                    if st != 200:
                        raise RuntimeError(f"GET {PATH} on port {port}: status {st}")
                return time.perf_counter() - t0
            except (OSError, RuntimeError) as e:
                last = e
            if time.monotonic() > deadline:
                raise NotReady(f"{self.name} did not serve HTTPS within {timeout}s (last error: {last!r}); "
                               f"command: {' '.join(self.argv_used)}\n--- its output ---\n{self.log_tail()}")
            time.sleep(poll)

    def cpu_split(self):
        """(utime, stime) ticks summed over the server's processes."""
        u = s = 0
        for pid in self.pids():
            st = proc_stat(pid)
            if st:
                u += int(st[1][11])
                s += int(st[1][12])
        return u, s


class RinggateTls(TlsServer, bs.Ringgate):
    """Handshake phase: bench_static's command line + --tls-cert/--tls-key.
    Keep-alive phase: a YAML config, one listener per forced suite."""

    def __init__(self, tmp, payload, binary, cert, key, listeners, ctx):
        super().__init__(tmp, payload, binary)
        self.cert, self.key, self.listeners, self.ctx = cert, key, listeners, ctx
        self.config_text = None

    def argv(self):
        self.alloc_ports()
        if len(self.listeners) == 1 and self.listeners[0][1] is None:
            argv = super().argv() + ["--tls-cert", str(self.cert), "--tls-key", str(self.key)]
        else:
            wolf = {iana: w for _, iana, w in KA_SUITES}
            lines = ["listen:"]
            for case, suite in self.listeners:
                lines += [f"  - address: {json.dumps(f'{HOST}:{self.ports[case]}')}",
                          "    tls:",
                          "      certificates:",
                          f"        - cert: {json.dumps(str(self.cert))}",
                          f"          key: {json.dumps(str(self.key))}",
                          '      min_version: "1.3"',
                          f"      ciphers: {json.dumps(wolf[suite])}"]
            lines += ["static:", f"  - path: {json.dumps(PATH)}", f"    file: {json.dumps(str(PAYLOAD))}", ""]
            self.config_text = "\n".join(lines)
            path = self.tmp / f"ringgate-{self.port}.yaml"
            path.write_text(self.config_text)
            argv = ["taskset", "-c", str(SERVER_CPU), self.binary, "--config", str(path),
                    "--workers", "1", "--cpus", str(SERVER_CPU), "--log-level", "warn"]
        self.argv_used = argv
        return argv

    def metrics(self):
        """/metrics (over TLS, on the first listener) as {(name, frozenset(labels)): value}."""
        st, _, _, body, _, _ = https_get(self.port, self.ctx, path="/metrics")
        if st != 200:
            raise RuntimeError(f"ringgate GET /metrics: status {st}")
        out = {}
        for line in body.decode(errors="replace").splitlines():
            m = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)$", line)
            if m:
                labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
                out[(m.group(1), labels)] = float(m.group(3))
        return out


def tls_counts(before, after):
    """Server-side handshake counts between two scrapes (version 1.3 only, and
    failures by reason)."""
    def get(snap, name, **lab):
        want = set(lab.items())
        return sum(v for (n, ls), v in snap.items() if n == name and want <= set(ls))
    d = {
        "full": get(after, "ringgate_tls_handshakes_total", side="server", version="1.3", resumed="false")
        - get(before, "ringgate_tls_handshakes_total", side="server", version="1.3", resumed="false"),
        "resumed": get(after, "ringgate_tls_handshakes_total", side="server", version="1.3", resumed="true")
        - get(before, "ringgate_tls_handshakes_total", side="server", version="1.3", resumed="true"),
        "other_versions": get(after, "ringgate_tls_handshakes_total", side="server")
        - get(before, "ringgate_tls_handshakes_total", side="server"),
        "accepted": get(after, "ringgate_connections_accepted_total")
        - get(before, "ringgate_connections_accepted_total"),
    }
    d["other_versions"] -= d["full"] + d["resumed"]
    d["failures"] = {}
    for (n, ls), v in after.items():
        if n == "ringgate_tls_handshake_failures_total" and ("side", "server") in ls:
            delta = v - before.get((n, ls), 0)
            if delta:
                d["failures"][dict(ls).get("reason", "?")] = delta
    # the closing scrape's own connection is a full TLS 1.3 handshake
    d["full"] -= 1
    d["accepted"] -= 1
    return {k: (int(v) if isinstance(v, float) else v) for k, v in d.items()}


class NginxTls(TlsServer, bs.Nginx):
    """Debian's nginx (OpenSSL), one worker on CPU 0, same certificate, body
    returned from the config as in bench_static. In the handshake phase a
    buffered access log records $ssl_session_reused per request (server-side
    proof of resumption); the keep-alive phase logs nothing."""

    def __init__(self, tmp, payload, binary, cert, key, listeners, ctx, access_log):
        super().__init__(tmp, payload, binary)
        self.cert, self.key, self.listeners, self.ctx = cert, key, listeners, ctx
        self.access_log = access_log

    def write_conf(self):
        self.alloc_ports()
        d = self.tmp / f"nginx-{self.port}"
        d.mkdir()
        body = bs.nginx_return_body(self.payload)
        if self.access_log:
            self.access_log_path = d / "access.log"
            logging = ("log_format tlsbench '$msec $ssl_session_reused $ssl_protocol $ssl_cipher $ssl_curve "
                       "$status $body_bytes_sent';\n"
                       f"    access_log {self.access_log_path} tlsbench buffer=64k flush=1s;")
        else:
            self.access_log_path = None
            logging = "access_log off;"
        servers = []
        for case, suite in self.listeners:
            if suite is None:
                # nginx 1.22's default is TLSv1 TLSv1.1 TLSv1.2 (no 1.3);
                # ringgate's default minimum is 1.2
                proto = "ssl_protocols TLSv1.2 TLSv1.3;"
            else:
                proto = f"ssl_protocols TLSv1.3;\n        ssl_conf_command Ciphersuites {suite};"
            servers.append(f"""\
    server {{
        listen {HOST}:{self.ports[case]} ssl reuseport;
        {proto}
        location = {PATH} {{
            default_type application/json;
            return 200 '{body}';
        }}
    }}""")
        conf = bs.nginx_conf(d, f"""{logging}
    ssl_certificate {self.cert};
    ssl_certificate_key {self.key};
    ssl_ecdh_curve {NGINX_GROUPS};
    ssl_prefer_server_ciphers on;""", "\n".join(servers))
        (d / "nginx.conf").write_text(conf)
        self.confdir = d
        self.config_text = conf
        return d

    def argv(self):
        argv = super().argv()
        self.argv_used = argv
        return argv

    def error_log_lines(self):
        try:
            return (self.confdir / "error.log").read_text(errors="replace").splitlines()
        except OSError:
            return []

    def access_entries(self):
        """[(epoch_s, reused, protocol, cipher, curve, status)] (after nginx exits:
        the buffered log is flushed then)."""
        out = []
        if not self.access_log_path or not self.access_log_path.exists():
            return out
        for line in self.access_log_path.read_text(errors="replace").splitlines():
            f = line.split()
            if len(f) >= 6:
                out.append((float(f[0]), f[1] == "r", f[2], f[3], f[4], f[5]))
        return out


# --------------------------------------------------------------------------
# load generators


STIME_RE = re.compile(r"(\d+) connections in ([\d.]+)s; [\d.]+ connections/user sec, bytes read (\d+)")


def run_s_time(port, mode, duration, clients, tmp):
    """`clients` openssl s_time processes in parallel on LOAD_CPU, each one
    connection at a time. Returns counts summed over them."""
    # s_time stops at the first whole second after -time has passed, so it
    # runs between T and T+1 s: T = duration - 1 centres it on the duration
    t = max(1, int(round(duration)) - 1)
    cmd = ["taskset", "-c", str(LOAD_CPU), "openssl", "s_time", "-connect", f"{HOST}:{port}",
           "-tls1_3", "-ciphersuites", HS_SUITE, "-time", str(t)]
    cmd += {"full": ["-new"], "full_get": ["-new", "-www", PATH], "resumed_get": ["-reuse", "-www", PATH]}[mode]
    procs = []
    t0 = time.perf_counter()
    try:
        for i in range(clients):
            # files, not pipes: s_time prints a character per connection
            outf = open(tmp / f"s_time-{i}.out", "w+")
            procs.append((subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=outf, stderr=subprocess.STDOUT,
                                           preexec_fn=_child_setup), outf))
        for p, _ in procs:
            p.wait(timeout=t + 60)
        wall = time.perf_counter() - t0
        res = {"connections": 0, "client_reused": 0, "client_full": 0, "bytes_read": 0, "wall_s": wall,
               "processes": clients}
        for p, outf in procs:
            outf.seek(0)
            out = outf.read()
            m = STIME_RE.search(out)
            if p.returncode != 0 or not m:
                raise RuntimeError(f"openssl s_time failed (exit {p.returncode}): {' '.join(cmd)}\n{out[-1500:]}")
            n = int(m.group(1))
            # one progress character per connection: 'r' = session reused,
            # '*' = a new session (full handshake)
            marks = "".join(ln for ln in out.splitlines() if re.fullmatch(r"[*rt3]+", ln))
            if len(marks) != n:
                raise RuntimeError(f"s_time: {n} connections but {len(marks)} progress marks:\n{out[-800:]}")
            res["connections"] += n
            res["client_reused"] += marks.count("r")
            res["client_full"] += n - marks.count("r")
            res["bytes_read"] += int(m.group(3))
        return res
    finally:
        for p, outf in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            outf.close()


def run_wrk_https(port, duration, conns):
    cmd = ["taskset", "-c", str(LOAD_CPU), "wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency",
           f"https://{HOST}:{port}{PATH}"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, preexec_fn=_child_setup)
    if p.returncode != 0:
        raise RuntimeError(f"wrk failed ({p.returncode}): {p.stdout}\n{p.stderr}")
    return bs.parse_wrk(p.stdout)


def children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measured(srv, others, load, ops_key):
    """Run `load()` and charge the server's CPU over it to the operations it
    reports under `ops_key`. Client CPU = CPU of the children reaped meanwhile
    (only the load generators are)."""
    ours = set(others) | set(srv.pids()) | {os.getpid()}
    scrape = isinstance(srv, RinggateTls) and srv.listeners[0][1] is None
    m0 = srv.metrics() if scrape else None
    f0 = all_ticks_except(ours)
    k0 = children_cpu_s()
    (u0, s0), b0 = srv.cpu_split(), cpu0_busy_ticks()
    t_start = time.time()
    r = load()
    t_end = time.time()
    (u1, s1), b1 = srv.cpu_split(), cpu0_busy_ticks()
    k1 = children_cpu_s()
    f1 = all_ticks_except(ours)
    if srv.proc.poll() is not None:
        raise RuntimeError(f"{srv.name} died during the round:\n{srv.log_tail()}")
    if scrape:
        r["server_side"] = tls_counts(m0, srv.metrics())
    n = r[ops_key]
    wall = r.get("wall_s") or r.get("elapsed_s")
    cpu_s = (u1 - u0 + s1 - s0) / CLK_TCK
    r.update({
        "ops": n,
        "ops_per_s": n / wall if wall else None,
        "t_start": t_start, "t_end": t_end,
        "server_cpu_s": cpu_s,
        "server_user_s": (u1 - u0) / CLK_TCK,
        "server_sys_s": (s1 - s0) / CLK_TCK,
        "cpu_us_per_op": cpu_s / n * 1e6 if n else None,
        "user_us_per_op": (u1 - u0) / CLK_TCK / n * 1e6 if n else None,
        "sys_us_per_op": (s1 - s0) / CLK_TCK / n * 1e6 if n else None,
        "server_cpu_frac_of_core": cpu_s / wall if wall else None,
        "cpu0_busy_us_per_op": (b1 - b0) / CLK_TCK / n * 1e6 if n else None,
        "client_cpu_s": k1 - k0,
        "client_cpu_frac_of_core": (k1 - k0) / wall if wall else None,
        "client_cpu_us_per_op": (k1 - k0) / n * 1e6 if n else None,
        "other_cpu_s": (f1 - f0) / CLK_TCK,
        "other_cpu_frac_of_core": (f1 - f0) / CLK_TCK / wall if wall else None,
    })
    r.pop("raw", None)
    return r


# --------------------------------------------------------------------------


def check_server(srv, payload, cafile):
    """Before any load: every listener serves the payload over TLS 1.3 with
    the expected suite, X25519 and our ECDSA certificate."""
    out = {}
    for case, suite in srv.listeners:
        port = srv.ports[case]
        st, headers, head_len, body, version, cipher = https_get(port, srv.ctx)
        if st != 200 or body != payload:
            raise RuntimeError(f"{srv.name} ({case}): status {st}, body {len(body)} B "
                               f"({'identical' if body == payload else 'differs from perf/payload.json'})")
        # handshake listeners: probe as s_time will (one suite offered); keep-alive
        # listeners: offer OpenSSL's defaults as wrk does, the server must pick its forced suite
        probe = s_client_check(port, cafile, HS_SUITE if suite is None else None)
        want = suite or HS_SUITE
        problems = []
        if not probe["ok"]:
            problems.append("s_client could not connect")
        if probe["protocol"] != "TLSv1.3" or version != "TLSv1.3":
            problems.append(f"protocol {probe['protocol']} / {version}")
        if probe["cipher"] != want:
            problems.append(f"suite {probe['cipher']} (want {want})")
        if suite is not None and cipher != suite:
            problems.append(f"Python's default offer got {cipher} (want {suite})")
        if probe["group"] != "X25519":
            problems.append(f"key exchange {probe['group']}")
        if probe["signature"] != "ECDSA" or probe["verification"] != "OK":
            problems.append(f"signature {probe['signature']}, verification {probe['verification']}")
        if problems:
            raise RuntimeError(f"{srv.name} ({case}) negotiates the wrong parameters: {'; '.join(problems)}\n"
                               f"{probe['raw']}")
        out[case] = {"status": st, "head_bytes": head_len, "body_bytes": len(body),
                     "headers": headers, "python_tls": [version, cipher],
                     **{k: probe[k] for k in ("protocol", "cipher", "group", "signature", "verification")}}
        log(f"{srv.name} {case}: 200, body identical, head {head_len} B, {probe['protocol']} {probe['cipher']} "
            f"{probe['group']} {probe['signature']}")
    return out


def preflight_ringgate(binary, tmp, cert, key, shown_as):
    """`ringgate --check` with both TLS configurations, so a binary without TLS
    fails in a second with its own message, not after the nginx rounds."""
    probes = [
        (RinggateTls(tmp, b"", binary, cert, key, [("full", None)], None), "command line --tls-cert/--tls-key"),
        (RinggateTls(tmp, b"", binary, cert, key, [(c, s) for c, s, _ in KA_SUITES], None),
         "YAML listener tls: {certificates, min_version, ciphers}"),
    ]
    for srv, what in probes:
        srv.port = bs.free_port()
        argv = srv.argv()[4:] + ["--check"]  # without taskset and the binary
        p = subprocess.run([binary] + argv, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            msg = (p.stdout + p.stderr).strip()
            hint = ""
            if "unknown option '--tls-" in msg or "expected a string; got a mapping" in msg:
                hint = ("\nThis ringgate binary has no TLS support yet. Rebuild it with TLS, "
                        "point --ringgate at a TLS build, or run with --only nginx.")
            raise NotReady(f"ringgate cannot run the TLS benchmark: {what} is rejected.\n"
                           f"  {shown_as} {' '.join(argv)}\n  exit {p.returncode}: {msg}{hint}"
                           + (f"\n  config:\n{srv.config_text}" if srv.config_text else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=None, help="rounds per case and server (default 4; --quick 2)")
    ap.add_argument("--duration", type=float, default=None,
                    help="seconds per round (default 10; --quick 3); s_time takes whole seconds")
    ap.add_argument("--quick", action="store_true", help="2 rounds of 3 s, shorter warm-ups and quiet waits")
    ap.add_argument("--only", choices=("both", "ringgate", "nginx"), default="both",
                    help="run one server only (no ratios)")
    ap.add_argument("--cases", default=",".join(HS_CASES + tuple(c for c, _, _ in KA_SUITES)),
                    help="comma-separated subset of: " + ", ".join(CASE_TITLE))
    ap.add_argument("--clients", type=int, default=4,
                    help="parallel s_time processes (all on CPU %d) in the handshake cases" % LOAD_CPU)
    ap.add_argument("--connections", type=int, default=64, help="wrk keep-alive connections")
    ap.add_argument("--wait-quiet", type=float, default=None, metavar="S",
                    help="before each round wait up to S s for the rest of the machine to be idle "
                         "(< 5%% of a core over 1 s); 0 = don't wait (default 60; --quick 5)")
    ap.add_argument("--ringgate", default=str(bs.DEFAULT_RINGGATE))
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--out", default=None, help="JSON results path (default perf/results/tls-<date>.json)")
    args = ap.parse_args()
    rounds = args.rounds if args.rounds is not None else (2 if args.quick else 4)
    duration = args.duration if args.duration is not None else (3 if args.quick else 10)
    duration = int(duration) if float(duration).is_integer() else duration
    if args.wait_quiet is None:
        args.wait_quiet = 5 if args.quick else 60
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    for c in cases:
        if c not in CASE_TITLE:
            sys.exit(f"unknown case {c!r}; known: {', '.join(CASE_TITLE)}")
    hs_cases = [c for c in HS_CASES if c in cases]
    ka_cases = [(c, s) for c, s, _ in KA_SUITES if c in cases]
    names = ["ringgate", "nginx"] if args.only == "both" else [args.only]

    if os.cpu_count() < 2:
        sys.exit("needs at least 2 CPUs (server on CPU 0, load on CPU 1)")
    for tool, pkg in (("wrk", "wrk"), ("taskset", "util-linux"), ("openssl", "openssl")):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (apt-get install -y {pkg})")
    if "ringgate" in names and not os.access(args.ringgate, os.X_OK):
        sys.exit(f"{args.ringgate} not found: build it with `ninja -C build`, or pass --ringgate PATH")
    if "nginx" in names and not os.access(args.nginx, os.X_OK):
        sys.exit(f"{args.nginx} not found (apt-get install -y nginx-light)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    payload = PAYLOAD.read_bytes()
    started_at = datetime.datetime.now(datetime.timezone.utc)
    bg = bs.background_load()
    busy_bg = {c: round(f, 3) for c, f in bg.items()}
    if max(bg.values()) > 0.10:
        log(f"WARNING: CPUs already busy before the run (busy fraction per CPU: {busy_bg})")

    def dpkg_version(pkg):
        return version_of(["dpkg-query", "-W", "-f", "${Version}", pkg])

    meta = {
        "date_utc": started_at.isoformat(timespec="seconds"),
        "command": " ".join(["/usr/bin/python3", "perf/bench_tls.py", *sys.argv[1:]]),
        "servers": names, "cases": cases,
        "rounds": rounds, "duration_s": duration, "s_time_processes": args.clients,
        "wrk_connections": args.connections, "wait_quiet_s": args.wait_quiet,
        "payload_bytes": len(payload),
        "handshake_client_suite": HS_SUITE,
        "kernel": platform.release(),
        "cpu": next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                     if ln.startswith("model name")), "?"),
        "cpu_has_aes_ni": any(ln.startswith("flags") and " aes " in ln for ln in open("/proc/cpuinfo")),
        "ncpu": os.cpu_count(),
        "openssl": version_of(["openssl", "version"]),
        "wolfssl_package": dpkg_version("libwolfssl35"),
        "nginx": version_of([args.nginx, "-v"]) if "nginx" in names else None,
        "nginx_openssl": next((ln for ln in subprocess.run([args.nginx, "-V"], capture_output=True,
                                                            text=True).stderr.splitlines()
                               if ln.startswith("built with")), "?") if "nginx" in names else None,
        "wrk": version_of(["wrk", "-v"]),
        "background_busy_fraction_per_cpu": busy_bg,
        "server_cpu": SERVER_CPU, "load_cpu": LOAD_CPU,
    }
    if "ringgate" in names:
        meta.update({
            "ringgate": version_of([args.ringgate, "--version"]),
            "ringgate_git": version_of(["git", "-C", str(REPO), "describe", "--always", "--dirty"]),
            "ringgate_binary_mtime": datetime.datetime.fromtimestamp(
                os.stat(args.ringgate).st_mtime, datetime.timezone.utc).isoformat(timespec="seconds"),
        })

    def _interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)

    tmp = Path(tempfile.mkdtemp(prefix="bench_tls."))
    servers = []
    results = {"meta": meta, "rounds": [], "response_check": {}, "configs": {}}
    interrupted = False
    not_ready = None
    try:
        cert, key, fp = make_cert(tmp)
        meta["certificate"] = {"type": "ECDSA P-256 (prime256v1), self-signed, SAN localhost/127.0.0.1",
                               "sha256_fingerprint": fp}
        ctx = client_context(cert)
        if "ringgate" in names:
            rg_copy = tmp / "ringgate"  # a rebuild during the run must not mix binaries
            shutil.copy2(args.ringgate, rg_copy)
            meta["ringgate_sha256"] = hashlib.sha256(rg_copy.read_bytes()).hexdigest()
            shown_as = args.ringgate
            args.ringgate = str(rg_copy)
            preflight_ringgate(args.ringgate, tmp, cert, key, shown_as)

        def make(name, listeners, access_log):
            if name == "ringgate":
                return RinggateTls(tmp, payload, args.ringgate, cert, key, listeners, ctx)
            return NginxTls(tmp, payload, args.nginx, cert, key, listeners, ctx, access_log)

        def settle(pids):
            if args.wait_quiet > 0:
                waited = bs.wait_quiet(set(pids) | {os.getpid()}, args.wait_quiet)
                if waited > 1.5:
                    log(f"  waited {waited:.0f}s for other processes to calm down")

        def phase(listeners, access_log, phase_cases, warm, run_case, ops_key):
            srvs = []
            for name in names:
                s = make(name, listeners, access_log)
                servers.append(s)
                s.wait_served(s.start())
                srvs.append(s)
            for s in srvs:
                results["response_check"].setdefault(s.name, {}).update(
                    check_server(s, payload, cert))
                results["configs"].setdefault(s.name, []).append(
                    {"argv": s.argv_used, "config": s.config_text})
            log(f"warm-up {warm}s per server and case")
            for case in phase_cases:
                for s in srvs:
                    run_case(s, case, warm)
            phase_rounds = []
            for i in range(rounds):
                for case in phase_cases:
                    for s in srvs:
                        others = [p for o in srvs if o is not s for p in o.pids()]
                        settle(set(s.pids()) | set(others))
                        r = measured(s, others, lambda: run_case(s, case, duration), ops_key)
                        r.update({"case": case, "server": s.name, "round": i + 1})
                        phase_rounds.append(r)
                        log_round(r, rounds)
            for s in srvs:
                s.stop()
                servers.remove(s)
                if isinstance(s, NginxTls):
                    attribute_nginx_log(s, phase_rounds)
                    errs = s.error_log_lines()
                    results.setdefault("nginx_error_log_lines", 0)
                    results["nginx_error_log_lines"] += len(errs)
                    if errs:
                        results.setdefault("nginx_error_log_tail", []).extend(errs[-5:])
            results["rounds"] += phase_rounds

        if hs_cases:
            log(f"handshake phase: {', '.join(hs_cases)}; {args.clients} x openssl s_time on CPU {LOAD_CPU}")
            phase([("full", None)], True, hs_cases, 1 if args.quick else 2,
                  lambda s, case, d: run_s_time(s.port, case, d, args.clients, tmp), "connections")
        if ka_cases:
            log(f"keep-alive phase: {', '.join(c for c, _ in ka_cases)}; wrk -t1 -c{args.connections} on CPU {LOAD_CPU}")
            phase(ka_cases, False, [c for c, _ in ka_cases], 1 if args.quick else 2,
                  lambda s, case, d: run_wrk_https(s.ports[case], d, args.connections), "requests")
    except NotReady as e:
        not_ready = e
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted")
    finally:
        bs.stop_servers(servers, tmp)
    if interrupted:
        sys.exit(130)
    if not_ready:
        log(f"ERROR: {not_ready}")
        sys.exit(2)

    report, checks = summarize(results, names, cases, rounds, duration, args, payload)
    results["report_markdown"] = report
    results["checks"] = checks
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    suffix = ("-quick" if args.quick else "") + (f"-{args.only}-only" if args.only != "both" else "")
    out = Path(args.out) if args.out else RESULTS_DIR / f"tls-{started_at.strftime('%Y-%m-%dT%H%M%SZ')}{suffix}.json"
    # written before printing: a closed stdout (| head) must not lose the run
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    log(f"results: {out}")
    print(report)
    if not all(c["pass"] for c in checks):
        sys.exit(1)


def log_round(r, rounds):
    unit = CASE_UNIT[r["case"]]
    extra = ""
    if r["case"] in HS_CASES:
        extra = f"  client reused {r['client_reused']}/{r['connections']}"
        ss = r.get("server_side")
        if ss:
            extra += f"  server full {ss['full']} resumed {ss['resumed']}" + (
                f" failures {ss['failures']}" if ss["failures"] else "")
        if r["case"] != "full":
            extra += f"  {r['bytes_read'] / max(r['connections'], 1):.0f} B read/conn"
    else:
        extra = f"  p50 {r['latency_us'].get('p50', 0):.0f} us  p99 {r['latency_us'].get('p99', 0):.0f} us"
        if r["non2xx"] or r["socket_errors"]:
            extra += f"  non2xx {r['non2xx']} socket errors {r['socket_errors']}"
    log(f"round {r['round']}/{rounds} {r['case']:12s} {r['server']:8s}: {r['ops_per_s']:>9,.0f} {unit}s/s  "
        f"{r['cpu_us_per_op']:7.2f} us CPU/{unit} (user {r['user_us_per_op']:.1f} sys {r['sys_us_per_op']:.1f}; "
        f"CPU0 busy {r['cpu0_busy_us_per_op']:.1f})  server {r['server_cpu_frac_of_core'] * 100:.0f}% "
        f"client {r['client_cpu_frac_of_core'] * 100:.0f}% of a core{extra}  "
        f"other procs {r['other_cpu_frac_of_core'] * 100:.0f}%")


def attribute_nginx_log(srv, phase_rounds):
    """Give each handshake round with a request nginx's own count of requests
    and of reused sessions in its time window (a bare handshake logs nothing)."""
    entries = srv.access_entries()
    for r in phase_rounds:
        if r["server"] != "nginx" or r["case"] not in ("full_get", "resumed_get"):
            continue
        mine = [e for e in entries if r["t_start"] - 0.01 <= e[0] <= r["t_end"] + 0.01]
        r["server_side"] = {
            "requests_logged": len(mine),
            "resumed": sum(1 for e in mine if e[1]),
            "full": sum(1 for e in mine if not e[1]),
            "protocol_cipher_curve": dict(collections.Counter(f"{e[2]} {e[3]} {e[4]}" for e in mine)),
            "status": dict(collections.Counter(e[5] for e in mine)),
        }


def summarize(results, names, cases, rounds, duration, args, payload):
    by = collections.defaultdict(list)
    for r in results["rounds"]:
        by[(r["case"], r["server"])].append(r)
    keys = ("ops_per_s", "cpu_us_per_op", "user_us_per_op", "sys_us_per_op", "cpu0_busy_us_per_op",
            "client_cpu_frac_of_core", "client_cpu_us_per_op", "server_cpu_frac_of_core", "other_cpu_frac_of_core")
    summary, quiet = {}, {}
    for (case, name), rs in by.items():
        s = {k: med(rs, k) for k in keys}
        s["cpu_us_per_op_min"] = min(r["cpu_us_per_op"] for r in rs)
        s["cpu_us_per_op_max"] = max(r["cpu_us_per_op"] for r in rs)
        if case in HS_CASES:
            s["connections"] = sum(r["connections"] for r in rs)
            s["client_reused"] = sum(r["client_reused"] for r in rs)
            s["bytes_read_per_conn"] = sum(r["bytes_read"] for r in rs) / max(s["connections"], 1)
            ss = [r.get("server_side") for r in rs]
            if all(ss):
                s["server_resumed"] = sum(x["resumed"] for x in ss)
                s["server_full"] = sum(x["full"] for x in ss)
                s["server_failures"] = dict(sum((collections.Counter(x.get("failures", {})) for x in ss),
                                                collections.Counter()))
        else:
            for k in ("p50", "p99"):
                s[f"{k}_us"] = statistics.median(r["latency_us"].get(k) for r in rs)
            s["non2xx_total"] = sum(r["non2xx"] for r in rs)
            s["socket_errors_total"] = sum(r["socket_errors"] for r in rs)
        summary.setdefault(case, {})[name] = s
        q = [r for r in rs if r["other_cpu_frac_of_core"] < 0.05]
        quiet.setdefault(case, {})[name] = {"rounds": len(q), "cpu_us_per_op": med(q, "cpu_us_per_op"),
                                           "ops_per_s": med(q, "ops_per_s")}
    results["summary"] = summary
    results["summary_quiet_rounds"] = quiet

    meta = results["meta"]
    lines = [f"ringgate (wolfSSL) vs nginx (OpenSSL) over TLS 1.3, {meta['date_utc']}, {rounds} rounds x "
             f"{duration} s, servers on CPU {SERVER_CPU}, load on CPU {LOAD_CPU} "
             f"({args.clients} x openssl s_time; wrk -t1 -c{args.connections}), ECDSA P-256, X25519",
             "",
             "| case | metric | " + " | ".join(names) + (" | ringgate/nginx |" if len(names) == 2 else " |"),
             "|---|---|" + "---:|" * (len(names) + (1 if len(names) == 2 else 0))]
    table = []

    def row(case, label, key, nd, pct=False, bold=False, first=False):
        vals = [summary.get(case, {}).get(n, {}).get(key) for n in names]
        ratio = vals[0] / vals[1] if len(vals) == 2 and vals[0] is not None and vals[1] else None
        table.append({"case": case, "metric": label, **dict(zip(names, vals)), "ratio": ratio})
        shown = [fmt(None if v is None else float(v) * (100 if pct else 1), nd) + ("%" if pct and v is not None
                                                                                  else "") for v in vals]
        b = "**" if bold else ""
        cells = [f"{b}{x}{b}" for x in shown] + ([f"{b}{fmt(ratio, 2)}{b}"] if len(names) == 2 else [])
        lines.append(f"| {CASE_TITLE[case] if first else ''} | {b}{label}{b} | "
                     + " | ".join(cells) + " |")

    for case in cases:
        if case not in summary:
            continue
        unit = CASE_UNIT[case]
        nd = 1 if case in HS_CASES else 2
        row(case, f"server CPU µs per {unit}", "cpu_us_per_op", nd, bold=True, first=True)
        row(case, "of which user µs", "user_us_per_op", nd)
        row(case, "of which sys µs", "sys_us_per_op", nd)
        row(case, f"{unit}s/s (median of rounds)", "ops_per_s", 0)
        row(case, "server CPU 0 use", "server_cpu_frac_of_core", 0, pct=True)
        row(case, "client CPU 1 use", "client_cpu_frac_of_core", 0, pct=True)
        row(case, f"client CPU µs per {unit}", "client_cpu_us_per_op", nd)
        if case not in HS_CASES:
            row(case, "latency p50 µs", "p50_us", 0)
            row(case, "latency p99 µs", "p99_us", 0)
    results["table"] = table

    # correctness of what was measured
    checks = []

    def check(name, ok, detail):
        checks.append({"check": name, "pass": bool(ok), "detail": detail})

    for case in cases:
        for n in names:
            s = summary.get(case, {}).get(n)
            if not s:
                continue
            if case in HS_CASES:
                conns = s["connections"]
                if case == "resumed_get":
                    ok = s["client_reused"] >= 0.95 * conns
                    # seen with a test server: OpenSSL marks a session not resumable
                    # when the connection ends without close_notify
                    check(f"{n} {case}: client resumed ≥ 95%", ok, f"s_time 'r' marks {s['client_reused']}/{conns}"
                          + ("" if ok else "; an OpenSSL client drops its session when the server closes "
                             "without a close_notify alert: does the server send one before closing?"))
                    if "server_resumed" in s:
                        check(f"{n} {case}: server resumed ≥ 95%", s["server_resumed"] >= 0.95 * conns,
                              f"server counted {s['server_resumed']} resumed, {s['server_full']} full "
                              f"(expected full: {args.clients} per round for s_time's first connection)")
                else:
                    check(f"{n} {case}: no resumption", s["client_reused"] == 0 and s.get("server_resumed", 0) == 0,
                          f"client {s['client_reused']}, server "
                          + (str(s["server_resumed"]) if "server_resumed" in s else "n/a (nothing logged)"))
                    if "server_full" in s and n == "ringgate":
                        check(f"{n} {case}: server counted the handshakes", abs(s["server_full"] - conns)
                              <= 0.01 * conns + args.clients * rounds, f"server {s['server_full']} vs client {conns}")
                if s.get("server_failures"):
                    check(f"{n} {case}: no handshake failures", False, str(s["server_failures"]))
                if case != "full":
                    check(f"{n} {case}: reply received per connection", s["bytes_read_per_conn"] >= len(payload),
                          f"{s['bytes_read_per_conn']:.0f} B read per connection (body {len(payload)} B)")
            else:
                check(f"{n} {case}: no errors", s["non2xx_total"] == 0 and s["socket_errors_total"] == 0,
                      f"non-2xx {s['non2xx_total']}, socket errors {s['socket_errors_total']}")
    seen = collections.Counter()
    for r in results["rounds"]:
        seen.update((r.get("server_side") or {}).get("protocol_cipher_curve") or {})
    if seen:
        want = f"TLSv1.3 {HS_SUITE} X25519"
        check(f"nginx handshake rounds: {want} only (access log)", set(seen) == {want}, str(dict(seen)))
    lines += ["", "Checks (what was measured is what was meant):"]
    lines += [f"- {'PASS' if c['pass'] else 'FAIL'} {c['check']}: {c['detail']}" for c in checks]
    lines.append("")
    other = [s["other_cpu_frac_of_core"] for c in summary.values() for s in c.values()]
    if other and max(other) > 0.05:
        lines.append(f"WARNING: the machine was not quiet (other processes up to {max(other) * 100:.0f}% of a core "
                     "in the median round of some case); rates are disturbed, server CPU per operation less so.")
    lines.append("Quiet rounds only (other processes < 5% of a core), server CPU µs per operation: " + "; ".join(
        f"{c} " + ", ".join(f"{n} {q[n]['cpu_us_per_op']:.2f} ({q[n]['rounds']}/{rounds})" if q[n]["rounds"]
                            else f"{n} none" for n in names if n in q)
        for c, q in quiet.items()) + ".")
    return "\n".join(lines), checks


if __name__ == "__main__":
    main()
