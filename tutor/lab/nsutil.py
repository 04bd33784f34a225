"""Thin ctypes wrappers for the namespace and mount system calls Python 3.11 lacks.

Only the lab agent uses these; everything else reaches the lab through its agent
(`tutor.lab.control`, `tutor.lab.lifecycle`) and the one door for commands, `tutor.lab.client`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

MNT_DETACH = 0x2        # umount2's flags
UMOUNT_NOFOLLOW = 0x8

# The interpreter is linked against libc: its symbols need no search (ctypes.util costs ~5 ms).
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
PR_SET_SECUREBITS = 28
SECBIT_NO_SETUID_FIXUP = 1 << 2


_proc = -1   # a descriptor of the lab's /proc, once the agent holds one (see hold_proc)


def hold_proc() -> None:
    """Keep a descriptor of the current /proc: the lab's root may unmount or cover /proc, and
    the agent must still find its own namespaces."""
    global _proc
    old, _proc = _proc, os.open("/proc", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    if old >= 0:
        os.close(old)


def open_own_ns(kind: str) -> int:
    """A descriptor of the calling process's namespace `kind` (net, mnt, user, ...)."""
    if _proc >= 0:
        return os.open(f"self/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC, dir_fd=_proc)
    return os.open(f"/proc/self/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)


@contextlib.contextmanager
def in_proc():
    """The body runs with the lab's own /proc (held by `hold_proc`) as working directory."""
    if _proc < 0:
        yield
        return
    os.fchdir(_proc)
    try:
        yield
    finally:
        os.chdir("/")


def proc_is_mounted() -> bool:
    """Is the /proc we hold (see hold_proc) the one mounted at /proc?"""
    try:
        return _proc < 0 or os.stat("/proc").st_dev == os.fstat(_proc).st_dev
    except OSError:
        return False


def mounts() -> list[tuple[int, str]]:
    """(mount id, mount point) of every mount this process sees, from the lab's own /proc."""
    fd = os.open("self/mountinfo", os.O_RDONLY | os.O_CLOEXEC, dir_fd=_proc) if _proc >= 0 \
        else os.open("/proc/self/mountinfo", os.O_RDONLY | os.O_CLOEXEC)
    with os.fdopen(fd) as f:
        return [(int(fields[0]), _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), fields[4]))
                for fields in (line.split() for line in f)]


def own_ns_inode(kind: str) -> int:
    """The inode that names the calling process's namespace `kind`."""
    fd = open_own_ns(kind)
    try:
        return os.fstat(fd).st_ino
    finally:
        os.close(fd)


IN_CREATE, IN_DELETE, IN_MOVED_TO, IN_MOVED_FROM = 0x100, 0x200, 0x80, 0x40


def watch_entries(path: str) -> int:
    """A non-blocking inotify descriptor that reads when an entry is added to or removed
    from folder `path`."""
    fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1")
    if _libc.inotify_add_watch(fd, path.encode(), IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM) < 0:
        err = ctypes.get_errno()
        os.close(fd)
        raise OSError(err, f"inotify_add_watch {path}")
    return fd


def mount_ids() -> set[int]:
    """The ids of every mount this process sees."""
    return {mount_id for mount_id, _ in mounts()}


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces of the kinds in `flags`."""
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    """Join the namespace that `fd` (an open /proc/PID/ns/* or bind-mounted nsfs file) refers to."""
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    """mount(2); raises OSError naming the target on failure."""
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def umount(target: str, detach: bool = True, follow: bool = True) -> None:
    """umount2(2), lazily by default so busy mounts still go; with `follow=False` a link at
    `target` is not followed (the call fails instead)."""
    flags = (MNT_DETACH if detach else 0) | (0 if follow else UMOUNT_NOFOLLOW)
    _check(_libc.umount2(target.encode(), flags), f"umount {target}")


def sethostname(name: str) -> None:
    """Set the hostname of the current UTS namespace."""
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")


def set_dumpable(on: bool) -> None:
    """prctl(PR_SET_DUMPABLE): whether same-uid processes may open our /proc files and fds."""
    _check(_libc.prctl(PR_SET_DUMPABLE, int(on), 0, 0, 0), "prctl")


def set_securebits(bits: int) -> None:
    """prctl(PR_SET_SECUREBITS): e.g. keep capabilities across a change of uid."""
    _check(_libc.prctl(PR_SET_SECUREBITS, bits, 0, 0, 0), "prctl")


def set_name(name: str) -> None:
    """prctl(PR_SET_NAME): the process's name in `ps` (15 bytes at most)."""
    buf = ctypes.create_string_buffer(name.encode()[:15])
    _check(_libc.prctl(PR_SET_NAME, ctypes.addressof(buf), 0, 0, 0), "prctl")


MOUNT_OPTION_FLAGS = {
    "ro": MS_RDONLY, "nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME, "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME,
}
_ESCAPE = re.compile(r"\\([0-7]{3})")


def mount_points() -> list[tuple[str, int]]:
    """(mount point, per-mount flags) for every mount the process sees, parents first.

    The flags carry the atime mode too (strictatime when neither noatime nor relatime is
    listed): a remount inside a user namespace must repeat the locked atime flags exactly.
    """
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            target = _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), fields[4])
            opts = fields[5].split(",")
            flags = 0
            for opt in opts:
                flags |= MOUNT_OPTION_FLAGS.get(opt, 0)
            if "noatime" not in opts and "relatime" not in opts:
                flags |= MS_STRICTATIME
            points.append((target, flags))
    return points
