"""Other people's work on this machine, for perf/bench_e2e.py and
perf/bench_transcode.py.

On a shared 2-core machine a benchmark is only as good as the quiet around
it: another process on the other core can slow a pinned benchmark down by
more than half (the two vCPUs may share a physical core, and they share the
caches). So before each measurement we wait for quiet, and during it we
count the CPU time used by every process outside our own process tree
(utime+stime+cutime+cstime from /proc/PID/stat, kernel threads included).
"""
import os
import sys
import time


def proc_stat(pid):
    """(comm, fields) of /proc/PID/stat, fields[0] being field 3 (state):
    ppid is fields[1], utime fields[11], stime fields[12], cutime and cstime
    fields[13] and [14].  None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    rp = data.rindex(")")
    return data[data.index("(") + 1:rp], data[rp + 2:].split()

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stats():
    """{pid: (ppid, ticks incl. reaped children)} for every process."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(name)
        if st:
            v = st[1]
            out[int(name)] = (int(v[1]), int(v[11]) + int(v[12]) + int(v[13]) + int(v[14]))
    return out


def _mine(st):
    """Our pid and all our descendants."""
    kids = {}
    for pid, (ppid, _) in st.items():
        kids.setdefault(ppid, []).append(pid)
    mine, todo = set(), [os.getpid()]
    while todo:
        p = todo.pop()
        mine.add(p)
        todo.extend(kids.get(p, []))
    return mine


def foreign_ticks():
    """CPU ticks used so far by processes outside our tree (ourselves and all
    our descendants; descendants that exited were reaped into our cutime,
    which is excluded with us)."""
    st = _stats()
    mine = _mine(st)
    return sum(t for pid, (_, t) in st.items() if pid not in mine)


def busiest_foreign(n=3, interval=0.5):
    """The n foreign processes that used the most CPU over interval: a hint for
    the log, [(cpus, pid, comm)]."""
    a = _stats()
    time.sleep(interval)
    b = _stats()
    mine = _mine(b)
    rows = []
    for pid, (_, t) in b.items():
        if pid in mine or pid not in a:
            continue
        d = (t - a[pid][1]) / CLK_TCK / interval
        if d > 0.01:
            try:
                with open(f"/proc/{pid}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                comm = "?"
            rows.append((d, pid, comm))
    return sorted(rows, reverse=True)[:n]


class ForeignMeter:
    """CPUs' worth of foreign work between start() and stop()."""

    def start(self):
        self.t0, self.f0 = time.monotonic(), foreign_ticks()
        return self

    def stop(self):
        return (foreign_ticks() - self.f0) / CLK_TCK / max(1e-6, time.monotonic() - self.t0)


# Foreign work above this (in CPUs) flags a measurement. The machine's own
# background (init, kdamond, ...) is about 0.03-0.05 CPU.
FOREIGN_LIMIT = 0.10


def wait_quiet(max_wait, threshold=FOREIGN_LIMIT, log=None):
    """Wait up to max_wait seconds until foreign processes use less than
    `threshold` of a CPU over one second. Returns (seconds waited, last load)."""
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    start = time.monotonic()
    announced = False
    while True:
        m = ForeignMeter().start()
        time.sleep(1.0)
        load = m.stop()
        waited = time.monotonic() - start
        if load < threshold:
            return waited, load
        if waited >= max_wait:
            log(f"  machine still busy ({load:.2f} CPUs of other work); measuring anyway, "
                "flagged")
            return waited, load
        if not announced:
            hint = ", ".join(f"{c} (pid {p}) {d:.2f}" for d, p, c in busiest_foreign())
            log(f"  other processes use {load:.2f} CPUs [{hint}]: waiting up to "
                f"{max_wait} s for quiet")
            announced = True
