"""netns-tutor benchmarks: one command, a table on stdout, JSON on disk.

    .venv/bin/python bench/run.py [--runs N] [--json PATH] [--only NAME,NAME] [--skip NAME,NAME]

Whole processes are timed (what a user waits for), repeated, and reported as median/min/max.
Peers run in the same invocation so ratios survive a noisy, shared machine: the plain shell
replay of a lesson is the floor under `tutor reset`, and Mininet's two-host pingall is the peer
of `tutor selftest lesson2`. These are benchmarks, not tests: nothing here fails a build.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TUTOR = str(ROOT / ".venv" / "bin" / "tutor")

from bench.bench_lab import memory_mb  # noqa: E402
from tutor.lab import client, control, lifecycle  # noqa: E402
from tutor.lessons.course import start_commands  # noqa: E402
from tutor.lessons.lesson import Command, load_lessons  # noqa: E402


def timed(argv: list[str], env: dict | None = None, check: bool = True) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if check and proc.returncode not in (0,):
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()[:300]}")
    return dt


STATE_HOME = f"/tmp/netns-tutor-bench-{os.getpid()}"   # progress of the timed runs; removed at the end


def lab_env(name: str) -> dict:
    return dict(os.environ, TUTOR_LAB=name, XDG_STATE_HOME=STATE_HOME)


class Bench:
    """Collects samples per measurement and renders the table."""

    def __init__(self, runs: int):
        self.runs = runs
        self.results: dict[str, dict] = {}

    def add(self, name: str, samples: list[float], unit: str = "s", note: str = "") -> None:
        self.results[name] = {"unit": unit, "samples": samples, "median": statistics.median(samples),
                              "min": min(samples), "max": max(samples), "note": note}
        r = self.results[name]
        scale, u = (1000, "ms") if unit == "s" else (1, unit)
        print(f"{name:<34} {r['median'] * scale:10.1f} {u:<3} (min {r['min'] * scale:.1f}, "
              f"max {r['max'] * scale:.1f}, n={len(samples)}) {note}", flush=True)

    def ratio(self, name: str, a: str, b: str, target: float | None = None) -> None:
        if a in self.results and b in self.results:
            value = self.results[a]["median"] / self.results[b]["median"]
            self.results[name] = {"unit": "ratio", "median": value, "of": [a, b], "target": target}
            goal = f" (target <= {target})" if target else ""
            print(f"{name:<34} {value:10.2f} x   {a} / {b}{goal}", flush=True)


def bench_lab(b: Bench) -> None:
    name = f"bench-lab-{os.getpid()}"
    env = lab_env(name)
    ups, downs, mem = [], [], []
    for _ in range(b.runs):
        ups.append(timed([TUTOR, "lab", "up"], env))
        info = control.status(name)
        assert info is not None, f"tutor lab up started no lab {name!r}"
        mem.append(memory_mb(info.pid)[0])
        downs.append(timed([TUTOR, "lab", "down"], env))
    b.add("lab up (tutor lab up)", ups, note="target <= 300 ms")
    b.add("lab down (tutor lab down)", downs, note="target <= 100 ms")
    b.add("memory of one lab (RSS)", mem, unit="MB", note="target <= 60 MB")


# What a plain shell script must do to get a used lab back to clean before replaying a start.
PLAIN_CLEANUP = """ip -all netns delete
for l in $(ls /sys/class/net); do case $l in lo|eth0|eth1) ;; *) ip link del "$l" 2>/dev/null;; esac; done
iptables -t nat -F; iptables -F; iptables -P FORWARD ACCEPT
sysctl -qw net.ipv4.ip_forward=0
rm -rf /etc/netns/*
lan ip route flush proto static 2>/dev/null; true"""


def bench_lessons(b: Bench, lessons) -> None:
    from tutor.lessons.course import reset_lesson, run_script
    name = f"bench-lessons-{os.getpid()}"
    env = lab_env(name)
    info, _ = lifecycle.up(name)
    try:
        for lesson in lessons:
            resets, inproc, replays, verifies = [], [], [], []
            start = start_commands(lesson, lessons)
            for _ in range(max(3, b.runs // 3)):
                # a pause between resets, as in class: the agent builds the next one's network
                # right after a reset (~10 ms); back to back, a reset waits for that build
                time.sleep(0.05)
                resets.append(timed([TUTOR, "reset", lesson.id], env))
                time.sleep(0.05)
                t0 = time.perf_counter()
                reset_lesson(lesson, info, lessons)
                inproc.append(time.perf_counter() - t0)
                # the floor: one bash process that cleans up and replays the same commands
                # (`serve` lines go to the agent, as a script would start a server)
                plain = [c for c in start if c.serve is None]
                t0 = time.perf_counter()
                run_script([Command(PLAIN_CLEANUP)] + plain, info, "plain replay")
                replays.append(time.perf_counter() - t0)
            b.add(f"reset {lesson.id} (tutor reset)", resets)
            b.add(f"reset {lesson.id} (in-process, as the TUI)", inproc)
            b.add(f"plain shell replay {lesson.id}", replays)
            b.ratio(f"reset/replay {lesson.id} (process)", f"reset {lesson.id} (tutor reset)",
                    f"plain shell replay {lesson.id}", 1.5)
            b.ratio(f"reset/replay {lesson.id} (in-process)", f"reset {lesson.id} (in-process, as the TUI)",
                    f"plain shell replay {lesson.id}", 1.5)
            timed([TUTOR, "reset", lesson.id], env)
            timed([TUTOR, "solve", lesson.id], env)
            for _ in range(b.runs):
                verifies.append(timed([TUTOR, "verify", lesson.id], env))
            b.add(f"verify {lesson.id} (finished)", verifies, note="target <= 300 ms")
    finally:
        lifecycle.down(name)


# What `tutor trace` follows on a finished lesson: one packet each way through NAT.
TRACES = (("lesson3", "ping 8.8.8.8 from container10"), ("lesson5", "fetch http://192.168.1.2:8080/ from node lan"))


def bench_trace(b: Bench) -> None:
    """`tutor trace` on finished lessons (whole process; aim <= 1 s), beside `tutor verify` of the
    same lesson in the same lab."""
    name = f"bench-trace-{os.getpid()}"
    env = lab_env(name)
    lifecycle.up(name)
    try:
        for lesson_id, check in TRACES:
            timed([TUTOR, "reset", lesson_id], env)
            timed([TUTOR, "solve", lesson_id], env)
            traces, verifies = [], []
            for _ in range(b.runs):
                traces.append(timed([TUTOR, "trace", check], env))
                verifies.append(timed([TUTOR, "verify", lesson_id], env))
            b.add(f"trace {lesson_id}: {check.split(' from ')[0]}", traces, note="target <= 1 s")
            b.add(f"verify {lesson_id} (beside trace)", verifies)
    finally:
        lifecycle.down(name)


def bench_scale(b: Bench) -> None:
    """`tutor verify lesson3` on a finished lesson 3 with 0, 50, 250 and 1,000 namespaces the
    lesson never names (issue 15: <= 1.5x the time without them at 250)."""
    name = f"bench-scale-{os.getpid()}"
    env = lab_env(name)
    info, _ = lifecycle.up(name)
    try:
        timed([TUTOR, "reset", "lesson3"], env)
        timed([TUTOR, "solve", "lesson3"], env)
        made = 0
        for extra in (0, 50, 250, 1000):
            if extra > made:
                batch = "".join(f"netns add x{i}\n" for i in range(made, extra))
                client.run(f"ip -batch - <<'EOF'\n{batch}EOF", info=info, timeout=300)
                made = extra
            b.add(f"verify lesson3 (+{extra} namespaces)", [timed([TUTOR, "verify", "lesson3"], env)
                                                             for _ in range(b.runs)])
        b.ratio("verify +250 / +0 namespaces", "verify lesson3 (+250 namespaces)",
                "verify lesson3 (+0 namespaces)", 1.5)
    finally:
        lifecycle.down(name)
    if not shutil.which("tmux"):
        print("scale: tmux is not installed: the course's figures are skipped")
        return
    from bench.bench_tui import crowded_tmux
    for extra in (0, 50, 250, 1000):
        outputs, busy, rss = crowded_tmux(max(10, b.runs), extra)
        b.add(f"TUI Enter -> first output (+{extra} namespaces)", outputs,
              note="target <= 100 ms at +1000" if extra == 1000 else "")
        b.results[f"TUI idle CPU (+{extra} namespaces)"] = {"unit": "%", "median": busy, "samples": [busy]}
        b.results[f"TUI RSS (+{extra} namespaces)"] = {"unit": "MB", "median": rss, "samples": [rss]}
        print(f"TUI +{extra} namespaces: idle CPU {busy:.1f}% of a core (target <= 2%), RSS {rss:.0f} MB "
              f"(target <= 150 MB)", flush=True)


def bench_selftest_vs_mininet(b: Bench, lessons, before: str = "") -> None:
    """`tutor selftest lesson2`, Mininet's two hosts on a bridge and the floor, in rounds: each
    round runs all three (selftest and Mininet in alternating order), so each pair met the
    same load on a shared machine (issue 15). `before`: another checkout (with its own .venv)
    whose selftest runs in the same rounds, for an A/B of a change."""
    from tutor.lessons.course import quick, run_script
    runs = b.runs
    mn = shutil.which("mn")
    if mn is None:
        print("mininet: not installed (apt-get install mininet bridge-utils) — skipped")
    # The floor under selftest: lesson2's own step commands (pings as quick as selftest's) in a
    # plain shell, in a running lab. Moving a veth into a namespace (`ip link set veth10 netns
    # container10`) waits for the kernel (RCU), ~15-40 ms each here; Mininet creates its
    # peers inside the namespace and never pays that.
    lesson2 = next(l for l in lessons if l.id == "lesson2")
    commands = [quick(c) for s in lesson2.steps for c in s.commands]
    name = f"bench-floor-{os.getpid()}"
    selftests: list[float] = []
    minis: list[float] = []
    floor: list[float] = []
    olds: list[float] = []

    def now() -> None:
        selftests.append(timed([TUTOR, "selftest", "lesson2"], lab_env("unused")))

    def then() -> None:   # with a lesson cache of its own: one shared by two trees misses each time
        olds.append(timed([os.path.join(before, ".venv", "bin", "tutor"), "selftest", "lesson2"],
                          dict(lab_env("unused"), XDG_CACHE_HOME=f"{STATE_HOME}/before-cache")))

    def selftest_once() -> None:
        for once in ((now, then) if len(selftests) % 2 == 0 else (then, now)) if before else (now,):
            once()

    def mininet_once() -> None:
        if mn is None:
            return
        minis.append(timed([mn, "--switch", "lxbr", "--controller", "none", "--topo", "single,2",
                            "--test", "pingall"], check=False))
        subprocess.run([mn, "-c"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    info, _ = lifecycle.up(name)
    try:
        for i in range(runs):
            for once in (selftest_once, mininet_once) if i % 2 == 0 else (mininet_once, selftest_once):
                once()
            lifecycle.reset(name)
            time.sleep(0.1)   # the agent's spare network is ready, as for a reset in class
            t0 = time.perf_counter()
            run_script(commands, info, "lesson2's commands")
            floor.append(time.perf_counter() - t0)
    finally:
        lifecycle.down(name)
    b.add("selftest lesson2", selftests)
    if olds:
        b.add(f"selftest lesson2 in {before}", olds)
        b.ratio("selftest lesson2: now / before", "selftest lesson2", f"selftest lesson2 in {before}")
    b.add("plain shell: lesson2's steps", floor, note="the kernel work selftest cannot skip")
    if not minis:
        return
    b.add("mininet single,2 pingall", minis)
    paired = statistics.median(s / m for s, m in zip(selftests, minis, strict=True))
    b.ratio("selftest lesson2 / mininet", "selftest lesson2", "mininet single,2 pingall", 0.5)
    print(f"{'  the same, paired (median of ratios)':<34} {paired:10.2f} x", flush=True)
    b.results["selftest lesson2 / mininet"]["paired_median"] = paired
    b.ratio("lesson2's steps alone / mininet", "plain shell: lesson2's steps", "mininet single,2 pingall")


def bench_many_labs(b: Bench, count: int = 30, namespaces: int = 100) -> None:
    """`count` labs at once, each then given `namespaces` namespaces (issue 15: 30 labs of 100):
    up time, memory per lab, whether each still answers, and `tutor verify lesson3` (finished)
    in one of them while the others stand."""
    names = [f"bench-many-{os.getpid()}-{i}" for i in range(count)]
    ups, mem, crowded = [], [], []
    verifies: list[float] = []
    try:
        for n in names:
            ups.append(timed([TUTOR, "lab", "up"], lab_env(n)))
        for n in names:
            info = control.status(n)
            mem.append(memory_mb(info.pid)[0] if info else 0)
        batch = "".join(f"netns add x{i}\n" for i in range(namespaces))
        for n in names:
            info = control.status(n)
            if info:
                client.run(f"ip -batch - <<'EOF'\n{batch}EOF", info=info, timeout=300)
                crowded.append(memory_mb(info.pid)[0])
        alive = sum(1 for n in names if control.status(n))
        ok = sum(client.run("ping -c1 -W1 192.168.1.3", info=control.status(n)).returncode == 0 for n in names)
        env = lab_env(names[0])
        timed([TUTOR, "reset", "lesson3"], env)
        timed([TUTOR, "solve", "lesson3"], env)
        verifies = [timed([TUTOR, "verify", "lesson3"], env) for _ in range(b.runs)]
    finally:
        for n in names:
            lifecycle.down(n)
    b.add(f"lab up under load ({count} labs)", ups)
    b.add(f"memory per lab ({count} labs)", mem, unit="MB")
    if crowded:
        b.add(f"memory per lab ({count} labs, +{namespaces} namespaces each)", crowded, unit="MB")
    if verifies:
        b.add(f"verify lesson3 ({count} labs of +{namespaces} namespaces)", verifies)
    print(f"{count} labs at once: {alive} running, {ok} answered a ping to their LAN machine", flush=True)
    b.results[f"{count} labs working"] = {"unit": "count", "median": ok, "samples": [alive, ok]}


MEASUREMENTS = ["lab", "lessons", "selftest", "trace", "scale", "many", "tui"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("--json", default=str(ROOT / "bench" / "results" / "latest.json"))
    p.add_argument("--only", default="", help="comma-separated: " + ",".join(MEASUREMENTS))
    p.add_argument("--skip", default="")
    p.add_argument("--before", default="", help="selftest: another checkout (with its .venv) timed in the same rounds")
    args = p.parse_args()
    only = set(filter(None, args.only.split(","))) or set(MEASUREMENTS)
    only -= set(filter(None, args.skip.split(",")))
    b = Bench(args.runs)
    # measured as installed: bin/_setup.sh compiles the package, but edits since make stale
    # bytecode that every process (agents too, under PYTHONDONTWRITEBYTECODE) compiles again
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "tutor")], stdout=subprocess.DEVNULL)
    lessons = load_lessons()
    print(f"netns-tutor bench: {os.cpu_count()} cores, runs={args.runs}", flush=True)
    try:
        if "lab" in only:
            bench_lab(b)
        if "lessons" in only:
            bench_lessons(b, lessons)
        if "selftest" in only:
            bench_selftest_vs_mininet(b, lessons, args.before)
        if "trace" in only:
            bench_trace(b)
        if "scale" in only:
            bench_scale(b)
        if "many" in only:
            bench_many_labs(b)
        if "tui" in only:
            try:
                from bench import bench_tui  # written with the TUI
                bench_tui.run(b)
            except ImportError as exc:
                print(f"tui: skipped ({exc})")
    finally:
        shutil.rmtree(STATE_HOME, ignore_errors=True)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(b.results, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
