#!/usr/bin/env python3
"""Helpers of scripts/soak.sh (Python 3 standard library only). The drivers of the load
are in soak_drivers.py, the sockets, WebSocket client and reply checks they share in
soak_wire.py.

    soak.py ports BANNER IDLE_SECS                  the listeners of a serve banner, as JSON
    soak.py sample PID CSV PHASE_FILE               one line a second: RSS, fds, CPU, phase
    soak.py load PORTS SECONDS WARMUP PHASE REPORT   every service at once; JSON report
    soak.py summary CSV REPORT                      the summary and the leak verdict (exit 1)

The load runs a thread per driver, each on loopback with a bounded number of sockets and
a pause between rounds, so it takes well under a core. Every reply is checked (an echo
byte for byte, arithmetic against Python's integers, ranges, formats): a wrong or missing
reply, a refused connection or a reset where none is expected is an error. What the
drivers do on purpose (drop a connection mid-frame, never read, wait for the idle
timeout) is counted apart, and what the peer does then (a reset, a close) is expected.
"""

import json
import os
import sys
import threading
import time
import traceback

from soak_drivers import DRIVERS, Ctx
from soak_wire import Bad, Stats


# ---------------------------------------------------------------- banner, sampler


def parse_banner(path):
    """{'http': [port], 'tcp': {service: port}, 'udp': {...}, 'unix': {service: path}}"""
    out = {"http": [], "tcp": {}, "udp": {}, "unix": {}}
    for line in open(path, encoding="utf-8", errors="replace"):
        f = line.split()
        if len(f) < 3 or f[0] not in out:
            continue
        if f[0] == "unix":
            out["unix"][f[2]] = f[1]
            continue
        port = int(f[1].rsplit(":", 1)[1])
        if f[0] == "http":
            out["http"].append(port)
        else:
            out[f[0]][f[2]] = port
    return out


def proc_sample(pid, ticks):
    """(rss KiB, open fds, CPU seconds) of a process, or None once it is gone."""
    try:
        rss = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/stat") as f:
            # The command name may hold spaces: fields count from after its ')'.
            rest = f.read().rsplit(")", 1)[1].split()
        cpu = (int(rest[11]) + int(rest[12])) / ticks  # utime, stime (fields 14, 15)
        return rss, fds, cpu
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


def sample(pid, csv_path, phase_file):
    ticks = os.sysconf("SC_CLK_TCK")
    start = time.monotonic()
    with open(csv_path, "w", buffering=1) as out:
        out.write("elapsed_s,phase,rss_kib,fds,cpu_s\n")
        n = 0
        while True:
            s = proc_sample(pid, ticks)
            if s is None:
                return
            try:
                phase = open(phase_file).read().strip() or "?"
            except FileNotFoundError:
                phase = "?"
            out.write(f"{time.monotonic() - start:.1f},{phase},{s[0]},{s[1]},{s[2]:.2f}\n")
            n += 1
            # On a fixed grid, so the rows stay a second apart however long a read took.
            time.sleep(max(0.0, start + n - time.monotonic()))


def write_phase(path, phase):
    with open(path + ".tmp", "w") as f:
        f.write(phase + "\n")
    os.replace(path + ".tmp", path)


def run_driver(fn, ctx, name):
    while not ctx.stop.is_set():
        try:
            fn(ctx)
        except Exception as e:  # counted, then the driver starts again
            ctx.stats.error(name, e)
            if os.environ.get("SOAK_TRACEBACK"):
                traceback.print_exc()
            ctx.pause(0.5)


def load(ports_json, seconds, warmup, phase_file, report_path):
    ports = json.load(open(ports_json))
    stats, stop = Stats(), threading.Event()
    threads = []
    seed = int(os.environ.get("SOAK_SEED", time.time_ns() % 2**32))
    for fn, n in DRIVERS:
        for i in range(n):
            name = fn.__name__.removeprefix("drive_")
            ctx = Ctx(ports, stats, stop, seed + len(threads))
            t = threading.Thread(target=run_driver, args=(fn, ctx, name), name=f"{name}{i}", daemon=True)
            t.start()
            threads.append(t)
    start = time.monotonic()
    phase = "warmup"
    write_phase(phase_file, phase)
    while True:
        now = time.monotonic()
        if now >= start + seconds:
            break
        if phase == "warmup" and now >= start + warmup:
            phase = "load"
            write_phase(phase_file, phase)
        nxt = start + seconds if phase == "load" else start + warmup
        time.sleep(max(0.0, min(10.0, nxt - now)))
        with stats.lock:
            done, errs = sum(stats.requests.values()), sum(stats.errors.values())
        print(f"soak: {time.monotonic() - start:4.0f} s  {phase:7} {done} requests checked, {errs} errors",
              flush=True)
    write_phase(phase_file, "stopping")
    stop.set()
    # Each driver finishes its round and closes its sockets; one that hangs is an error.
    deadline = time.monotonic() + 30
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
        if t.is_alive():
            stats.error(t.name, Bad("driver did not stop within 30 s"))
    report = {
        "seed": seed,
        "seconds": seconds,
        "requests": stats.requests,
        "errors": stats.errors,
        "expected": stats.expected,
        "error_samples": stats.samples,
    }
    with open(report_path, "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)


# ---------------------------------------------------------------- summary and verdict


def summary(csv_path, report_path, fd_slack, rss_factor, rss_slack_kib):
    rows = []
    for line in open(csv_path).read().splitlines()[1:]:
        t, phase, rss, fds, cpu = line.split(",")
        rows.append((float(t), phase, int(rss), int(fds), float(cpu)))
    report = json.load(open(report_path))

    def of(phase):
        return [r for r in rows if r[1] == phase]

    base, warm, load_, end = of("baseline"), of("warmup"), of("load"), of("end")
    failures = []
    if not (base and warm and end):
        print(f"soak: samples missing (baseline {len(base)}, warm-up {len(warm)}, end {len(end)})")
        return 1
    rss_start, fds_base = base[-1][2], base[-1][3]
    rss_warm = max(r[2] for r in warm)
    rss_peak = max(r[2] for r in rows)
    fds_peak = max(r[3] for r in rows)
    rss_end, fds_end = end[-1][2], end[-1][3]
    cpu = end[-1][4] - base[-1][4]
    rss_limit = max(int(rss_warm * rss_factor), rss_warm + rss_slack_kib)
    requests, errors = report["requests"], report["errors"]
    n_req, n_err = sum(requests.values()), sum(errors.values())

    print(f"RSS KiB: start {rss_start}, after warm-up {rss_warm}, peak {rss_peak}, end {rss_end}"
          f" (limit {rss_limit})")
    if load_:
        print(f"RSS KiB during the load after warm-up: first {load_[0][2]}, last {load_[-1][2]}")
    print(f"fds: baseline {fds_base}, peak {fds_peak}, end {fds_end} (limit {fds_base + fd_slack})")
    print(f"CPU: {cpu:.2f} s of server CPU over {rows[-1][0]:.0f} s sampled")
    print(f"requests checked: {n_req}, unexpected errors: {n_err}")
    for k in sorted(requests):
        print(f"  {k:24} {requests[k]}")
    print("on purpose (expected):")
    for k in sorted(report["expected"]):
        print(f"  {k:32} {report['expected'][k]}")
    if errors:
        print("errors by driver:")
        for k in sorted(errors):
            print(f"  {k:24} {errors[k]}")
        for s in report["error_samples"]:
            print(f"  ! {s}")

    if fds_end > fds_base + fd_slack:
        failures.append(f"fd leak: {fds_end} open at the end, baseline {fds_base} (+{fd_slack} allowed)")
    if rss_end > rss_limit:
        failures.append(f"memory: RSS {rss_end} KiB at the end, over {rss_limit} KiB")
    if n_err:
        failures.append(f"{n_err} unexpected errors in the load drivers")
    if n_req == 0:
        failures.append("no request was answered")
    udp_lost = report["expected"].get("udp replies lost", 0)
    udp_done = requests.get("udp", 0)
    if udp_lost > 0.01 * (udp_lost + udp_done) + 5:
        failures.append(f"UDP: {udp_lost} replies lost of {udp_lost + udp_done} (more than 1%)")
    for f in failures:
        print(f"soak: FAIL: {f}")
    return 1 if failures else 0


def main(argv):
    if len(argv) == 3 and argv[0] == "ports":
        ports = parse_banner(argv[1])
        ports["idle_timeout"] = float(argv[2])
        json.dump(ports, sys.stdout)
        return 0
    if len(argv) == 4 and argv[0] == "sample":
        sample(int(argv[1]), argv[2], argv[3])
        return 0
    if len(argv) == 6 and argv[0] == "load":
        load(argv[1], float(argv[2]), float(argv[3]), argv[4], argv[5])
        return 0
    if len(argv) == 3 and argv[0] == "summary":
        return summary(
            argv[1],
            argv[2],
            int(os.environ.get("SOAK_FD_SLACK", 2)),
            float(os.environ.get("SOAK_RSS_FACTOR", 1.5)),
            int(os.environ.get("SOAK_RSS_SLACK_KIB", 8192)),
        )
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
