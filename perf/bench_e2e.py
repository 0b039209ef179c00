#!/usr/bin/python3
"""End-to-end REST -> gRPC benchmark: ringgate vs FastAPI + uvicorn + grpcio,
side by side in one run, on the same backend, the same requests and the same
CPU pinning.

Set-up (2 cores, loopback only):
  CPU 0  the gateway under test: ringgate (--workers 1 --cpus 0, whole process
         under taskset -c 0) or perf/fastapi_gateway.py (one uvicorn worker,
         uvloop + httptools when installed, whole process under taskset -c 0).
         Both gateways run for the whole pass; only one is loaded at a time.
  CPU 1  the load generator (wrk, one thread, --latency, a Lua script that sets
         method, body and content type and prints its summary as JSON) AND the
         gRPC backend. They share the core: the backend and wrk together can
         limit requests/s, which is why the primary figure is not requests/s.

Primary figure: CPU time of the GATEWAY process per request, utime+stime of
all its threads (and any child) from /proc/PID/stat, read before and after a
round, divided by the number of requests wrk completed in that round. It is
valid even when something else limits throughput (but an idle gateway batches
less, so a backend-limited figure is if anything pessimistic for ringgate).
Also: requests/s, latency p50/p99/p99.9 (wrk), busy share of CPU 0 and CPU 1
(/proc/stat, to see who the bottleneck is), resident memory of each gateway.

Routes (agents.v1.AgentService, examples/agents_backend.py semantics):
  get   GET  /v1/agents/agent-7f3a9c          -> GetAgent (~420-byte JSON reply)
  post  POST /v1/agents/agent-7f3a9c:execute  -> ExecuteAgent (JSON body, ~230-byte reply)
  static GET /r, ringgate --static /r=perf/payload.json (~400 bytes), in the
        same ringgate process: the reference for "gateway overhead".

Backends (--backend): "cpp" = perf/fast_backend.cc (C++ grpc, callback API,
canned replies; built here into perf/results/build/ on first use), "python" =
examples/agents_backend.py (grpcio), "both" (default; one pass each).

Rounds alternate A B A B: for each round, for each route: ringgate, then
FastAPI (and ringgate's static reply once per round). Default 3 rounds x 10 s,
--quick 2 x 3 s; a 2 s (--quick: 1 s) unrecorded warm-up per gateway and route.

Floors checked (from the issue), per backend and route, on medians:
  ringgate CPU/request <= 1/20 of the FastAPI gateway's;
  ringgate CPU/request <= 2 x ringgate's own CPU/request for the static reply.

Usage (from the repository root):
  /usr/bin/python3 perf/bench_e2e.py [--quick] [--rounds N] [--duration S]
                   [--backend cpp|python|both] [--connections C] [--max-wait S]
Writes perf/results/e2e-<UTC time>[-quick].json and .md; prints the table.
Before each round it waits (up to --max-wait s, default 120) until other
processes on the machine use < 0.1 CPU; a round during which they used more
is flagged DISTURBED and left out of the medians when clean rounds exist.
Runs a private copy of the ringgate binary.
Needs: wrk, protoc, python3-fastapi, python3-uvicorn, python3-grpcio (and, for
the Python stack at its best, python3-uvloop and python3-httptools); for the
C++ backend g++, libgrpc++-dev, protobuf-compiler-grpc.
"""

import argparse
import ctypes
import datetime
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from machine_load import FOREIGN_LIMIT, ForeignMeter, proc_stat, wait_quiet

REPO = Path(__file__).resolve().parent.parent
PERF = REPO / "perf"
RESULTS_DIR = PERF / "results"
BUILD_DIR = RESULTS_DIR / "build" / "fast_backend"
DEFAULT_RINGGATE = REPO / "build" / "gateway" / "ringgate"
PYTHON = "/usr/bin/python3"
HOST = "127.0.0.1"
GW_CPU, LOAD_CPU = 0, 1
CLK_TCK = os.sysconf("SC_CLK_TCK")

AGENT = "agent-7f3a9c"
POST_BODY = json.dumps({
    "input": "Summarise the quarterly incident report for the search team and "
             "list the three main risks with one mitigation each.",
    "parameters": {"max_words": 120, "style": "brief", "language": "en",
                   "temperature": 0.2, "citations": True},
    "timeout": "30s",
}, separators=(",", ":"))
ROUTES = {
    "get": ("GET", f"/v1/agents/{AGENT}", None),
    "post": ("POST", f"/v1/agents/{AGENT}:execute", POST_BODY),
}
STATIC_PATH = "/r"
# A round during which other processes used more than FOREIGN_LIMIT CPUs
# (machine_load.py) is flagged and, when clean rounds exist for the same case,
# left out of the medians.

_libc = ctypes.CDLL(None, use_errno=True)


def _child_setup():
    _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: die with us


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# /proc readings

def proc_ticks(pid, split=False):
    """utime+stime (all threads) of pid and its descendants, in ticks
    ((utime, stime) with split)."""
    total = 0
    usr = 0
    todo = [pid]
    seen = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        st = proc_stat(p)
        if st is None:
            continue
        fields = st[1]
        total += int(fields[11]) + int(fields[12])
        usr += int(fields[11])
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return (usr, total - usr) if split else total


def proc_sched_ns(pid):
    """Sum of on-CPU ns of the live threads of pid (schedstat): finer grained
    than ticks, a cross-check."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for t in tids:
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def settle(pids, quiet_ns=2_000_000, window=0.2, max_wait=10.0):
    """Wait until the processes used less than quiet_ns of CPU over one
    window: a gateway still working through the backlog of the round before
    (FastAPI takes tens of ms after wrk stops) shares CPU 0 with the next
    gateway under test and would delay its first requests."""
    end = time.monotonic() + max_wait
    while True:
        before = sum(proc_sched_ns(p) for p in pids)
        time.sleep(window)
        used = sum(proc_sched_ns(p) for p in pids) - before
        if used < quiet_ns or time.monotonic() >= end:
            return used


def cpu_busy(cpu):
    """(busy, total) jiffies of one CPU from /proc/stat."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                v = [int(x) for x in line.split()[1:]]
                busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
                return busy, busy + v[3] + v[4]
    raise RuntimeError(f"cpu{cpu} missing from /proc/stat")


def vm_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def nthreads(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return None


# --------------------------------------------------------------------------
# processes

class Procs:
    """Every process we start; stop_all() in a finally."""

    def __init__(self):
        self.procs = []

    def start(self, name, argv, logdir, **kw):
        out = open(Path(logdir) / f"{name}.out", "wb")
        err = open(Path(logdir) / f"{name}.err", "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                             preexec_fn=_child_setup, **kw)
        p.name, p.outpath, p.errpath = name, out.name, err.name
        out.close()
        err.close()
        self.procs.append(p)
        return p

    def stop(self, p, grace=5.0):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in reversed(list(self.procs)):
            try:
                self.stop(p)
            except Exception as e:  # keep cleaning up
                log(f"stopping {p.name} ({p.pid}): {e}")


def wait_line(p, prefix, timeout=30.0):
    """Wait until p's stdout has a line starting with prefix; return it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if p.poll() is not None:
            break
        with open(p.outpath) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.strip()
        time.sleep(0.05)
    tail = Path(p.errpath).read_text(errors="replace")[-2000:]
    raise RuntimeError(f"{p.name} did not print {prefix!r} (exit {p.poll()}): {tail}")


def http(port, method, path, body=None, timeout=5.0):
    req = urllib.request.Request(f"http://{HOST}:{port}{path}", method=method,
                                 data=body.encode() if body is not None else None)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_http(port, path, timeout=20.0, proc=None):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.name} exited {proc.returncode}: "
                               + Path(proc.errpath).read_text(errors="replace")[-2000:])
        try:
            st, _ = http(port, "GET", path, timeout=1.0)
            if st == 200:
                return
            last = st
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise RuntimeError(f"port {port}{path} not ready: {last}")


# --------------------------------------------------------------------------
# builds

def build_descriptors(tmp):
    out = Path(tmp) / "agents.pb"
    subprocess.run(["protoc", "--include_imports", f"--descriptor_set_out={out}",
                    "-Iprotos", "-I/usr/include", "agents/v1/agents.proto"],
                   cwd=REPO, check=True)
    return out


def build_fast_backend():
    """Build perf/fast_backend.cc (once; again when the source changes).
    Returns the binary's path, or None with the reason logged."""
    src = PERF / "fast_backend.cc"
    binary = BUILD_DIR / "fast_backend"
    if binary.exists() and binary.stat().st_mtime >= src.stat().st_mtime:
        return binary
    if not shutil.which("grpc_cpp_plugin") or subprocess.run(
            ["pkg-config", "--exists", "grpc++", "protobuf"]).returncode != 0:
        log("fast backend: needs g++, libgrpc++-dev and protobuf-compiler-grpc "
            "(apt-get install libgrpc++-dev protobuf-compiler-grpc)")
        return None
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    protos = ["agents/v1/agents.proto", "google/api/annotations.proto", "google/api/http.proto"]
    log("building perf/fast_backend.cc (about 30 s) ...")
    try:
        subprocess.run(["protoc", f"--cpp_out={BUILD_DIR}", f"--grpc_out={BUILD_DIR}",
                        "--plugin=protoc-gen-grpc=" + shutil.which("grpc_cpp_plugin"),
                        "-Iprotos", "-I/usr/include", *protos], cwd=REPO, check=True)
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "grpc++", "protobuf"],
                               check=True, capture_output=True, text=True).stdout.split()
        srcs = [str(src), str(BUILD_DIR / "agents/v1/agents.pb.cc"),
                str(BUILD_DIR / "agents/v1/agents.grpc.pb.cc"),
                str(BUILD_DIR / "google/api/annotations.pb.cc"),
                str(BUILD_DIR / "google/api/http.pb.cc")]
        subprocess.run(["g++", "-O2", "-std=c++17", f"-I{BUILD_DIR}", *srcs, "-o",
                        str(binary) + ".tmp", *flags, "-lpthread"], check=True)
        os.replace(str(binary) + ".tmp", binary)
    except (subprocess.CalledProcessError, OSError) as e:
        log(f"fast backend: build failed ({e}); falling back to the Python backend")
        return None
    return binary


# --------------------------------------------------------------------------
# wrk

WRK_LUA = r"""
wrk.method = "%(method)s"
%(body)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"bytes":%%d,' ..
    '"err_connect":%%d,"err_read":%%d,"err_write":%%d,"err_status":%%d,"err_timeout":%%d,' ..
    '"lat_mean_us":%%.1f,"lat_max_us":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"p999_us":%%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
"""


def write_lua(tmp, name, method, body):
    path = Path(tmp) / f"{name}.lua"
    b = ("wrk.body = %s\nwrk.headers[\"Content-Type\"] = \"application/json\""
         % json.dumps(body)) if body is not None else ""
    path.write_text(WRK_LUA % {"method": method, "body": b})
    return path


def run_wrk(port, path, lua, duration, connections):
    argv = ["taskset", "-c", str(LOAD_CPU), "wrk", "-t1", f"-c{connections}",
            f"-d{duration}s", "--latency", "--timeout", "5s", "-s", str(lua),
            f"http://{HOST}:{port}{path}"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60,
                       preexec_fn=_child_setup)
    if r.returncode != 0:
        raise RuntimeError(f"wrk failed: {r.stderr}\n{r.stdout}")
    for line in r.stdout.splitlines():
        if line.startswith("WRKJSON "):
            return json.loads(line[8:])
    raise RuntimeError(f"no summary from wrk: {r.stdout}")


def measure(gw_pid, other_pids, port, path, lua, duration, connections):
    u0 = proc_ticks(gw_pid, split=True)
    t0 = {p: proc_ticks(p) for p in [gw_pid, *other_pids]}
    s0 = proc_sched_ns(gw_pid)
    c0, c1 = cpu_busy(GW_CPU), cpu_busy(LOAD_CPU)
    fm = ForeignMeter().start()
    w = run_wrk(port, path, lua, duration, connections)
    foreign = fm.stop()
    c0b, c1b = cpu_busy(GW_CPU), cpu_busy(LOAD_CPU)
    s1 = proc_sched_ns(gw_pid)
    t1 = {p: proc_ticks(p) for p in [gw_pid, *other_pids]}
    u1 = proc_ticks(gw_pid, split=True)
    n = w["requests"]
    errors = w["err_connect"] + w["err_read"] + w["err_write"] + w["err_status"] + w["err_timeout"]
    cpu_s = (t1[gw_pid] - t0[gw_pid]) / CLK_TCK
    return {
        "requests": n,
        "errors": errors,
        "rps": n / (w["duration_us"] / 1e6),
        "p50_ms": w["p50_us"] / 1000, "p99_ms": w["p99_us"] / 1000,
        "p999_ms": w["p999_us"] / 1000, "mean_ms": w["lat_mean_us"] / 1000,
        "gw_cpu_s": cpu_s,
        "cpu_us_per_req": cpu_s * 1e6 / n if n else None,
        "cpu_us_per_req_schedstat": (s1 - s0) / 1e3 / n if n else None,
        "usr_us_per_req": (u1[0] - u0[0]) / CLK_TCK * 1e6 / n if n else None,
        "sys_us_per_req": (u1[1] - u0[1]) / CLK_TCK * 1e6 / n if n else None,
        "others_cpu_s": {str(p): (t1[p] - t0[p]) / CLK_TCK for p in other_pids},
        "cpu0_busy": (c0b[0] - c0[0]) / max(1, c0b[1] - c0[1]),
        "cpu1_busy": (c1b[0] - c1[0]) / max(1, c1b[1] - c1[1]),
        # CPUs' worth of work by processes outside this benchmark during the round
        "foreign_cpus": foreign,
        "wrk": w,
    }


# --------------------------------------------------------------------------
# one pass: one backend, both gateways

def sanity(gws):
    """Both gateways answer every route, with the same JSON (volatile fields
    aside) and the same error mapping."""
    volatile = {"id", "startTime", "elapsed"}
    seen = {}
    for name, port in gws.items():
        for route, (method, path, body) in ROUTES.items():
            st, data = http(port, method, path, body)
            if st != 200:
                raise RuntimeError(f"{name} {method} {path}: HTTP {st}: {data[:300]!r}")
            j = json.loads(data)
            key = route
            norm = {k: v for k, v in j.items() if not (route == "post" and k in volatile)}
            if key in seen and seen[key] != norm:
                raise RuntimeError(f"{route}: gateways disagree:\n{seen[key]}\n{norm}")
            seen[key] = norm
        st, data = http(port, "GET", "/v1/agents/no-such-agent")
        if st != 404 or json.loads(data).get("code") != 5:
            raise RuntimeError(f"{name}: NOT_FOUND mapped to {st} {data[:200]!r}")
        st, data = http(port, "POST", f"/v1/agents/{AGENT}:execute", '{"inptu": 1}')
        if st != 400:
            raise RuntimeError(f"{name}: unknown field gave {st} {data[:200]!r}")


def run_pass(args, backend, tmp, descriptors, fast_bin, procs):
    log(f"== backend: {backend}")
    if backend == "cpp":
        be = procs.start("backend-cpp", ["taskset", "-c", str(LOAD_CPU), str(fast_bin),
                                         "--port", "0"], tmp)
    else:
        be = procs.start("backend-python", ["taskset", "-c", str(LOAD_CPU), PYTHON,
                                            str(REPO / "examples" / "agents_backend.py"),
                                            "--descriptors", str(descriptors), "--port", "0"], tmp)
    be_port = int(wait_line(be, "READY").split()[1])

    static_file = PERF / "payload.json"
    rg_port, fa_port = free_port(), free_port()
    rg = procs.start("ringgate", [
        "taskset", "-c", str(GW_CPU), str(args.ringgate),
        "--listen", f"{HOST}:{rg_port}", "--workers", "1", "--cpus", str(GW_CPU),
        "--descriptors", str(descriptors), "--upstream", f"{HOST}:{be_port}",
        "--static", f"{STATIC_PATH}={static_file}", "--log-level", "warn"], tmp)
    fa = procs.start("fastapi", [
        "taskset", "-c", str(GW_CPU), PYTHON, str(PERF / "fastapi_gateway.py"),
        "--descriptors", str(descriptors), "--upstream", f"{HOST}:{be_port}",
        "--port", str(fa_port)], tmp)
    try:
        wait_http(rg_port, STATIC_PATH, proc=rg)
        fa_ready = wait_line(fa, "READY")
        sanity({"ringgate": rg_port, "fastapi": fa_port})

        luas = {r: write_lua(tmp, r, m, b) for r, (m, _, b) in ROUTES.items()}
        luas["static"] = write_lua(tmp, "static", "GET", None)
        gws = {"ringgate": (rg.pid, rg_port), "fastapi": (fa.pid, fa_port)}
        # (label, gateway, route)
        cases = [("ringgate", "static")]
        for route in ROUTES:
            cases += [("ringgate", route), ("fastapi", route)]

        warm = 1 if args.quick else 2
        for gw, route in cases:
            path = STATIC_PATH if route == "static" else ROUTES[route][1]
            run_wrk(gws[gw][1], path, luas[route], warm, args.connections)

        rounds = {f"{gw}/{route}": [] for gw, route in cases}
        for i in range(args.rounds):
            for gw, route in cases:
                pid, port = gws[gw]
                path = STATIC_PATH if route == "static" else ROUTES[route][1]
                others = [p for p, _ in gws.values() if p != pid] + [be.pid]
                m_wait = wait_quiet(args.max_wait, log=log)[0] if args.max_wait > 0 else 0.0
                settle([p for p, _ in gws.values()] + [be.pid])
                m = measure(pid, others, port, path, luas[route], args.duration,
                            args.connections)
                m["round"] = i + 1
                m["waited_s"] = m_wait
                m["disturbed"] = m["foreign_cpus"] >= FOREIGN_LIMIT
                rounds[f"{gw}/{route}"].append(m)
                log(f"  round {i + 1} {gw:8s} {route:6s}: {m['rps']:9.0f} req/s  "
                    f"{m['cpu_us_per_req']:8.2f} us CPU/req  p50 {m['p50_ms']:.2f} ms  "
                    f"p99 {m['p99_ms']:.2f} ms  cpu0 {m['cpu0_busy']:.0%} "
                    f"cpu1 {m['cpu1_busy']:.0%}  errors {m['errors']}"
                    + (f"  DISTURBED ({m['foreign_cpus']:.2f} CPUs of other work)"
                       if m["disturbed"] else ""))
        info = {
            "backend": backend,
            "fastapi": fa_ready,
            "rss_kb": {"ringgate": vm_rss_kb(rg.pid), "fastapi": vm_rss_kb(fa.pid),
                       "backend": vm_rss_kb(be.pid)},
            "threads": {"ringgate": nthreads(rg.pid), "fastapi": nthreads(fa.pid),
                        "backend": nthreads(be.pid)},
        }
    finally:
        for p in (fa, rg, be):
            procs.stop(p)
    return {"info": info, "rounds": rounds}


def summarise(res):
    """Medians per case, and the ratios / floors."""
    med = {}
    for case, all_ms in res["rounds"].items():
        ms = [m for m in all_ms if not m["disturbed"]] or all_ms
        med[case] = {k: statistics.median(m[k] for m in ms) for k in (
            "rps", "cpu_us_per_req", "cpu_us_per_req_schedstat", "usr_us_per_req",
            "sys_us_per_req", "p50_ms", "p99_ms",
            "p999_ms", "cpu0_busy", "cpu1_busy")}
        med[case]["errors"] = sum(m["errors"] for m in ms)
        med[case]["rounds_used"] = len(ms)
        med[case]["rounds_disturbed"] = sum(m["disturbed"] for m in all_ms)
        med[case]["cpu_us_per_req_min"] = min(m["cpu_us_per_req"] for m in ms)
        med[case]["cpu_us_per_req_max"] = max(m["cpu_us_per_req"] for m in ms)
    ratios = {}
    st = med["ringgate/static"]["cpu_us_per_req"]

    def paired(num, den):
        """Round by round (the two cases ran within a minute of each other,
        so slow drifts of the host cancel), over rounds where neither was
        disturbed: median, min, max of num/den."""
        rs = [a["cpu_us_per_req"] / b["cpu_us_per_req"]
              for a, b in zip(res["rounds"][num], res["rounds"][den])
              if not a["disturbed"] and not b["disturbed"]]
        return (statistics.median(rs), min(rs), max(rs)) if rs else (None, None, None)

    for route in ROUTES:
        rg = med[f"ringgate/{route}"]["cpu_us_per_req"]
        fa = med[f"fastapi/{route}"]["cpu_us_per_req"]
        ratios[route] = {
            "paired_ringgate_over_static_cpu": paired(f"ringgate/{route}", "ringgate/static"),
            "paired_fastapi_over_ringgate_cpu": paired(f"fastapi/{route}", f"ringgate/{route}"),
            "fastapi_over_ringgate_cpu": fa / rg,
            "floor_cpu_1_20": fa / rg >= 20,
            "ringgate_over_static_cpu": rg / st,
            "floor_2x_static": rg / st <= 2,
            "ringgate_over_fastapi_rps": med[f"ringgate/{route}"]["rps"] / med[f"fastapi/{route}"]["rps"],
        }
    res["median"] = med
    res["ratios"] = ratios


def markdown(results, meta):
    out = []
    out.append(f"ringgate vs FastAPI+uvicorn+grpcio, {meta['rounds']} rounds x "
               f"{meta['duration']} s, wrk -t1 -c{meta['connections']} on CPU 1 (shared with the "
               f"backend), gateway on CPU 0. Medians over rounds.\n")
    out.append("| backend | route | gateway | CPU us/req (min-max) | user / sys us | req/s "
               "| p50 ms | p99 ms | p99.9 ms | CPU0 busy | CPU1 busy | rounds used/disturbed |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for res in results:
        be = res["info"]["backend"]
        for case, m in res["median"].items():
            gw, route = case.split("/")
            out.append(
                f"| {be} | {route} | {gw} | {m['cpu_us_per_req']:.2f} "
                f"({m['cpu_us_per_req_min']:.2f}-{m['cpu_us_per_req_max']:.2f}) | "
                f"{m['usr_us_per_req']:.1f} / {m['sys_us_per_req']:.1f} | "
                f"{m['rps']:.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | {m['p999_ms']:.2f} | "
                f"{m['cpu0_busy']:.0%} | {m['cpu1_busy']:.0%} | "
                f"{m['rounds_used']}/{m['rounds_disturbed']} |")
    out.append("")
    out.append("| backend | route | FastAPI / ringgate CPU per req | floor >= 20 | "
               "ringgate e2e / static CPU per req | floor <= 2 | ringgate / FastAPI req/s |")
    out.append("|---|---|---|---|---|---|---|")

    def fmt_paired(t, digits):
        return "n/a" if t[0] is None else f"{t[0]:.{digits}f}x ({t[1]:.{digits}f}-{t[2]:.{digits}f})"

    for res in results:
        be = res["info"]["backend"]
        for route, r in res["ratios"].items():
            out.append(
                f"| {be} | {route} | {r['fastapi_over_ringgate_cpu']:.1f}x | "
                f"{'met' if r['floor_cpu_1_20'] else 'NOT met'} | "
                f"{r['ringgate_over_static_cpu']:.2f}x | "
                f"{'met' if r['floor_2x_static'] else 'NOT met'} | "
                f"{r['ringgate_over_fastapi_rps']:.1f}x |")
    out.append("")
    out.append("The same ratios taken round by round (each round's two cases ran within a "
               "minute of each other), median (min-max) over undisturbed rounds:\n")
    out.append("| backend | route | FastAPI / ringgate | ringgate e2e / static |")
    out.append("|---|---|---|---|")
    for res in results:
        be = res["info"]["backend"]
        for route, r in res["ratios"].items():
            out.append(f"| {be} | {route} | {fmt_paired(r['paired_fastapi_over_ringgate_cpu'], 1)} | "
                       f"{fmt_paired(r['paired_ringgate_over_static_cpu'], 2)} |")
    out.append("")
    for res in results:
        i = res["info"]
        out.append(f"- backend {i['backend']}: RSS after the run (KiB) {i['rss_kb']}, "
                   f"threads {i['threads']}; FastAPI: {i['fastapi']}")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=int, help="seconds per round")
    ap.add_argument("--quick", action="store_true", help="2 rounds x 3 s")
    ap.add_argument("--backend", choices=["cpp", "python", "both"], default="both")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--ringgate", type=Path, default=DEFAULT_RINGGATE)
    ap.add_argument("--max-wait", type=int, default=120,
                    help="seconds to wait for other processes to go quiet before each "
                         "round (0: do not wait)")
    args = ap.parse_args()
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.duration = args.duration or (3 if args.quick else 10)

    if os.cpu_count() < 2:
        sys.exit("needs 2 CPUs (gateway on CPU 0, load and backend on CPU 1)")
    for tool in ("wrk", "protoc", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (apt-get install wrk protobuf-compiler util-linux)")
    if not args.ringgate.exists():
        sys.exit(f"{args.ringgate} missing: ninja -C build")

    backends = ["cpp", "python"] if args.backend == "both" else [args.backend]
    fast_bin = None
    if "cpp" in backends:
        fast_bin = build_fast_backend()
        if fast_bin is None:
            backends = ["python"]

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    procs = Procs()
    results = []
    tmp = tempfile.mkdtemp(prefix="ringgate-e2e-")
    try:
        # A private copy: a rebuild of build/ during the run cannot change it.
        private = Path(tmp) / "ringgate"
        shutil.copy2(args.ringgate, private)
        ringgate_src, args.ringgate = args.ringgate, private
        with open(private, "rb") as f:
            ringgate_sha = hashlib.sha256(f.read()).hexdigest()[:16]
        descriptors = build_descriptors(tmp)
        for be in backends:
            res = run_pass(args, be, tmp, descriptors, fast_bin, procs)
            summarise(res)
            results.append(res)
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    meta = {
        "benchmark": "e2e", "time": stamp, "rounds": args.rounds, "duration": args.duration,
        "connections": args.connections, "quick": args.quick,
        "host": platform.node(), "kernel": platform.release(),
        "cpus": os.cpu_count(), "clk_tck": CLK_TCK,
        "ringgate": str(ringgate_src), "ringgate_sha256_16": ringgate_sha,
        "post_body": POST_BODY,
        "git": subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO,
                              capture_output=True, text=True).stdout.strip(),
    }
    md = markdown(results, meta)
    name = f"e2e-{stamp}{'-quick' if args.quick else ''}"
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps({"meta": meta, "results": results},
                                                         indent=1))
    (RESULTS_DIR / f"{name}.md").write_text(md)
    print(md)
    log(f"results: {RESULTS_DIR / name}.json, .md")
    failed = [r for res in results for r in res["ratios"].values()
              if not (r["floor_cpu_1_20"] and r["floor_2x_static"])]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
