#!/usr/bin/python3
"""Static-reply benchmark: ringgate vs nginx, side by side in one run.

Both servers answer GET /r with the same ~400-byte JSON body (perf/payload.json)
on one worker pinned to CPU 0; wrk (one thread, 64 keep-alive connections) runs
pinned to CPU 1. Rounds alternate ringgate, nginx, ringgate, nginx, ...

Measured per server:
  * requests/s and latency p50/p99 (wrk --latency);
  * CPU time per request: utime+stime of all the server's processes (ringgate:
    the process, all threads; nginx: master + worker) from /proc/PID/stat,
    read before and after each round, divided by wrk's request count;
    as a cross-check, busy time of CPU 0 as a whole from /proc/stat
    (includes softirq work not charged to any process);
  * resident memory with 10,000 idle keep-alive connections (each has made one
    complete request/response), per connection above the baseline;
  * start-up: exec to the first served GET /r (median of 5 starts).

Usage (from the repository root):
  /usr/bin/python3 perf/bench_static.py [--rounds N] [--duration S] [--quick]

Standard library only. Loopback only. Every load is bounded in time.
"""

import argparse
import ctypes
import datetime
import errno
import hashlib
import json
import os
import platform
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine_load import proc_stat

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RINGGATE = REPO / "build" / "gateway" / "ringgate"
PAYLOAD = REPO / "perf" / "payload.json"
RESULTS_DIR = REPO / "perf" / "results"

SERVER_CPU = 0
LOAD_CPU = 1
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"
PATH = "/r"
REQUEST = f"GET {PATH} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()

# --------------------------------------------------------------------------
# child processes: die with us (PR_SET_PDEATHSIG), always cleaned up

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _child_setup():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_stat(pid):
    """(ppid, utime+stime ticks, comm) of one process, or None if gone."""
    st = proc_stat(pid)
    if st is None:
        return None
    comm, fields = st
    return int(fields[1]), int(fields[11]) + int(fields[12]), comm


def all_ticks_except(exclude):
    """Sum of utime+stime+cutime+cstime over every process not in `exclude`
    (kernel threads included): CPU used by everything else on the machine.
    Time of processes that exit mid-interval reappears in their parent's
    cutime/cstime once reaped."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in exclude:
            continue
        st = proc_stat(name)
        if st:
            fields = st[1]
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total


def children_of(pid):
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = read_stat(int(name))
        if st and st[0] == pid:
            kids.append(int(name))
    return kids


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for k in children_of(p):
            out.append(k)
            todo.append(k)
    return out


def vm_rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu0_busy_ticks(cpu=SERVER_CPU):
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                v = [int(x) for x in line.split()[1:]]
                # user nice system idle iowait irq softirq steal
                return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
    raise RuntimeError("cpu line missing")


def background_load(interval=1.0):
    """Busy fraction of each CPU over `interval` seconds, before we start."""
    def snap():
        out = {}
        with open("/proc/stat") as f:
            for line in f:
                m = re.match(r"cpu(\d+) ", line)
                if m:
                    v = [int(x) for x in line.split()[1:]]
                    idle = v[3] + v[4]
                    out[int(m.group(1))] = (sum(v[:8]) - idle, sum(v[:8]))
        return out
    a = snap()
    time.sleep(interval)
    b = snap()
    res = {}
    for c in a:
        busy = b[c][0] - a[c][0]
        tot = b[c][1] - a[c][1]
        res[c] = busy / tot if tot else 0.0
    return res


# --------------------------------------------------------------------------
# minimal HTTP/1.1 client


def parse_head(buf):
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = []
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        headers.append((k.decode().strip(), v.decode().strip()))
    return status, headers, len(head) + 4, rest


def content_length(headers):
    for k, v in headers:
        if k.lower() == "content-length":
            return int(v)
    raise RuntimeError("response without Content-Length")


def response_complete(buf):
    """(status, headers, head_len, body) if buf holds a whole response, else None."""
    if b"\r\n\r\n" not in buf:
        return None
    status, headers, head_len, rest = parse_head(buf)
    n = content_length(headers)
    if len(rest) < n:
        return None
    return status, headers, head_len, rest[:n]


def http_get(port, timeout=1.0):
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(REQUEST)
        buf = b""
        while True:
            r = response_complete(buf)
            if r:
                return r
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed before a whole response")
            buf += chunk


# --------------------------------------------------------------------------
# servers


class Server:
    name = "?"

    def __init__(self, tmp, payload):
        self.tmp = Path(tmp)
        self.payload = payload
        self.proc = None
        self.port = None
        self.logf = None

    def argv(self):
        raise NotImplementedError

    def start(self):
        """Spawn the server; returns the perf_counter() taken just before exec."""
        self.port = free_port()
        argv = self.argv()
        self.logpath = self.tmp / f"{self.name}-{self.port}.log"
        self.logf = open(self.logpath, "wb")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, preexec_fn=_child_setup,
                                     close_fds=True, start_new_session=True)
        # own session: a terminal's Ctrl-C reaches only us; we stop the
        # servers in order (and PR_SET_PDEATHSIG covers our sudden death)
        return t0

    def log_tail(self):
        try:
            return self.logpath.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def wait_served(self, t0, timeout=10.0, poll=0.001):
        """Poll connect+GET every `poll` s until a 200 arrives; seconds since t0."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                st, _, _, _ = http_get(self.port, timeout=0.5)
                if st == 200:
                    return time.perf_counter() - t0
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not serve within {timeout}s:\n{self.log_tail()}")
            time.sleep(poll)

    def pids(self):
        return [self.proc.pid] + descendants(self.proc.pid)

    def cpu_ticks(self):
        total = 0
        for p in self.pids():
            st = read_stat(p)
            if st:
                total += st[1]
        return total

    def rss_pid(self):
        """The process whose RSS is reported."""
        return self.proc.pid

    def stop(self):
        if self.proc is None:
            return
        kids = [p for p in descendants(self.proc.pid)]
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGTERM)  # ringgate: second signal stops at once
                try:
                    self.proc.wait(2)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        for k in kids:  # anything the master left behind
            st = read_stat(k)
            if st and st[2] == self.comm:
                try:
                    os.kill(k, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.logf:
            self.logf.close()
            self.logf = None
        self.proc = None


class Ringgate(Server):
    name = "ringgate"
    comm = "ringgate"

    def __init__(self, tmp, payload, binary):
        super().__init__(tmp, payload)
        self.binary = str(binary)

    def argv(self):
        return ["taskset", "-c", str(SERVER_CPU), self.binary,
                "--listen", f"{HOST}:{self.port}", "--workers", "1", "--cpus", str(SERVER_CPU),
                "--static", f"{PATH}={PAYLOAD}", "--log-level", "warn"]

    def describe_rss(self):
        return "ringgate process VmRSS (all threads)"


def nginx_return_body(payload):
    """The payload as the quoted argument of nginx's `return 200 '...'`."""
    body = payload.decode("utf-8")
    if "$" in body:
        raise RuntimeError("payload contains '$', which nginx's return would expand")
    return body.replace("\\", "\\\\").replace("'", "\\'")


def nginx_conf(d, http_directives, servers):
    """nginx.conf for one worker pinned to SERVER_CPU, with its pid, logs and
    temp files in d; `http_directives` (lines) and `servers` (server blocks)
    go into the http block."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    # 30000 wanted; without CAP_SYS_RESOURCE (containers, even as root)
    # the worker cannot go above the hard limit it inherits from us
    nofile = 30000 if (hard == resource.RLIM_INFINITY or hard >= 30000) else hard
    return f"""\
worker_processes 1;
worker_cpu_affinity {1 << SERVER_CPU:02b};
worker_rlimit_nofile {nofile};
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{
    worker_connections 20000;
}}
http {{
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    {http_directives}
{servers}
}}
"""


class Nginx(Server):
    name = "nginx"
    comm = "nginx"

    def __init__(self, tmp, payload, binary):
        super().__init__(tmp, payload)
        self.binary = binary

    def write_conf(self):
        d = self.tmp / f"nginx-{self.port}"
        d.mkdir()
        body = nginx_return_body(self.payload)
        conf = nginx_conf(d, "access_log off;", f"""\
    server {{
        listen {HOST}:{self.port} reuseport;
        location = {PATH} {{
            default_type application/json;
            return 200 '{body}';
        }}
    }}""")
        (d / "nginx.conf").write_text(conf)
        self.confdir = d
        return d

    def argv(self):
        d = self.write_conf()
        return ["taskset", "-c", str(SERVER_CPU), self.binary, "-p", str(d),
                "-c", str(d / "nginx.conf"), "-e", str(d / "error.log")]

    def log_tail(self):
        t = super().log_tail()
        try:
            t += (self.confdir / "error.log").read_text(errors="replace")[-2000:]
        except OSError:
            pass
        return t

    def rss_pid(self):
        kids = children_of(self.proc.pid)
        if len(kids) != 1:
            raise RuntimeError(f"nginx: expected one worker, found {kids}")
        return kids[0]

    def describe_rss(self):
        return "nginx worker process VmRSS (master not included)"


# --------------------------------------------------------------------------
# wrk


def to_us(num, unit):
    return float(num) * {"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}[unit]


def run_wrk(port, duration, conns=64):
    cmd = ["taskset", "-c", str(LOAD_CPU), "wrk", "-t1", f"-c{conns}", f"-d{duration}s",
           "--latency", f"http://{HOST}:{port}{PATH}"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60,
                       preexec_fn=_child_setup)
    out = p.stdout
    if p.returncode != 0:
        raise RuntimeError(f"wrk failed ({p.returncode}): {out}\n{p.stderr}")
    return parse_wrk(out)


def parse_wrk(out):
    """wrk --latency's stdout -> requests, elapsed_s, rps, latency_us, non2xx,
    socket_errors, raw (also used by bench_tls.py)."""
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if not m:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    res = {"requests": int(m.group(1)), "elapsed_s": to_us(m.group(2), m.group(3)) / 1e6}
    res["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    in_dist = False
    for line in out.splitlines():
        if "Latency Distribution" in line:
            in_dist = True
            continue
        if in_dist:
            mm = re.match(r"\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", line)
            if mm:
                lat[f"p{mm.group(1)}"] = to_us(mm.group(2), mm.group(3))
            else:
                in_dist = False
    res["latency_us"] = lat
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    res["raw"] = out
    return res


def wait_quiet(exclude, max_wait, threshold=0.05):
    """Wait (at most max_wait s) for a 1-s window in which everything else on
    the machine used < threshold of a core. Returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < max_wait:
        a = all_ticks_except(exclude)
        time.sleep(1.0)
        if (all_ticks_except(exclude) - a) / CLK_TCK < threshold:
            break
    return time.monotonic() - t0


def measured_round(srv, duration, others, conns):
    ours = set(others) | set(srv.pids()) | {os.getpid()}
    f0 = all_ticks_except(ours)
    c0, b0 = srv.cpu_ticks(), cpu0_busy_ticks()
    w = run_wrk(srv.port, duration, conns)
    c1, b1 = srv.cpu_ticks(), cpu0_busy_ticks()
    f1 = all_ticks_except(ours)
    if srv.proc.poll() is not None:
        raise RuntimeError(f"{srv.name} died during the round:\n{srv.log_tail()}")
    n = w["requests"]
    cpu_s = (c1 - c0) / CLK_TCK
    busy_s = (b1 - b0) / CLK_TCK
    return {
        "requests": n,
        "rps": w["rps"],
        "p50_us": w["latency_us"].get("p50"),
        "p75_us": w["latency_us"].get("p75"),
        "p90_us": w["latency_us"].get("p90"),
        "p99_us": w["latency_us"].get("p99"),
        "server_cpu_s": cpu_s,
        "cpu_us_per_req": cpu_s / n * 1e6 if n else None,
        "cpu0_busy_s": busy_s,
        "cpu0_busy_us_per_req": busy_s / n * 1e6 if n else None,
        "other_cpu_s": (f1 - f0) / CLK_TCK,
        "other_cpu_frac_of_core": (f1 - f0) / CLK_TCK / w["elapsed_s"],
        "non2xx": w["non2xx"],
        "socket_errors": w["socket_errors"],
    }


# --------------------------------------------------------------------------
# idle keep-alive connections


def open_idle(port, n, max_inflight=256, timeout=120.0):
    """Open n connections, make one full request/response on each, keep them open."""
    ep = select.epoll()
    done, inflight = [], {}
    started = 0
    deadline = time.monotonic() + timeout
    try:
        while len(done) < n:
            while started < n and len(inflight) < max_inflight:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                err = s.connect_ex((HOST, port))
                if err not in (0, errno.EINPROGRESS):
                    s.close()
                    raise OSError(err, f"connect: {os.strerror(err)} after {started} connections")
                inflight[s.fileno()] = [s, 0, b""]
                ep.register(s.fileno(), select.EPOLLOUT)
                started += 1
            for fd, ev in ep.poll(1.0):
                st = inflight[fd]
                s = st[0]
                if st[1] == 0:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, f"connect: {os.strerror(err)}")
                    s.send(REQUEST)
                    st[1] = 1
                    ep.modify(fd, select.EPOLLIN)
                else:
                    data = s.recv(65536)
                    if not data:
                        raise ConnectionError(f"server closed a connection after {len(done)} opened")
                    st[2] += data
                    r = response_complete(st[2])
                    if r:
                        if r[0] != 200:
                            raise RuntimeError(f"status {r[0]} on idle connection")
                        ep.unregister(fd)
                        del inflight[fd]
                        done.append(s)
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(done)}/{n} connections after {timeout}s")
    except BaseException:
        for s in done:
            s.close()
        for st in inflight.values():
            st[0].close()
        raise
    finally:
        ep.close()
    return done


def established_on(port):
    """Server-side ESTABLISHED sockets whose local port is `port` (from /proc/net/tcp)."""
    n = 0
    hexport = f"{port:04X}"
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[3] == "01" and parts[1].endswith(":" + hexport):
                n += 1
    return n


def idle_memory(srv, nconns):
    t0 = srv.start()
    srv.wait_served(t0)
    http_get(srv.port)  # warm-up
    time.sleep(0.5)
    pid = srv.rss_pid()
    base = vm_rss_bytes(pid)
    base_all = sum(vm_rss_bytes(p) for p in srv.pids())
    conns, curve = [], []
    try:
        # open in steps and note RSS at each: shows a fixed part (receive
        # buffers touched by first requests) apart from the per-connection slope
        for target in sorted({min(nconns, x) for x in (1000, 2000, 5000, nconns)}):
            conns += open_idle(srv.port, target - len(conns))
            time.sleep(0.3)
            curve.append((len(conns), vm_rss_bytes(pid) - base))
        time.sleep(1.0)
        held = established_on(srv.port)
        loaded = vm_rss_bytes(pid)
        loaded_all = sum(vm_rss_bytes(p) for p in srv.pids())
        if srv.proc.poll() is not None:
            raise RuntimeError(f"{srv.name} died holding connections:\n{srv.log_tail()}")
    finally:
        for s in conns:
            s.close()
    time.sleep(1.0)
    after = vm_rss_bytes(pid)
    srv.stop()
    return {
        "what": srv.describe_rss(),
        "connections": nconns,
        "server_established": held,
        "rss_baseline_bytes": base,
        "rss_loaded_bytes": loaded,
        "rss_after_close_bytes": after,
        "bytes_per_conn": (loaded - base) / nconns,
        "rss_delta_curve": [{"connections": n, "delta_bytes": d, "bytes_per_conn": d / n} for n, d in curve],
        "marginal_bytes_per_conn_last_step": ((curve[-1][1] - curve[-2][1]) / (curve[-1][0] - curve[-2][0])
                                              if len(curve) > 1 else None),
        "all_processes_rss_baseline_bytes": base_all,
        "all_processes_rss_loaded_bytes": loaded_all,
    }


# --------------------------------------------------------------------------


def stop_servers(servers, tmp):
    """Stop every server (reporting, not raising, what fails) and remove the
    run's temporary directory; for finally blocks (also bench_tls.py)."""
    for s in servers:
        try:
            s.stop()
        except Exception as e:  # noqa: BLE001
            log(f"stopping {s.name}: {e}")
    shutil.rmtree(tmp, ignore_errors=True)


def med(rounds, key):
    vals = [r[key] for r in rounds if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def fmt(v, nd=1):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return f"{v:,}"


def version_of(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (p.stdout + p.stderr).strip().splitlines()[0]
    except Exception as e:  # noqa: BLE001
        return f"? ({e})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=None, help="rounds per server (default 4; --quick 2)")
    ap.add_argument("--duration", type=float, default=None, help="seconds per round (default 10; --quick 3)")
    ap.add_argument("--quick", action="store_true", help="2 rounds of 3 s")
    ap.add_argument("--connections", type=int, default=64, help="wrk keep-alive connections")
    ap.add_argument("--idle-conns", type=int, default=10000, help="idle keep-alive connections")
    ap.add_argument("--starts", type=int, default=5, help="start-up samples per server")
    ap.add_argument("--wait-quiet", type=float, default=None, metavar="S",
                    help="before each round (and each start-up / memory phase) wait up to S s for the "
                         "rest of the machine to be idle (< 5%% of a core over 1 s); 0 = don't wait "
                         "(default 60; --quick 5)")
    ap.add_argument("--ringgate", default=str(DEFAULT_RINGGATE))
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--out", default=None, help="JSON results path (default perf/results/static-<date>.json)")
    args = ap.parse_args()
    rounds = args.rounds if args.rounds is not None else (2 if args.quick else 4)
    duration = args.duration if args.duration is not None else (3 if args.quick else 10)
    duration = int(duration) if float(duration).is_integer() else duration
    if args.wait_quiet is None:
        args.wait_quiet = 5 if args.quick else 60

    if os.cpu_count() < 2:
        sys.exit("needs at least 2 CPUs (server on CPU 0, wrk on CPU 1)")
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (apt-get install -y wrk util-linux)")
    if not os.access(args.ringgate, os.X_OK):
        sys.exit(f"{args.ringgate} not found: build it with `ninja -C build`")
    if not os.access(args.nginx, os.X_OK):
        sys.exit(f"{args.nginx} not found (apt-get install -y nginx-light)")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.idle_conns + 1000
    if hard != resource.RLIM_INFINITY and hard < want:
        sys.exit(f"RLIMIT_NOFILE hard limit {hard} < {want}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # servers inherit it too

    payload = PAYLOAD.read_bytes()
    started_at = datetime.datetime.now(datetime.timezone.utc)
    bg = background_load()
    busy_bg = {c: round(f, 3) for c, f in bg.items()}
    if max(bg.values()) > 0.10:
        log(f"WARNING: CPUs already busy before the run (busy fraction per CPU: {busy_bg}); "
            "req/s and latency will be disturbed, CPU time per request less so")

    meta = {
        "date_utc": started_at.isoformat(timespec="seconds"),
        "command": " ".join(["/usr/bin/python3", "perf/bench_static.py", *sys.argv[1:]]),
        "rounds": rounds, "duration_s": duration, "connections": args.connections,
        "wait_quiet_s": args.wait_quiet,
        "payload_bytes": len(payload),
        "kernel": platform.release(),
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
        "ncpu": os.cpu_count(),
        "ringgate": version_of([args.ringgate, "--version"]),
        "ringgate_git": version_of(["git", "-C", str(REPO), "describe", "--always", "--dirty"]),
        "ringgate_binary_mtime": datetime.datetime.fromtimestamp(
            os.stat(args.ringgate).st_mtime, datetime.timezone.utc).isoformat(timespec="seconds"),
        "nginx": version_of([args.nginx, "-v"]),
        "wrk": version_of(["wrk", "-v"]),
        "background_busy_fraction_per_cpu": busy_bg,
        "server_cpu": SERVER_CPU, "load_cpu": LOAD_CPU,
    }

    def _interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, _interrupt)   # even if started with SIGINT ignored
    signal.signal(signal.SIGTERM, _interrupt)  # so `finally` stops the servers

    tmp = tempfile.mkdtemp(prefix="bench_static.")
    servers = []
    results = {"meta": meta}
    interrupted = False
    try:
        # run a private copy: a rebuild of build/ during the run must not mix binaries
        rg_copy = os.path.join(tmp, "ringgate")
        shutil.copy2(args.ringgate, rg_copy)
        with open(rg_copy, "rb") as f:
            meta["ringgate_sha256"] = hashlib.sha256(f.read()).hexdigest()
        args.ringgate = rg_copy

        # ---------------- start-up time ----------------
        def settle(what, extra_pids=()):
            if args.wait_quiet > 0:
                waited = wait_quiet({os.getpid(), *extra_pids}, args.wait_quiet)
                if waited > 1.5:
                    log(f"  waited {waited:.0f}s for other processes to calm down ({what})")

        settle("start-up")
        log(f"start-up: {args.starts} starts each")
        startup = {"ringgate": [], "nginx": []}
        for i in range(args.starts):
            for cls, extra in ((Ringgate, args.ringgate), (Nginx, args.nginx)):
                s = cls(tmp, payload, extra)
                servers.append(s)
                t0 = s.start()
                startup[s.name].append(s.wait_served(t0) * 1e3)
                s.stop()
                servers.remove(s)
        results["startup_ms"] = {k: {"samples": v, "median": statistics.median(v)} for k, v in startup.items()}

        # ---------------- throughput / CPU ----------------
        rg = Ringgate(tmp, payload, args.ringgate)
        ng = Nginx(tmp, payload, args.nginx)
        for s in (rg, ng):
            servers.append(s)
            s.wait_served(s.start())

        # identical bytes, comparable headers
        check = {}
        for s in (rg, ng):
            st, headers, head_len, body = http_get(s.port)
            if st != 200:
                raise RuntimeError(f"{s.name}: status {st}")
            if body != payload:
                raise RuntimeError(f"{s.name}: body differs from perf/payload.json "
                                   f"({len(body)} vs {len(payload)} bytes)")
            names = [k.lower() for k, _ in headers]
            for need in ("date", "content-type", "content-length"):
                if need not in names:
                    raise RuntimeError(f"{s.name}: no {need} header")
            check[s.name] = {"head_bytes": head_len, "body_bytes": len(body), "headers": headers,
                             "worker_threads_or_procs": len(os.listdir(f"/proc/{s.proc.pid}/task"))
                             if s is rg else len(children_of(s.proc.pid))}
            log(f"{s.name}: 200, body {len(body)} B identical, head {head_len} B: "
                + ", ".join(k for k, _ in headers))
        results["response_check"] = check

        warm = min(2, duration)
        log(f"warm-up {warm}s each")
        for s in (rg, ng):
            run_wrk(s.port, warm, args.connections)

        per_round = {"ringgate": [], "nginx": []}
        for i in range(rounds):
            for s in (rg, ng):
                other = ng if s is rg else rg
                if args.wait_quiet > 0:
                    waited = wait_quiet(set(rg.pids()) | set(ng.pids()) | {os.getpid()}, args.wait_quiet)
                    if waited > 1.5:
                        log(f"  waited {waited:.0f}s for other processes to calm down")
                r = measured_round(s, duration, other.pids(), args.connections)
                per_round[s.name].append(r)
                log(f"round {i + 1}/{rounds} {s.name:8s}: {r['rps']:>10,.0f} req/s  "
                    f"{r['cpu_us_per_req']:6.2f} us CPU/req (CPU0 busy {r['cpu0_busy_us_per_req']:6.2f})  "
                    f"p50 {r['p50_us']:.0f} us  p99 {r['p99_us']:.0f} us"
                    + f"  other procs {r['other_cpu_frac_of_core'] * 100:.0f}% of a core"
                    + (f"  non2xx {r['non2xx']}" if r["non2xx"] else "")
                    + (f"  socket errors {r['socket_errors']}" if r["socket_errors"] else ""))
        for s in (rg, ng):
            s.stop()
            servers.remove(s)
        summary = {}
        for name, rs in per_round.items():
            summary[name] = {k: med(rs, k) for k in
                             ("rps", "cpu_us_per_req", "cpu0_busy_us_per_req", "p50_us", "p99_us",
                              "other_cpu_frac_of_core")}
            summary[name]["non2xx_total"] = sum(r["non2xx"] for r in rs)
            summary[name]["socket_errors_total"] = sum(r["socket_errors"] for r in rs)
        results["rounds"] = per_round
        results["summary"] = summary

        # ---------------- idle memory ----------------
        mem = {}
        for cls, extra in ((Ringgate, args.ringgate), (Nginx, args.nginx)):
            settle("idle memory")
            s = cls(tmp, payload, extra)
            servers.append(s)
            log(f"idle memory: {s.name}, {args.idle_conns} keep-alive connections")
            mem[s.name] = idle_memory(s, args.idle_conns)
            servers.remove(s)
            m = mem[s.name]
            log(f"  {m['what']}: {m['rss_baseline_bytes'] / 2**20:.1f} MiB -> "
                f"{m['rss_loaded_bytes'] / 2**20:.1f} MiB, {m['bytes_per_conn']:.0f} B/conn, "
                f"server holds {m['server_established']} established; curve "
                + ", ".join(f"{c['connections']}: {c['bytes_per_conn']:.0f}" for c in m["rss_delta_curve"])
                + " B/conn")
        results["idle_memory"] = mem
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted")
    finally:
        stop_servers(servers, tmp)
    if interrupted:
        sys.exit(130)

    # ---------------- report ----------------
    S = results["summary"]
    R, N = S["ringgate"], S["nginx"]
    M = results["idle_memory"]
    U = results["startup_ms"]

    def ratio(a, b):
        return a / b if a is not None and b else None

    rows = [
        ("requests/s (median of rounds)", R["rps"], N["rps"], 0),
        ("server CPU µs per request (/proc/PID/stat)", R["cpu_us_per_req"], N["cpu_us_per_req"], 2),
        ("CPU 0 busy µs per request (/proc/stat; quiet machine only)", R["cpu0_busy_us_per_req"], N["cpu0_busy_us_per_req"], 2),
        ("latency p50 (µs)", R["p50_us"], N["p50_us"], 0),
        ("latency p99 (µs)", R["p99_us"], N["p99_us"], 0),
        ("RSS baseline (KiB)", M["ringgate"]["rss_baseline_bytes"] / 1024, M["nginx"]["rss_baseline_bytes"] / 1024, 0),
        (f"RSS with {args.idle_conns:,} idle conns (KiB)", M["ringgate"]["rss_loaded_bytes"] / 1024,
         M["nginx"]["rss_loaded_bytes"] / 1024, 0),
        ("bytes per idle connection ((RSS - baseline) / conns)", M["ringgate"]["bytes_per_conn"],
         M["nginx"]["bytes_per_conn"], 0),
        ("marginal bytes per idle conn (last step of the curve)", M["ringgate"]["marginal_bytes_per_conn_last_step"],
         M["nginx"]["marginal_bytes_per_conn_last_step"], 0),
        (f"start-up to first response (ms, median of {args.starts})", U["ringgate"]["median"], U["nginx"]["median"], 1),
        ("response head bytes", results["response_check"]["ringgate"]["head_bytes"],
         results["response_check"]["nginx"]["head_bytes"], 0),
    ]
    lines = [
        f"ringgate vs nginx, static {len(payload)}-byte JSON, {meta['date_utc']}, "
        f"{rounds} rounds x {duration} s, wrk -t1 -c{args.connections} on CPU {LOAD_CPU}, servers on CPU {SERVER_CPU}",
        "",
        "| metric | ringgate | nginx | ringgate/nginx |",
        "|---|---:|---:|---:|",
    ]
    table = []
    for label, a, b, nd in rows:
        r = ratio(a, b)
        table.append({"metric": label, "ringgate": a, "nginx": b, "ratio": r})
        fa = None if a is None else float(a)
        fb = None if b is None else float(b)
        lines.append(f"| {label} | {fmt(fa, nd)} | {fmt(fb, nd)} | {fmt(r, 2)} |")
    results["table"] = table

    floors = {
        "cpu_per_request_le_nginx": R["cpu_us_per_req"] <= N["cpu_us_per_req"],
        "idle_bytes_per_conn_le_4KiB": M["ringgate"]["bytes_per_conn"] <= 4096,
    }
    results["floors"] = floors
    lines += ["",
              f"Floor: ringgate CPU/request <= nginx: {'PASS' if floors['cpu_per_request_le_nginx'] else 'FAIL'} "
              f"({R['cpu_us_per_req']:.2f} vs {N['cpu_us_per_req']:.2f} µs)",
              f"Floor: ringgate idle memory <= 4 KiB/connection: "
              f"{'PASS' if floors['idle_bytes_per_conn_le_4KiB'] else 'FAIL'} "
              f"({M['ringgate']['bytes_per_conn']:.0f} B)",
              f"RSS: {M['ringgate']['what']}; {M['nginx']['what']}.",
              f"Errors: ringgate non-2xx {R['non2xx_total']}, socket {R['socket_errors_total']}; "
              f"nginx non-2xx {N['non2xx_total']}, socket {N['socket_errors_total']}."]
    other = max(R["other_cpu_frac_of_core"], N["other_cpu_frac_of_core"])
    results["disturbed"] = other > 0.05
    lines.append(f"Other processes during rounds (median): {R['other_cpu_frac_of_core'] * 100:.0f}% / "
                 f"{N['other_cpu_frac_of_core'] * 100:.0f}% of a core (ringgate / nginx rounds); "
                 f"before the run: busy fraction per CPU {busy_bg}.")
    quiet = {}
    for name, rs in results["rounds"].items():
        q = [r for r in rs if r["other_cpu_frac_of_core"] < 0.05]
        quiet[name] = {"rounds": len(q), **{k: med(q, k) for k in
                       ("rps", "cpu_us_per_req", "cpu0_busy_us_per_req", "p50_us", "p99_us")}}
    results["summary_quiet_rounds"] = quiet
    lines.append("Quiet rounds only (other processes < 5% of a core), medians: " + "; ".join(
        f"{n} {q['rounds']}/{rounds} rounds" + (
            f", {q['rps']:,.0f} req/s, {q['cpu_us_per_req']:.2f} µs CPU/req, "
            f"CPU 0 busy {q['cpu0_busy_us_per_req']:.2f} µs/req, p50 {q['p50_us']:.0f} µs, p99 {q['p99_us']:.0f} µs"
            if q["rounds"] else "") for n, q in quiet.items()) + ".")
    if results["disturbed"]:
        lines.append("WARNING: the machine was not quiet; req/s, latency and the CPU 0 cross-check "
                     "are disturbed (server CPU per request much less so).")
    report = "\n".join(lines)
    print(report)
    results["report_markdown"] = report

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else RESULTS_DIR / (
        f"static-{started_at.strftime('%Y-%m-%dT%H%M%SZ')}{'-quick' if args.quick else ''}.json")
    for rs in results["rounds"].values():
        for r in rs:
            r.pop("raw", None)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    log(f"results: {out}")


if __name__ == "__main__":
    main()
