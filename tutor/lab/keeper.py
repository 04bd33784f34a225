"""The keeper: what the app is running in the lab does not outlive the app, however it ends.

A console command is `nsenter` in a session of its own, and its child runs in the lab; both
are children of no terminal, so when the app is killed (SIGKILL, or a terminal that vanished)
nothing else would stop a `ping` or `sleep 1000` it left running. The keeper is one small
`bash` per app, started with the first command, that reads "+PGID" / "-PGID" lines from a pipe
only the app holds: the runner registers each command's process group while it runs. When the
pipe reaches its end — the app exited, in whatever way — the keeper SIGKILLs every group still
registered, then exits itself. (PR_SET_PDEATHSIG cannot do this: `nsenter` changes its
credentials on the way into the lab, which clears it, and it would reach one process only.)

A command's backgrounded children (`sleep 9 &`) outlive the command as they would in a
terminal: the group is unregistered when the command ends.
"""

from __future__ import annotations

import subprocess
import threading

SCRIPT = r"""
declare -A groups
while read -r op pgid; do
    case $op in
        +) groups[$pgid]=1 ;;
        -) unset "groups[$pgid]" ;;
    esac
done
for pgid in "${!groups[@]}"; do kill -KILL -- "-$pgid" 2>/dev/null; done
"""


class Keeper:
    """Registers running process groups with the keeper process (started on first use)."""

    def __init__(self):
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def add(self, pgid: int) -> None:
        """A command's process group started: kill it if the app dies before it ends."""
        self._send(f"+ {pgid}\n")

    def remove(self, pgid: int) -> None:
        """The command ended: its group (and what it left running on purpose) is not ours now."""
        self._send(f"- {pgid}\n")

    def _send(self, line: str) -> None:
        with self._lock:
            try:
                if self._proc is None or self._proc.poll() is not None:
                    # its own session: a terminal's Ctrl+C or hang-up reaches the app, not it
                    self._proc = subprocess.Popen(["bash", "--noprofile", "--norc", "-c", SCRIPT],
                                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.DEVNULL, start_new_session=True,
                                                  text=True)
                stdin = self._proc.stdin
                assert stdin is not None   # made with stdin=PIPE above
                stdin.write(line)
                stdin.flush()
            except OSError:   # no bash, or it died: the app still works, only without this net
                self._proc = None


keeper = Keeper()
