"""Robustness of the course app: hostile input, several front ends on one lab, and deaths.

- 1,000 generated command lines into the console (Pilot): the app stays up and responsive,
  every line gets a result (its exit status, ^C, or the console's own note), memory stays
  bounded; a smaller sample is typed key by key.
- Two front ends and the CLI on one lab at once: a Pilot app, the real `tutor` in tmux,
  `tutor shell -c` and `tutor verify`: a change made in one shows in the others.
- The lab's agent killed (SIGKILL) under an open app: the app says so and F6 brings a new lab.
- The real `tutor` killed (SIGKILL) at random moments: the lab still answers, nothing the app
  started lingers on the machine, the progress file is valid JSON, and the machine's own
  network state is what it was.

Each test is bounded (well under a minute here) and ends everything it started.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual import events

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))

from pilot_helpers import console_text, run, running_lab, type_command, wait_for  # noqa: E402
from test_shell_fuzz import generated  # noqa: E402
from tmuxterm import Terminal, wait_gone  # noqa: E402
from tutor import progress  # noqa: E402
from tutor.app import app as app_module  # noqa: E402
from tutor.app.widgets.console import MAX_LINE, PROMPT, TOO_LONG, Console, PromptInput, _builtin  # noqa: E402
from tutor.lab import HOST, client, control  # noqa: E402

pytestmark = pytest.mark.lab
SIZE = (120, 40)
TUTOR = str(Path(sys.executable).with_name("tutor"))
TMUX = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
ENDLESS = ["ping 192.168.1.3", "yes", "sleep 1000", "ping -i 0.2 172.17.0.1", "cat /dev/zero | tr '\\0' y",
           "while :; do :; done"]
RESPONSIVE = 2.0      # seconds a keypress may take to be handled after a batch of lines
# What the lines left the app to do (their tables, their checks) is done before a key typed now
# is: within the time of this many of its slowest lines (and within RESPONSIVE on a machine
# quick enough for that), whatever the machine's load
LINES_OF_WORK = 3
# seconds a line may take to start, or to be answered (twice that to end): a ceiling that only
# a hang reaches, on a 2-core machine running the suite on several workers
PATIENCE = 30.0


class RecordingApp(app_module.TutorApp):
    """The course app, noting every command that started and how each one ended."""

    CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.started: list[str] = []
        self.finished: list[tuple[str, int, bool]] = []
        self.entered = 0       # lines the console took from the prompt (run or answered itself)

    def on_mount(self) -> None:
        # (runs before TutorApp.on_mount: handlers go along the MRO)
        console = self.query_one("#console", Console)
        start = console._start

        def counted(line: str) -> None:
            self.entered += 1
            start(line)
        console._start = counted  # type: ignore[method-assign]  # counting, then the real one

    def on_command_started(self, message) -> None:
        super().on_command_started(message)
        self.started.append(message.cmdline)

    def on_command_finished(self, message) -> None:
        super().on_command_finished(message)
        self.finished.append((message.cmdline, message.status, message.stopped))


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def _lines(n: int, seed: int = 4321) -> list[str]:
    """The shell fuzzer's lines, with endless commands and NUL characters mixed in."""
    rnd = random.Random(seed)
    lines = generated(n, seed)
    for i in range(7, n, 50):
        lines[i] = rnd.choice(ENDLESS)
    for i in range(13, n, 100):
        lines[i] = "echo nul\0here"
    return lines


async def _until(pilot, predicate, timeout: float, what: str) -> None:
    """`wait_for` at a finer grain: a thousand lines cannot wait 50 ms twice each.

    It sleeps rather than `pilot.pause`, which also forces a frame each time: polled every
    2 ms, that drew the screen ~4 times a line, most of the test's CPU. The app draws at its own
    rate, as in a terminal."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.002)


def _key(app, key: str, character: str | None = None) -> None:
    """A key press as the terminal driver delivers it (through the app's bindings and focus),
    without `pilot.press`'s waits for an idle CPU — 60 ms and more a key while the lab works."""
    event = events.Key(key, character)
    event.set_sender(app)
    app.post_message(event)


async def _submit(pilot, app, line: str, endless: bool) -> None:
    """Put `line` in the prompt, press Enter, stop it if endless, and wait for its result."""
    console = app.cmd_console
    prompt = app.query_one("#prompt", PromptInput)
    started, entered = len(app.started), app.entered
    prompt.value = line
    _key(app, "enter", "\r")
    cmdline = line.strip()
    if len(line) > MAX_LINE:                     # refused by the console: nothing runs
        app.query_one("#console-log").clear()    # (so that this refusal is the one seen)
        await _until(pilot, lambda: _last_line(app) == TOO_LONG, PATIENCE, f"{line[:40]!r} to be refused")
        return
    if not cmdline or _builtin(cmdline) != "":   # answered by the console itself
        await _until(pilot, lambda: app.entered > entered, PATIENCE, f"{line[:40]!r} to be answered")
        return
    await _until(pilot, lambda: len(app.started) > started, PATIENCE, f"{line[:40]!r} to start")
    if endless:
        await pilot.pause(0.3)
        _key(app, "ctrl+c")
    await _until(pilot, lambda: len(app.finished) == len(app.started) and not console.running,
                 2 * PATIENCE, f"{line[:40]!r} to end")


def _last_line(app) -> str:
    return ([l for l in app.query_one("#console-log").lines[-4:] if l] or [""])[-1]


def _check_result(app, line: str, endless: bool) -> None:
    """The console shows what became of `line`."""
    cmdline = line.strip()
    tail = [l for l in app.query_one("#console-log").lines[-4:] if l]
    if len(line) > MAX_LINE:
        assert tail[-1] == TOO_LONG and cmdline not in app.started[-3:], tail
        return
    if not cmdline:
        assert tail[-1] == PROMPT.rstrip() or tail[-1].startswith(PROMPT), tail
        return
    note = _builtin(cmdline)
    if note is None:            # `clear`
        return
    if note:
        assert tail[-1] == note, (line[:80], tail)
        return
    ran, status, stopped = app.finished[-1]
    assert ran == cmdline, (line[:80], ran[:80])
    if endless:
        assert stopped and tail[-1] == "^C", (line, tail)
    elif status != 0:
        assert tail[-1] == f"[exit {status}]", (line[:80], status, tail)


@pytest.mark.timeout(600)   # ~25 s alone; a 2-core machine busy with other work takes minutes
@pytest.mark.parametrize("part", range(4), ids=[f"lines-{250 * i + 1}-{250 * (i + 1)}" for i in range(4)])
@pytest.mark.slow(35)
def test_a_thousand_generated_lines_leave_the_app_up_and_responsive(lab, state_home, part):
    """The 1,000 lines in four parts, each in an app and lab of its own: one at ~60-90 ms a
    line (the command, the tables and the checks that follow it) would hold one of the suite's
    workers for minutes while the others wait at the end."""
    lines = _lines(1000)[250 * part:250 * (part + 1)]

    async def body():
        app = RecordingApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.result is not None, 15, "the first verification")
            prompt = app.query_one("#prompt", PromptInput)
            rss0 = 0
            took: list[float] = []   # each line, from Enter to its end on screen
            for i, line in enumerate(lines):
                endless = line in ENDLESS
                t0 = time.monotonic()
                await _submit(pilot, app, line, endless)
                took.append(time.monotonic() - t0)
                _check_result(app, line, endless)
                if i % 100 == 99:
                    # responsive: what the lines left to do is soon done, and a key typed then is
                    # handled at once (the two were one 2 s bound, which two busy loops on a
                    # slow machine broke: 2.6 s)
                    t0 = time.monotonic()
                    await pilot.pause()
                    slowest = max(took[-100:])
                    assert time.monotonic() - t0 < max(RESPONSIVE, LINES_OF_WORK * slowest), slowest
                    t0 = time.monotonic()
                    await pilot.press("z")
                    assert prompt.value == "z"
                    await pilot.press("ctrl+c")
                    assert prompt.value == ""
                    assert time.monotonic() - t0 < RESPONSIVE
                    # the lab stays small enough to stay quick (another terminal tidies it)
                    client.run("ip -all netns delete; ip link show | grep -c . >/dev/null")
                    if i == 99:
                        rss0 = _rss_kib()
            rss = _rss_kib()
            assert rss - rss0 < 50_000, f"RSS grew {(rss - rss0) // 1024} MB over 150 lines"
            # and it still works as a console
            await type_command(pilot, "echo still-here", keys=False)
            assert console_text(app).rstrip().endswith("still-here")
            nul = [f for f in app.finished if "\0" in f[0]]
            assert nul and all(status != 0 for _, status, _ in nul)
        assert control.status() is not None
        assert client.run("ps -eo comm= | grep -cE '^(ping|yes|sleep|cat|tr)$'").stdout.strip() == "0"

    run(body())


@pytest.mark.slow(30)
def test_lines_typed_key_by_key(lab, state_home):
    """A smaller sample through real key presses: unicode, quotes, a flood, Ctrl+C.

    (Pilot loses characters whose Unicode name has more than one word, such as ✓ or ¡, on the
    way to a key event; a real terminal does not, and the lines set in the prompt carry them.)
    """
    sample = ["ip -br link", "echo héllo wörld 🐧", "echo 'unbalanced", 'echo "unbalanced', "exit 7",
              "ls /nope", "ʇxǝʇ", "echo $((1/0))", "(", "}", "cd /tmp", "printf '%s\\n' a b c",
              "echo " + "x" * 120, "yes", "ping 192.168.1.3"]
    shows = {"ip -br link": "eth0@if", "echo héllo wörld 🐧": "\nhéllo wörld 🐧\n",
             "ʇxǝʇ": "command not found", "echo $((1/0))": "division by 0",
             "printf '%s\\n' a b c": "\na\nb\nc\n", "ping 192.168.1.3": "ping statistics"}
    wraps = "echo " + "x" * 120       # wider than the console: wrapped at its width, whole

    async def body():
        app = RecordingApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.result is not None, 15, "the first verification")
            for line in sample:
                endless = line in ENDLESS
                started = len(app.started)
                await pilot.press(*line)
                assert app.query_one("#prompt", PromptInput).value == line
                await pilot.press("enter")
                if _builtin(line) == "":
                    await wait_for(pilot, lambda: len(app.started) > started,  # noqa: B023 (awaited here)
                                   5, f"{line!r} to start")
                    if endless:
                        await pilot.pause(0.3)
                        await pilot.press("ctrl+c")
                    # the app hears of the end one message after the console: wait for both
                    await wait_for(pilot, lambda: not app.cmd_console.running and len(app.finished) > started,  # noqa: B023
                                   15, f"{line!r} to end")
                _check_result(app, line, endless)
                if line in shows:
                    assert shows[line] in console_text(app)[-2000:] + "\n", (line, console_text(app)[-300:])
                if line == wraps:
                    lines = console_text(app).split("\n")
                    start = lines.index(f"root@lab:/# {wraps}") + 1
                    rows = lines[start:lines.index("", start)]
                    assert len(rows) > 1 and "".join(rows) == "x" * 120, rows

    run(body())


# -- more than one front end, and deaths -------------------------------------------------------

def _env(lab_name: str, state_home: Path) -> dict[str, str]:
    return {"TUTOR_LAB": lab_name, "XDG_STATE_HOME": str(state_home), "TERM": "xterm-256color",
            "LANG": "C.UTF-8", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def _tutor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([TUTOR, *args], capture_output=True, text=True, timeout=60)


def _links(app) -> list[str]:
    table = app.query_one("#table-links")
    return [str(table.get_row_at(i)[0]).lstrip("+- ") for i in range(table.row_count)]


@TMUX
@pytest.mark.e2e
def test_two_apps_and_the_cli_on_one_lab_see_each_others_changes(lab, lab_name, state_home):
    """A Pilot app and the real `tutor` in tmux on one lab, with `tutor shell -c` and
    `tutor verify` from other processes: each change shows in the other's tables and checks."""
    term = Terminal([TUTOR, "start", "lesson1"], _env(lab_name, state_home))

    async def body():
        app = RecordingApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.result is not None, 15, "the first verification")
            term.wait_for("✗ netns red")
            # the Pilot app makes red: the terminal's checks see it
            await type_command(pilot, "ip netns add red", keys=False)
            term.wait_for("✓ netns red")
            # the terminal makes blue: the Pilot app's lab view gets a tab, step 1 passes there
            term.type("ip netns add blue")
            await wait_for(pilot, lambda: "blue" in app.lab_view.snapshot.state.ns, 10, "blue in the app")
            await wait_for(pilot, lambda: app.step == 2, 10, "step 2 in the app")
            term.wait_for("Step 2 of 5")
            # the CLI does step 2 and makes the cable of step 3: both apps follow
            assert _tutor("shell", "-n", "red", "-c", "ip link set dev lo up").returncode == 0
            assert _tutor("shell", "-c", "ip link add veth0 type veth peer name veth1").returncode == 0
            await wait_for(pilot, lambda: "veth0@veth1" in _links(app), 10, "veth0 in the app's table")
            term.wait_for("veth0@veth1")
            await wait_for(pilot, lambda: app.step == 4, 15, "step 4 in the app")
            term.wait_for("Step 4 of 5")
            # and the CLI's verdict agrees with both
            r = _tutor("verify", "lesson1", "--json")
            assert r.returncode == 1, r.stderr
            verdict = json.loads(r.stdout)
            passed = {s["id"] for s in verdict["steps"] if s["passed"]}
            assert passed == {1, 2, 3}, verdict
            assert app.result is not None
            assert {s.number for s in app.result.steps if s.passed} == {1, 2, 3}

    try:
        run(body())
    finally:
        term.kill()
    record = json.loads((state_home / "netns-tutor" / "progress.json").read_text())
    assert progress.load().done("lesson1") >= {1, 2, 3}, record


def test_the_agent_killed_under_an_open_app_is_said_and_f6_brings_a_new_lab(lab, state_home):
    async def body():
        app = RecordingApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.result is not None, 15, "the first verification")
            await type_command(pilot, "ip netns add red; ip netns add blue", keys=False)
            await wait_for(pilot, lambda: app.step == 2, 10, "step 2 to open")
            await type_command(pilot, "sleep 100", keys=False, wait=False)
            await wait_for(pilot, lambda: app.cmd_console.running, 20, "sleep to run")
            agent = running_lab().pid
            os.kill(agent, signal.SIGKILL)
            # said plainly, at once, in the banner, the console and a notification
            await wait_for(pilot, lambda: app.lab_down, 20, "the app to notice")
            said = f"stopped (agent pid {agent} is gone)"
            assert app.lab_down_banner.display
            assert said in str(app.query_one("#lab-down-text").render())
            assert said in console_text(app)
            assert any(said in n.message for n in app._notifications)
            # the command that ran in it ended with it; a new one says why it cannot run
            await wait_for(pilot, lambda: not app.cmd_console.running, 20, "sleep to end with the lab")
            await type_command(pilot, "ip -br link", keys=False)
            assert "is not running" in console_text(app).split("ip -br link")[-1]
            await wait_for(pilot, lambda: app.checks.border_subtitle == "cannot check", 20, "checks")
            # F6: no question (nothing is left to lose), a new lab rebuilt to this step
            await pilot.press("f6")
            assert app.screen is app.screen_stack[0]
            await wait_for(pilot, lambda: not app.lab_down and not app.preparing, 30, "a new lab")
            assert not app.lab_down_banner.display
            info = control.status()
            assert info.pid != agent and set(info.namespaces) == {"red", "blue"}
            await wait_for(pilot, lambda: {HOST, "red", "blue"} <= set(app.lab_view.snapshot.state.ns)
                           and "eth0@if2" in " ".join(_links(app)), 10, "the tables to fill again")
            await type_command(pilot, "ip netns", keys=False)
            assert "blue\nred" in console_text(app).split("root@lab:/# ip netns")[-1]
            await wait_for(pilot, lambda: app.result is not None and app.result.steps[0].passed,
                           10, "the checks to pass again")
            assert app.step == 2

    run(body())


def _machine_network() -> dict[str, str]:
    """The machine's own network state, with counters and lifetimes (which tick) taken out."""
    tick = re.compile(r"\[\d+:\d+\]|packets \d+ bytes \d+|(valid|preferred)_lft \d+sec")
    out = {}
    for argv in (["ip", "-d", "link"], ["ip", "-d", "addr"], ["ip", "route", "show", "table", "all"],
                 ["ip", "-6", "route", "show", "table", "all"], ["iptables-save"], ["nft", "list", "ruleset"]):
        if shutil.which(argv[0]):
            r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            lines = [l for l in (r.stdout + r.stderr).splitlines() if not l.startswith("#")]
            out[" ".join(argv)] = tick.sub("", "\n".join(lines))
    return out


def _lab_namespaces() -> tuple[str, str]:
    """The lab's PID and mount namespaces, read inside it (its owner may not read the agent's:
    it is not dumpable)."""
    target, mounts = client.run("readlink /proc/self/ns/pid /proc/self/ns/mnt").stdout.split()
    return target, mounts


def _lab_side(agent: int, namespaces: tuple[str, str]) -> list[str]:
    """What runs for the lab besides its agent: processes in its PID namespace, and the
    nsenter processes on the machine entering it (they join its mount namespace, and fork
    their child into its PID namespace)."""
    target, mounts = namespaces
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == agent:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if os.readlink(f"/proc/{entry}/ns/pid") == target or \
                    os.readlink(f"/proc/{entry}/ns/mnt") == mounts:
                with open(f"/proc/{entry}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                        found.append(f"{entry}: {b' '.join(argv).decode(errors='replace')[:120]}")
        except OSError:
            continue
    return found


def _lab_side_settles_empty(agent: int, namespaces: tuple[str, str], quiet: float = 1.5,
                            timeout: float = 20.0) -> list[str]:
    """`_lab_side` once it has been empty for `quiet` seconds in a row ([]), or what it holds
    at `timeout`. A read the app started just before it was killed is not seen while its
    `nsenter` is still on its way into the lab, so a first empty look can come before it shows
    (and then ends by itself): that failed once under two busy loops. Something that stays, such
    as a `sleep 100` the keeper did not end, still fails."""
    deadline = time.monotonic() + timeout
    empty_since = None
    while True:
        found = _lab_side(agent, namespaces)
        now = time.monotonic()
        if found:
            empty_since = None
        elif empty_since is None:
            empty_since = now
        if (empty_since is not None and now - empty_since >= quiet) or now > deadline:
            return found
        time.sleep(0.05)


@TMUX
@pytest.mark.e2e
@pytest.mark.timeout(300)
@pytest.mark.slow(25)
def test_sigkill_of_the_real_tui_leaves_lab_machine_and_progress_consistent(lab, lab_name, state_home):
    """`tutor start lesson1` killed with SIGKILL at random moments — starting up, while a command
    runs, while a flood streams, right after a change — again and again."""
    before = _machine_network()
    namespaces = _lab_namespaces()
    rnd = random.Random(20261128)
    # (what to type, and what to wait for before the random delay and the kill)
    moments = [(None, None), ("sleep 100", None), ("ping 192.168.1.3", None), ("yes", None),
               ("ip netns add red; ip netns add blue", None),
               ("ip netns add red; ip netns add blue", "Step 2 of 5"),     # progress was written
               ("sleep 1; sleep 100", None), (None, None),
               ("ip netns exec red ip link set lo up; sleep 50", None)]
    for command, seen in moments:
        term = Terminal([TUTOR, "start", "lesson1"], _env(lab_name, state_home))
        try:
            if command is None:                     # while it starts
                time.sleep(rnd.uniform(0.05, 0.8))
            else:
                term.wait_for("Step ")
                term.type(command)
                if seen:
                    term.wait_for(seen)
                time.sleep(rnd.uniform(0.0, 0.6))
            os.kill(term.pid, signal.SIGKILL)
            assert wait_gone(term.pid, 20.0)
            # nothing the app started goes on without it
            assert _lab_side_settles_empty(lab.pid, namespaces) == [], command
            # the lab still answers, and the progress record is whole
            r = _tutor("verify", "lesson1", "--json")
            assert r.returncode in (0, 1), (command, r.stderr)
            json.loads(r.stdout)
            path = state_home / "netns-tutor" / "progress.json"
            if path.exists():
                json.loads(path.read_text())
        finally:
            term.kill()
    assert running_lab().pid == lab.pid              # the same lab all along
    assert progress.load().done("lesson1") >= {1}
    assert _machine_network() == before


def test_the_lab_view_follows_other_terminals_even_past_a_file_that_is_no_namespace(lab, state_home):
    """Namespaces made elsewhere, one after another, and a plain file in /run/netns (which
    `ip netns` lists, and no one can enter): the tables keep following the lab."""
    async def body():
        app = RecordingApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.result is not None, 15, "the first verification")
            assert client.run("touch /run/netns/junk").returncode == 0
            for name in ("red", "blue", "green"):
                client.run(f"ip netns add {name}")
                await wait_for(pilot, lambda: name in app.lab_view.snapshot.state.ns,  # noqa: B023 (awaited here)
                               5, f"{name}")
            client.run("ip -n green link set lo up; ip link add veth0 type veth peer name veth1")
            await wait_for(pilot, lambda: "veth0@veth1" in _links(app), 20, "veth0 in the table")
            await wait_for(pilot, lambda: app.lab_view.snapshot.state.ns["green"].links["lo"].admin_up,
                           5, "lo up in green")
            assert "junk" not in app.lab_view.snapshot.state.ns
            await type_command(pilot, "ip netns", keys=False)
            assert "junk" in console_text(app)

    run(body())
