#!/usr/bin/python3
"""Instructions per request of ringgate's own code, counted by callgrind.

Time per request on a shared VM drifts by a factor of two between rounds;
the number of user-space instructions ringgate executes per request does
not.  So this is the tool for comparing two builds of ringgate's code (the
end-to-end benchmark, bench_e2e.py, stays the measure of the whole path):

    /usr/bin/python3 perf/instr_count.py                  # post, get, static
    /usr/bin/python3 perf/instr_count.py --top 25 post    # and where they go
    /usr/bin/python3 perf/instr_count.py --ringgate /tmp/old-ringgate

It starts perf/fast_backend (the C++ backend bench_e2e.py builds), runs
ringgate under `valgrind --tool=callgrind --instr-atstart=no`, sends a
warm-up, switches instrumentation on with `callgrind_control -i on` around
a fixed number of keep-alive requests from several connections, and
divides the `totals:` line by the request count.  The kernel is not
counted.  The requests are bench_e2e.py's routes and bodies.
"""

import argparse
import http.client
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import bench_e2e as e2e

CASES = ("post", "get", "static")


def request_args(case):
    if case == "static":
        return "GET", e2e.STATIC_PATH, None
    method, path, body = e2e.ROUTES[case]
    return method, path, body


def load(port, case, total, conns):
    """Send total requests over conns keep-alive connections; all must be 200."""
    method, path, body = request_args(case)
    headers = {"Content-Type": "application/json"} if body else {}
    data = body.encode() if body else None
    errors = []

    def one_conn(n):
        try:
            c = http.client.HTTPConnection(e2e.HOST, port, timeout=30)
            for _ in range(n):
                c.request(method, path, data, headers)
                r = c.getresponse()
                r.read()
                if r.status != 200:
                    raise RuntimeError(f"{case}: HTTP {r.status}")
            c.close()
        except Exception as e:  # reported by the caller
            errors.append(e)

    per = total // conns
    threads = [threading.Thread(target=one_conn, args=(per,)) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"load {case}: {errors[0]}")
    return per * conns


def callgrind_control(*args):
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True)


def totals(path):
    """The dump's event totals by name (Ir, and Dr, D1mr, DLmr ... with --cache-sim)."""
    events = None
    for line in Path(path).read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        if line.startswith("totals:"):
            return dict(zip(events or ["Ir"], map(int, line.split()[1:])))
    raise RuntimeError(f"{path}: no totals line")


def top_inclusive(path, n, requests):
    if n <= 0:
        return []
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", str(path)],
                         capture_output=True, text=True, check=True).stdout
    rows, seen = [], set()
    for line in out.splitlines():
        parts = line.split()
        if not parts or not parts[0].replace(",", "").isdigit() or "PROGRAM" in line:
            continue
        # A function appears once per object it was seen in; keep the first.
        fn = (parts[-1] if not parts[-1].startswith("[") else parts[-2]).split("../")[-1]
        if fn in seen:
            continue
        seen.add(fn)
        rows.append((int(parts[0].replace(",", "")) // requests, fn))
        if len(rows) >= n:
            break
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="*", help="any of post, get, static (default: all)")
    ap.add_argument("--ringgate", default=str(e2e.DEFAULT_RINGGATE))
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--top", type=int, default=0, help="also list the N largest inclusive costs")
    ap.add_argument("--cache-sim", action="store_true",
                    help="also simulate the caches (callgrind --cache-sim=yes): misses per request")
    ap.add_argument("--save", metavar="PREFIX",
                    help="keep each case's callgrind dump as PREFIX-CASE.out (for callgrind_annotate)")
    args = ap.parse_args()
    args.cases = args.cases or list(CASES)
    bad = [c for c in args.cases if c not in CASES]
    if bad:
        ap.error(f"unknown case {bad[0]!r} (choose from {', '.join(CASES)})")
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        sys.exit("needs valgrind (apt-get install valgrind)")
    fast_bin = e2e.build_fast_backend()
    if fast_bin is None:
        sys.exit("the C++ backend could not be built (see above)")

    with tempfile.TemporaryDirectory(prefix="rg-instr-") as tmp:
        descriptors = e2e.build_descriptors(tmp)
        procs = e2e.Procs()
        try:
            be = procs.start("backend", [str(fast_bin), "--port", "0"], tmp)
            be_port = int(e2e.wait_line(be, "READY").split()[1])
            port = e2e.free_port()
            out_tmpl = Path(tmp) / "callgrind.out"
            rg = procs.start("ringgate", [
                "valgrind", "--tool=callgrind", "--instr-atstart=no",
                f"--cache-sim={'yes' if args.cache_sim else 'no'}",
                f"--callgrind-out-file={out_tmpl}.%p", args.ringgate,
                "--listen", f"{e2e.HOST}:{port}", "--workers", "1",
                "--descriptors", str(descriptors), "--upstream", f"{e2e.HOST}:{be_port}",
                "--static", f"{e2e.STATIC_PATH}={e2e.PERF / 'payload.json'}",
                "--log-level", "warn"], tmp)
            e2e.wait_http(port, e2e.STATIC_PATH, timeout=60, proc=rg)
            pid = str(rg.pid)
            for case in args.cases:
                load(port, case, 400, min(8, args.connections))
                callgrind_control("-z", pid)
                callgrind_control("-i", "on", pid)
                n = load(port, case, args.requests, args.connections)
                callgrind_control("-i", "off", pid)
                before = set(Path(tmp).glob("callgrind.out.*"))
                callgrind_control("-d", pid)
                for _ in range(100):
                    dumps = set(Path(tmp).glob("callgrind.out.*")) - before
                    if dumps:
                        break
                    time.sleep(0.05)
                dump = max(dumps, key=lambda p: p.stat().st_mtime)
                time.sleep(0.2)  # let the dump finish writing
                t = totals(dump)
                print(f"{case:7s} {t['Ir'] / n:9.0f} instructions per request "
                      f"({n} requests, {args.connections} connections)", flush=True)
                if args.cache_sim:
                    print("        " + "  ".join(f"{k} {v / n:.1f}" for k, v in t.items()
                                               if k != "Ir"), flush=True)
                for ir, fn in top_inclusive(dump, args.top, n):
                    print(f"        {ir:9d}  {fn}")
                if args.save:
                    shutil.move(dump, f"{args.save}-{case}.out")
                else:
                    dump.unlink()
        finally:
            procs.stop_all()


if __name__ == "__main__":
    main()
