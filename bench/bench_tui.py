"""Benchmark the course app: how soon it paints, and how soon a change shows in its tables.

    .venv/bin/python bench/bench_tui.py [--runs N] [--commands N] [--json PATH]
    (or, with the other benchmarks: .venv/bin/python bench/run.py --only tui)

Measured:
- *first paint, real terminal*: from launching `tutor start lesson1` in a detached tmux pane
  (120x40, a private tmux server per run) until `capture-pane` shows the prompt `root@lab:/#`.
  With the lab already running (warm: `tutor start` after `tutor lab up`, or any second start)
  and without (cold: `tutor start` starts the lab first). capture-pane is polled every few ms,
  so the resolution is about the cost of one capture (~3 ms). Also noted: when the step's text
  (first words of the lesson's intro) is on screen too — it follows the first frame.
- *first paint, in-process*: `TutorApp(...)` until its first frame is drawn; *settled*: until
  `App.run_test()` hands it over (its screen has nothing left to do) — Textual's own start,
  without the interpreter, imports or a terminal.
- *command to table, Pilot*: in a Pilot-driven app, from the console's `CommandFinished` for
  `ip link add tbN type bridge` until `tbN` is a row of the links table (checked right after
  each `LabChanged` is handled; a row shown before the console reported the end counts 0).
- *command to table, real terminal*: from `tmux send-keys Enter` on that line until the row
  (`+ tbN`, the table's mark for a new row) is on the captured screen.
- *Enter to first output, real terminal*: from `tmux send-keys Enter` on `echo out""N` until
  its output `outN` (not the echoed line, which reads `out""N`) is on the captured screen.

Aims (from the issues): first paint <= 1 s, a change shown <= 200 ms, Enter to first output
<= 50 ms. Not a test: the numbers
are noisy and machine-dependent. Every lab and tmux server started here is ended, by name.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutor.lab import lifecycle  # noqa: E402

TUTOR = str(ROOT / ".venv" / "bin" / "tutor")
PROMPT = "root@lab:/#"
SIZE = (120, 40)
AIMS = {"paint": 1.0, "table": 0.2, "output": 0.05, "verdict": 0.25}


class Tmux:
    """One tmux server on a private socket running one command in a fixed-size window."""

    def __init__(self, argv: list[str], env: dict[str, str], size: tuple[int, int] = SIZE):
        self.socket = f"tutor-bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        # COLUMNS/LINES in this process's environment would pin the app to their size
        command = " ".join(["exec", "env", "-u", "COLUMNS", "-u", "LINES",
                            *(f"{k}={v}" for k, v in env.items()), *argv])
        self.tmux("new-session", "-d", "-x", str(size[0]), "-y", str(size[1]), "-s", "b", command)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=10).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-t", "b", "-p")

    def pane_pid(self) -> int | None:
        out = self.tmux("display-message", "-p", "-t", "b", "#{pane_pid}").strip()
        return int(out) if out.isdigit() else None

    def send(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", "b", *(["-l"] if literal else []), *keys)

    def wait(self, pattern: str | re.Pattern, timeout: float = 15.0, poll: float = 0.002) -> float:
        """perf_counter() when `pattern` (text or regex) is first on the screen."""
        deadline = time.perf_counter() + timeout
        while True:
            screen = self.screen()
            now = time.perf_counter()
            if (pattern in screen) if isinstance(pattern, str) else pattern.search(screen):
                return now
            if now > deadline:
                raise TimeoutError(f"{pattern!r} not on screen after {timeout:g} s:\n{screen}")
            time.sleep(poll)

    def kill(self) -> None:
        """End the server and make sure the program it ran is gone (by its pid)."""
        pid = self.pane_pid()
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)
        if pid:
            _wait_gone(pid)


def _wait_gone(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass


def _env(lab: str, state: str) -> dict[str, str]:
    return {"TUTOR_LAB": lab, "XDG_STATE_HOME": state, "TERM": "xterm-256color", "LANG": "C.UTF-8",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def first_paint_tmux(runs: int, cold: bool, bare: list[float] | None = None) -> tuple[list[float], list[float]]:
    """Seconds from launching `tutor start lesson1` in tmux until the prompt is on screen, and
    until the step's text is. With `bare`, each run also times the peer (`bare_textual.py`, the
    floor Textual sets) right after it, into that list."""
    from bench.bare_textual import SHOWN
    from tutor.lessons.lesson import find_lesson
    words = " ".join(find_lesson("lesson1").intro.split()[:2])
    lab = f"bench-tui-paint-{os.getpid()}"
    samples, text = [], []
    with tempfile.TemporaryDirectory(prefix="tutor-bench-") as state:
        try:
            for _ in range(runs):
                if cold:
                    lifecycle.down(lab)
                else:
                    lifecycle.up(lab)
                t0 = time.perf_counter()
                term = Tmux([TUTOR, "start", "lesson1"], _env(lab, state))
                try:
                    samples.append(term.wait(PROMPT) - t0)
                    text.append(term.wait(words) - t0)
                    term.wait("Step 1 of")   # fully up before it is ended (no half-started lab)
                finally:
                    term.kill()
                if bare is not None:
                    t0 = time.perf_counter()
                    term = Tmux([sys.executable, str(ROOT / "bench" / "bare_textual.py")], _env(lab, state))
                    try:
                        bare.append(term.wait(SHOWN) - t0)
                    finally:
                        term.kill()
        finally:
            lifecycle.down(lab)
    return samples, text


def _app_class():
    """TutorApp with two hooks that note when a command ended and when a row was shown."""
    from textual.widgets import DataTable

    import tutor.app.app as app_module

    class TimedApp(app_module.TutorApp):
        CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.started: dict[str, float] = {}
            self.finished: dict[str, float] = {}
            self.shown: dict[str, float] = {}
            self.first_frame: float | None = None

        def _display(self, screen, renderable) -> None:
            if self.first_frame is None:
                self.first_frame = time.perf_counter()
            super()._display(screen, renderable)

        def on_command_started(self, message) -> None:
            super().on_command_started(message)
            self.started[message.cmdline] = time.perf_counter()

        def on_command_finished(self, message) -> None:
            super().on_command_finished(message)
            self.finished[message.cmdline] = time.perf_counter()

        def on_lab_changed(self, message) -> None:
            super().on_lab_changed(message)
            now = time.perf_counter()
            # the links table is made when first shown (the lab view makes only the front one)
            for table in self.query("#table-links").results(DataTable):
                for i in range(table.row_count):
                    name = str(table.get_row_at(i)[0]).lstrip("+- ").split("@")[0]
                    self.shown.setdefault(name, now)

    return TimedApp


def first_paint_pilot(runs: int) -> tuple[list[float], list[float]]:
    """Seconds from constructing the app until its first frame, and until `run_test` hands it
    over (which waits until the screen has nothing left to do: the step's text and the lab
    view's tabs, made after the first frame, included)."""
    TimedApp = _app_class()

    async def once() -> tuple[float, float]:
        t0 = time.perf_counter()
        app = TimedApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            settled = time.perf_counter() - t0
            await pilot.pause(0.2)   # let the watcher and first checks start, then end cleanly
        assert app.first_frame is not None, "the app drew no frame"
        return app.first_frame - t0, settled

    firsts, settled = zip(*(asyncio.run(once()) for _ in range(runs)), strict=True)
    return list(firsts), list(settled)


def table_latency_pilot(count: int) -> tuple[list[float], list[float]]:
    """(CommandFinished -> row shown, CommandStarted -> row shown) in seconds, per command."""
    TimedApp = _app_class()
    after_end, after_start = [], []

    async def body() -> None:
        app = TimedApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.result is not None, 15)
            app.lab_view.show_table("links")
            await pilot.pause()
            for i in range(count):
                name = f"tb{i}"
                cmd = f"ip link add {name} type bridge"
                app.cmd_console.insert(cmd)
                await pilot.press("enter")
                await _until(pilot, lambda: name in app.shown and cmd in app.finished, 10,  # noqa: B023 (awaited here)
                             poll=0.002)
                after_end.append(max(0.0, app.shown[name] - app.finished[cmd]))
                after_start.append(app.shown[name] - app.started[cmd])
                await pilot.pause(0.25)   # let the checks that follow a command run

    asyncio.run(body())
    return after_end, after_start


async def _until(pilot, predicate, timeout: float, poll: float = 0.02) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not get there in time")
        await pilot.pause(poll)


@contextlib.contextmanager
def course_in_tmux(name: str, extra: int = 0):
    """The course at lesson1 in a tmux terminal on a lab of its own (with `extra` namespaces the
    lesson never names), its first checks run; the terminal and the lab are gone afterwards."""
    from tutor.lab import client
    lab = f"bench-tui-{name}-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="tutor-bench-") as state:
        info, _ = lifecycle.up(lab)
        if extra:
            batch = "".join(f"netns add x{i}\n" for i in range(extra))
            client.run(f"ip -batch - <<'EOF'\n{batch}EOF", info=info, timeout=600)
        term = Tmux([TUTOR, "start", "lesson1"], _env(lab, state))
        try:
            term.wait("Step 1 of")
            term.wait(re.compile(r"[✓✗] netns red"))   # the first checks have run
            yield term
        finally:
            term.kill()
            lifecycle.down(lab)


def table_latency_tmux(count: int) -> list[float]:
    """Seconds from Enter on `ip link add tbN type bridge` until its row is on the screen."""
    samples = []
    with course_in_tmux("table") as term:
        for i in range(count):
            name = f"tb{i}"
            term.send(f"ip link add {name} type bridge", literal=True)
            time.sleep(0.05)          # the line is in the prompt before Enter is timed
            t0 = time.perf_counter()
            term.send("Enter")
            samples.append(term.wait(re.compile(rf"\+ {name}\b")) - t0)
            term.send(f"ip link del {name}", literal=True)
            term.send("Enter")
            term.wait(re.compile(rf"- {name}\b"))
            time.sleep(0.2)
    return samples


def first_output_tmux(count: int) -> list[float]:
    """Seconds from Enter on `echo out""N` until its output `outN` is on the screen."""
    with course_in_tmux("output") as term:
        return _echo_outputs(term, count)


def _echo_outputs(term: Tmux, count: int) -> list[float]:
    """Seconds from Enter on `echo out""N` until `outN` (not the echoed `out""N`) shows, N times."""
    samples = []
    for i in range(count):
        term.send(f'echo out""{i}', literal=True)
        time.sleep(0.05)          # the line is in the prompt before Enter is timed
        t0 = time.perf_counter()
        term.send("Enter")
        samples.append(term.wait(re.compile(rf"out{i}(?!\d)")) - t0)
        time.sleep(0.1)
    return samples


def crowded_tmux(count: int, extra: int, idle: float = 10.0) -> tuple[list[float], float, float]:
    """The course on a lab with `extra` namespaces it never names (issue 15): Enter -> first
    output in seconds, then the app's CPU while idle (% of one core over `idle` seconds, the
    checks and watcher settled) and its resident memory (MB)."""
    with course_in_tmux("crowded", extra) as term:
        samples = _echo_outputs(term, count)
        pid = term.pane_pid()
        assert pid is not None
        time.sleep(2.0)                 # the checks after the last command are done
        ticks = os.sysconf("SC_CLK_TCK")

        def cpu() -> float:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks   # utime + stime, all threads

        start, t0 = cpu(), time.perf_counter()
        time.sleep(idle)
        busy = (cpu() - start) / (time.perf_counter() - t0) * 100
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    return samples, busy, rss


def verdict_tmux(count: int) -> list[float]:
    """Seconds from Enter on `ip netns add red` (lesson 1, step 1) until its check turns green on
    the screen; `ip netns del red` turns it red again between samples."""
    samples = []
    with course_in_tmux("verdict") as term:
        for _ in range(count):
            term.send("ip netns add red", literal=True)
            time.sleep(0.05)          # the line is in the prompt before Enter is timed
            t0 = time.perf_counter()
            term.send("Enter")
            samples.append(term.wait("✓ netns red") - t0)
            term.send("ip netns del red", literal=True)
            term.send("Enter")
            term.wait(re.compile(r"✗ netns red"))
            time.sleep(0.2)
    return samples


def paint_beside_bare(b, runs: int) -> list[float]:
    """The first paint with the lab running, and the peer's in the same rounds, and their
    ratio (added to `b`). Returns the times until the step's text was shown."""
    bare: list[float] = []
    prompt, text = first_paint_tmux(runs, cold=False, bare=bare)
    b.add("TUI first paint, lab running", prompt,
          note=f"tmux {SIZE[0]}x{SIZE[1]}, launch -> prompt; target <= 1000 ms")
    b.add("a bare Textual app's first paint", bare, note="the peer: bare_textual.py, launch -> its text")
    b.ratio("first paint / a bare Textual app's", "TUI first paint, lab running", "a bare Textual app's first paint")
    return text


def run(b, output_only: bool = False) -> None:
    """Add the TUI measurements to bench/run.py's Bench `b`."""
    runs = max(3, b.runs)
    if shutil.which("tmux"):
        b.add("Enter -> first output on screen (tmux)", first_output_tmux(max(20, b.runs)),
              note="real terminal, `echo`; target <= 50 ms")
        if output_only:
            return
        b.add("Enter -> check verdict on screen (tmux)", verdict_tmux(max(10, b.runs)),
              note="`ip netns add red` -> ✓; target <= 250 ms")
        text = paint_beside_bare(b, runs)
        b.add("TUI step text shown, lab running", text, note="launch -> the lesson's text")
        prompt, text = first_paint_tmux(runs, cold=True)
        b.add("TUI first paint, lab started", prompt,
              note="the same, `tutor start` starting the lab; target <= 1000 ms")
        b.add("TUI step text shown, lab started", text, note="launch -> the lesson's text")
    else:
        print("tui: tmux is not installed: the real-terminal measurements are skipped")
    saved = {k: os.environ.get(k) for k in ("TUTOR_LAB", "XDG_STATE_HOME")}
    lab = f"bench-tui-pilot-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="tutor-bench-") as state:
        os.environ.update(TUTOR_LAB=lab, XDG_STATE_HOME=state)
        try:
            lifecycle.up(lab)
            firsts, settled = first_paint_pilot(runs)
            b.add("TUI first paint, in-process", firsts, note="TutorApp() until its first frame")
            b.add("TUI settled, in-process", settled,
                  note="App.run_test until the screen has nothing left to do")
            after_end, after_start = table_latency_pilot(max(20, b.runs))
            b.add("command -> links row (Pilot)", after_end,
                  note="CommandFinished -> row in the table; target <= 200 ms")
            b.add("command start -> links row (Pilot)", after_start, note="CommandStarted -> row")
        finally:
            lifecycle.down(lab)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    if shutil.which("tmux"):
        b.add("Enter -> links row on screen (tmux)", table_latency_tmux(max(20, b.runs)),
              note="real terminal; target <= 200 ms")


def main(argv: list[str] | None = None) -> int:
    from bench.run import Bench
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("--json", help="write the raw samples here")
    p.add_argument("--output-only", action="store_true", help="only Enter -> first output")
    p.add_argument("--paint-only", action="store_true",
                   help="only the first paint, lab running, beside a bare Textual app")
    args = p.parse_args(argv)
    b = Bench(args.runs)
    print(f"netns-tutor TUI bench: {os.cpu_count()} cores, runs={args.runs}", flush=True)
    if args.paint_only:
        paint_beside_bare(b, b.runs)
    else:
        run(b, args.output_only)
    misses = [name for name, r in b.results.items() if "target" in r.get("note", "")
              and r["median"] > AIMS["paint" if "paint" in name else "output" if "output" in name
                                          else "verdict" if "verdict" in name else "table"]]
    print("aims: " + ("all met" if not misses else "missed by " + ", ".join(misses)))
    if args.json:
        import json
        Path(args.json).write_text(json.dumps(b.results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
