"""How much of the machine one lab may take: processes and memory.

Defaults: 1 GiB of memory and 1024 processes, set with `tutor config lab-memory 2G` and
`tutor config lab-processes 2048`. How each is enforced, from strongest to weakest:

- **Processes, always:** the agent sets RLIMIT_NPROC just before it creates the lab's user
  namespace. The kernel remembers that limit in the namespace and counts every process of the
  lab against it, at the level of the namespace's owner — however the process got in
  (`nsenter` from the machine included) and whatever rlimit it carries itself. The owner is
  the user (rootless) or the lab's own id (root's labs, see `tutor.lab.door`), so the count is
  this lab's processes alone.
- **Memory and processes, when root starts the lab:** a cgroup of its own (v2, or v1's memory
  and pids controllers), under the cgroup root started in: memory.max / memory.limit_in_bytes
  and pids.max. Every command entering the lab joins it before it enters (`join_argv`), and so
  do all the processes it starts; memory charged there includes files they write in a tmpfs.
  The agent stays out: when the lab's memory is full, the kernel's OOM killer ends a command,
  never the agent (which would end the lab; lowering its OOM score needs CAP_SYS_RESOURCE,
  which containers often lack).
- **Rootless with no cgroup we may write:** memory is not capped; `tutor doctor` says so.
  (A user's systemd manager could delegate one; this machine's kind has none to test with.)

Standard library only (the agent imports this before it enters the lab).
"""

from __future__ import annotations

import errno
import os
import resource
import time
from collections import namedtuple

from tutor.i18n import Msg

DEFAULT_MEMORY = 1 << 30
DEFAULT_PROCESSES = 1024
MIN_MEMORY, MAX_MEMORY = 64 << 20, 1 << 40
MIN_PROCESSES, MAX_PROCESSES = 64, 1 << 22
CGROUP = "/sys/fs/cgroup"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class Limits(namedtuple("Limits", "memory processes")):
    """A lab's limits: memory in bytes, processes."""
    __slots__ = ()

    def encode(self) -> str:
        return f"{self.memory}:{self.processes}"

    @classmethod
    def decode(cls, text: str) -> Limits:
        memory, processes = text.split(":")
        return cls(int(memory), int(processes))


def parse_memory(text: str) -> int:
    """`512M`, `1G`, `1.5G`, `1073741824` → bytes; ValueError with a sentence otherwise."""
    raw = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = raw[-1:] if raw[-1:] in _UNITS and raw[-1:] else ""
    try:
        value = int(float(raw[:-1] if unit else raw) * _UNITS[unit])
    except (ValueError, OverflowError):
        raise ValueError(Msg("{text!r} is not an amount of memory (say 512M or 2G)", text=text)) from None
    if not MIN_MEMORY <= value <= MAX_MEMORY:
        raise ValueError(Msg("a lab's memory is from {low} to {high}", low=show_memory(MIN_MEMORY),
                             high=show_memory(MAX_MEMORY)))
    return value


def parse_processes(text: str) -> int:
    """A process count from MIN_PROCESSES to MAX_PROCESSES; ValueError with a sentence otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(Msg("{text!r} is not a number of processes", text=text)) from None
    if not MIN_PROCESSES <= value <= MAX_PROCESSES:
        raise ValueError(Msg("a lab may have from {low} to {high} processes", low=MIN_PROCESSES, high=MAX_PROCESSES))
    return value


def show_memory(value: int) -> str:
    """Bytes in the largest unit that divides them: 1073741824 → `1G`."""
    for unit in ("T", "G", "M", "K"):
        if value >= _UNITS[unit] and value % _UNITS[unit] == 0:
            return f"{value // _UNITS[unit]}{unit}"
    return str(value)


def configured() -> Limits:
    """The limits `tutor config` set, else the defaults (a bad setting counts as unset)."""
    from tutor.settings import setting
    try:
        memory = parse_memory(str(setting("lab-memory", DEFAULT_MEMORY)))
    except ValueError:
        memory = DEFAULT_MEMORY
    try:
        processes = parse_processes(str(setting("lab-processes", DEFAULT_PROCESSES)))
    except ValueError:
        processes = DEFAULT_PROCESSES
    return Limits(memory, processes)


def cap_processes(processes: int) -> None:
    """RLIMIT_NPROC for the user namespace about to be made (see the module's docstring)."""
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


# -- cgroups (root) ---------------------------------------------------------------------------
def _own_cgroup(controller: str) -> str | None:
    """Our cgroup's folder for `controller` (v1), or for the unified hierarchy ("")."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller == "" and names == "" and os.path.exists(f"{CGROUP}/cgroup.controllers"):
            return CGROUP + path.rstrip("/")
        if controller and controller in names.split(","):
            return f"{CGROUP}/{names}{path.rstrip('/')}"
    return None


def _v2_ready(base: str) -> bool:
    try:
        with open(f"{base}/cgroup.subtree_control") as f:
            enabled = f.read().split()
    except OSError:
        return False
    return "memory" in enabled and "pids" in enabled


def make_cgroups(name: str, limits: Limits) -> list[str]:
    """Root only: the lab's cgroup folders, limits set, and none joined yet. [] where this
    machine offers no cgroup to write (then only the process limit holds)."""
    if os.geteuid() != 0:
        return []
    made: list[str] = []
    base = _own_cgroup("")
    try:
        if base and _v2_ready(base):
            made.append(_make(f"{base}/netns-tutor-{name}",
                              {"memory.max": limits.memory, "memory.swap.max": 0,
                               "pids.max": limits.processes}))
            return made
        memory, pids = _own_cgroup("memory"), _own_cgroup("pids")
        if memory is None or pids is None:
            return []
        made.append(_make(f"{memory}/netns-tutor-{name}",
                          {"memory.limit_in_bytes": limits.memory,
                           "memory.memsw.limit_in_bytes": limits.memory}))
        made.append(_make(f"{pids}/netns-tutor-{name}", {"pids.max": limits.processes}))
    except OSError:
        remove_cgroups(made)
        return []
    return made


def _make(folder: str, settings: dict[str, int]) -> str:
    os.makedirs(folder, exist_ok=True)
    for key, value in settings.items():
        try:
            with open(f"{folder}/{key}", "w") as f:
                f.write(str(value))
        except FileNotFoundError:
            if key.startswith("memory.memsw") or key.startswith("memory.swap"):
                continue   # no swap accounting here: memory alone is capped
            raise
    return folder


def join_argv(folders: list[str], argv: list[str]) -> list[str]:
    """`argv`, run after its process has joined the lab's cgroups (one `sh`).

    In a v1 hierarchy the `sh` writes 0 to `tasks`: it moves itself, its only thread, and the
    kernel need not lock every thread group on the machine for that. Writing its PID to
    `cgroup.procs` takes that lock, which waits for an RCU grace period when no other move
    came just before: ~10 ms for the first command after a pause here (issue 15). v2 has no
    `tasks`: there it writes its PID to `cgroup.procs`."""
    if not folders:
        return argv
    script = 'for f in "$@"; do [ "$f" = -- ] && break; ' \
             'if [ -e "$f/tasks" ]; then echo 0 > "$f/tasks"; else echo $$ > "$f/cgroup.procs"; fi ' \
             '|| exit 126; shift; done; shift; exec "$@"'
    return ["sh", "-c", script, "sh", *folders, "--", *argv]


def remove_cgroups(folders: list[str]) -> None:
    """Remove the lab's cgroup folders (empty once every process of the lab has gone)."""
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:
            pass


def remove_for(name: str, wait: float = 3.0) -> None:
    """Remove lab `name`'s cgroup folders once it has stopped. A lab just killed may still have
    processes ending in them (the kernel ends them after the agent, and on a busy machine that
    takes a while): up to `wait` seconds for them to go, else the folder would stay for good
    (the sweep that calls this also removes the socket that would have brought it back here)."""
    if os.geteuid() != 0:
        return
    deadline = time.monotonic() + wait
    for controller in ("", "memory", "pids"):
        base = _own_cgroup(controller)
        while base:
            try:
                os.rmdir(f"{base}/netns-tutor-{name}")
                break
            except OSError as exc:   # none (ENOENT), or still in use (EBUSY): its processes are ending
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    break
                time.sleep(0.02)


def in_force(limits: Limits) -> list[tuple[Msg, Msg]]:
    """What `tutor doctor` says about limits here: (what, how it is capped), one pair each."""
    processes, memory = Msg("processes per lab"), Msg("memory per lab")
    lines = [(processes, Msg("{count} (the kernel counts them in the lab's user namespace)",
                             count=limits.processes))]
    if os.geteuid() == 0:
        base = _own_cgroup("")
        if base and _v2_ready(base):
            lines.append((memory, Msg("{memory} (cgroup v2 under {base})", memory=show_memory(limits.memory),
                                      base=base)))
        elif _own_cgroup("memory") and _own_cgroup("pids"):
            lines.append((memory, Msg("{memory} (cgroup v1 memory and pids controllers)",
                                      memory=show_memory(limits.memory))))
        else:
            lines.append((memory, Msg("not capped (no cgroup controller to write here)")))
    else:
        lines.append((memory, Msg("not capped (rootless, and no cgroup this user may write; "
                                  "a lab started by root is capped)")))
    return lines
