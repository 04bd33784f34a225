"""The descriptors the lab watcher (`tutor.lab.watch`) waits on, and how it gets them: the
agent's inotify watch on the lab's /run/netns, a pidfd of the agent, and a netlink socket per
namespace, handed over by the agent CHUNK at a time; `readable` waits on them all with poll().
"""

from __future__ import annotations

import os
import select

from tutor.lab import agents_name, control, from_agents
from tutor.lab.netlink import close_fds

CHUNK = 200         # sockets per request: one SCM_RIGHTS message carries at most 253 (SCM_MAX_FD)


class Inotify:
    """The agent's inotify descriptor on the lab's /run/netns (its `watch` request): readable
    when a namespace is added or removed."""

    def __init__(self):
        _, fds = control.request_fds("watch", 1)
        if len(fds) != 1:
            close_fds(fds)
            raise OSError("the lab handed over no watch")
        self.fd = fds[0]
        os.set_blocking(self.fd, False)

    def fileno(self) -> int:
        return self.fd

    def drain(self) -> None:
        try:
            while os.read(self.fd, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        os.close(self.fd)


class PidFd:
    """A pidfd of the agent: select() finds it readable once the agent has exited."""

    def __init__(self, fd: int):
        self.fd = fd

    @classmethod
    def open(cls, pid: int) -> PidFd | None:
        """None where pidfds are not available (then the once-a-second check notices)."""
        try:
            return cls(os.pidfd_open(pid))
        except (AttributeError, OSError):
            return None

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        os.close(self.fd)


def open_sockets(names: list[str]) -> dict[str, int]:
    """A netlink socket per namespace the agent can enter, by name (CHUNK at a time)."""
    sockets: dict[str, int] = {}
    try:
        for i in range(0, len(names), CHUNK):
            sockets.update(_open_chunk(names[i:i + CHUNK]))
    except OSError:    # out of descriptors: none of these is half-held
        close_fds(list(sockets.values()))
        raise
    return sockets


def _open_chunk(names: list[str]) -> dict[str, int]:
    """One `look` for all of `names`, without the netns ids the checks read: the agent passes
    over a namespace it cannot enter (not mounted yet, deleted meanwhile, a file that is no
    namespace) and says which it read, in the order of the sockets."""
    try:
        reply, fds = control.request_fds("look", len(names), namespaces=[agents_name(n) for n in names], ids=False)
    except control.LabError:   # refused (a name the agent does not take): none of these
        return {}
    read = [from_agents(n) for n in reply.get("read", []) if isinstance(n, str)]
    if len(read) != len(fds) or not set(read) <= set(names):
        close_fds(fds)
        return {}
    return dict(zip(read, fds, strict=True))


def readable(items: list, timeout: float) -> list:
    """Those of `items` (descriptors, or objects with fileno()) that are readable, or closed,
    within `timeout` seconds. poll(), not select(): select() refuses descriptors past 1023."""
    poller = select.poll()
    by_fd = {}
    for item in items:
        fd = item if isinstance(item, int) else item.fileno()
        by_fd[fd] = item
        poller.register(fd, select.POLLIN)
    return [by_fd[fd] for fd, _ in poller.poll(timeout * 1000)]


def drain_pipe(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
