"""Benchmark the lab: how long `up` and `down` take, and how much memory a lab holds.

    .venv/bin/python bench/bench_lab.py [--runs N] [--json PATH] [--modes rootless,root]

For each mode, N times: `lifecycle.up()` and `lifecycle.down()` in this process (the library cost;
down also with a process orphaned in the lab, as the console's Ctrl-C leaves one),
the sum of VmRSS (and PSS) of every process of the lab — the agent and anything in its PID
namespace — right after `up` and again after some use (DNS, HTTP, a namespace), and then
`tutor lab up` / `tutor lab down` as whole processes (what a user waits for).
Prints a table of median/min/max against the issue's aims and writes the raw numbers as JSON.
Not a test: numbers are noisy and machine-dependent.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tutor.lab import client, lifecycle  # noqa: E402

TUTOR = str(REPO / ".venv" / "bin" / "tutor")
AIMS = {"up_ms": 300.0, "down_ms": 100.0, "rss_mb": 60.0}
USE = ("dig +short +time=2 +tries=1 @8.8.8.8 www.naver.com; "
       "curl -s -o /dev/null --max-time 5 http://google.com/; ip netns add bench; "
       "ip netns exec bench ip link set lo up")


def lab_pids(agent: int) -> list[int]:
    """The agent and every live process on the machine in its PID namespace."""
    target = os.readlink(f"/proc/{agent}/ns/pid")
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == target:
                    pids.append(int(entry))
            except OSError:
                continue
    return sorted(set(pids) | {agent})


def _kb(path: str, key: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory_mb(agent: int) -> tuple[float, float, int]:
    """(sum of VmRSS, sum of PSS, number of processes) of the lab, in MB."""
    pids = lab_pids(agent)
    rss = sum(_kb(f"/proc/{p}/status", "VmRSS:") for p in pids)
    pss = sum(_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
    return rss / 1024, pss / 1024, len(pids)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def bench_mode(mode: str, runs: int) -> dict[str, list[float]]:
    """All samples for one lab mode."""
    os.environ["TUTOR_LAB_MODE"] = mode
    samples: dict[str, list[float]] = {k: [] for k in (
        "up_ms", "down_ms", "down_orphan_ms", "rss_mb", "pss_mb", "rss_after_use_mb",
        "processes", "cli_up_ms", "cli_down_ms")}
    for i in range(runs):
        name = f"bench-{os.getpid()}-{mode}-{i}"
        try:
            start = time.perf_counter()
            info, started = lifecycle.up(name)
            samples["up_ms"].append(_ms(start))
            assert started and info.mode == mode, info
            rss, pss, count = memory_mb(info.pid)
            samples["rss_mb"].append(rss)
            samples["pss_mb"].append(pss)
            samples["processes"].append(count)
            client.run(USE, info=info, timeout=20)
            samples["rss_after_use_mb"].append(memory_mb(info.pid)[0])
            start = time.perf_counter()
            lifecycle.down(name)
            samples["down_ms"].append(_ms(start))
        finally:
            lifecycle.down(name)
        try:    # down when a process was orphaned in the lab (its nsenter killed, as Ctrl-C does)
            info, _ = lifecycle.up(name)
            outside = client.popen("sleep 1000", info=info, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 5
            while len(lab_pids(info.pid)) < 2 and time.monotonic() < deadline:
                time.sleep(0.005)
            outside.kill()
            outside.wait()
            start = time.perf_counter()
            lifecycle.down(name)
            samples["down_orphan_ms"].append(_ms(start))
        finally:
            lifecycle.down(name)
        env = dict(os.environ, TUTOR_LAB=name)
        try:
            for action in ("up", "down"):
                start = time.perf_counter()
                done = subprocess.run([TUTOR, "lab", action], env=env, capture_output=True,
                                      text=True, timeout=30)
                samples[f"cli_{action}_ms"].append(_ms(start))
                if done.returncode != 0:
                    raise RuntimeError(f"tutor lab {action}: {done.stderr.strip()}")
        finally:
            lifecycle.down(name)
    return samples


ROWS = [("up_ms", "lifecycle.up()", "ms", "up_ms"),
        ("down_ms", "lifecycle.down()", "ms", "down_ms"),
        ("down_orphan_ms", "lifecycle.down(), orphan inside", "ms", "down_ms"),
        ("cli_up_ms", "tutor lab up (process)", "ms", None),
        ("cli_down_ms", "tutor lab down (process)", "ms", None),
        ("rss_mb", "RSS of the lab, idle", "MB", "rss_mb"),
        ("pss_mb", "PSS of the lab, idle", "MB", None),
        ("rss_after_use_mb", "RSS after DNS+HTTP+netns", "MB", "rss_mb"),
        ("processes", "processes in the lab, idle", "", None)]


def table(results: dict[str, dict[str, list[float]]], runs: int) -> str:
    lines = [f"{'mode':9} {'metric':30} {'median':>9} {'min':>9} {'max':>9}  aim",
             "-" * 74]
    for mode, samples in results.items():
        for key, label, unit, aim in ROWS:
            values = samples[key]
            if not values:
                continue
            med, lo, hi = statistics.median(values), min(values), max(values)
            target = ""
            if aim:
                target = f"<= {AIMS[aim]:g} {unit}  " + ("ok" if med <= AIMS[aim] else "MISSED")
            lines.append(f"{mode:9} {label:30} {med:9.1f} {lo:9.1f} {hi:9.1f}  {target}")
    lines.append(f"({runs} runs per mode)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", metavar="PATH", help="write the raw samples here")
    parser.add_argument("--modes", default=None,
                        help="comma-separated lab modes (default: the one tutor would choose)")
    args = parser.parse_args(argv)
    modes = args.modes.split(",") if args.modes else [lifecycle.choose_mode()]
    results = {mode: bench_mode(mode, args.runs) for mode in modes}
    print(table(results, args.runs))
    if args.json:
        summary = {mode: {k: {"median": statistics.median(v), "min": min(v), "max": max(v),
                              "samples": v} for k, v in s.items() if v}
                   for mode, s in results.items()}
        Path(args.json).write_text(json.dumps({"runs": args.runs, "aims": AIMS,
                                               "results": summary}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
