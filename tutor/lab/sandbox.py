"""The lab's private filesystem view: everything the machine has, read-only, plus its own
writable /run, /tmp, /etc (an overlay), /dev, /proc and /sys.

Runs inside the agent right after it entered its new mount namespace. Nothing here touches the
machine's own mounts: the namespace is private, so every mount below vanishes with the lab.
"""

from __future__ import annotations

import os

from tutor.lab import nsutil as ns

LAB_HOSTNAME = "lab"
LAB_RUN = "/run/tutor"            # the agent's own files inside the lab (world nodes, helpers)
WORLD_DIR = f"{LAB_RUN}/world"
BIN_DIR = f"{LAB_RUN}/bin"

HOSTS = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
172.17.0.3\tlab
"""
RESOLV = "nameserver 8.8.8.8\n"

# Mounts the lab replaces wholesale; their host originals are never made writable to it.
_REPLACED = ("/proc", "/sys", "/dev", "/run", "/tmp", "/etc")
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r + "/") for r in roots)


def make_host_readonly() -> list[str]:
    """Remount every inherited mount read-only; return the mount points that refused."""
    refused = []
    ns.mount(None, "/", None, ns.MS_REC | ns.MS_PRIVATE)
    for target, flags in ns.mount_points():
        if _under(target, _REPLACED[:3]) or not os.path.exists(target):
            continue
        try:
            ns.mount(None, target, None, ns.MS_REMOUNT | ns.MS_BIND | ns.MS_RDONLY | flags)
        except OSError:
            refused.append(target)
    return refused


def _tmpfs(target: str, mode: str = "755", size: str = "64m") -> None:
    ns.mount("tmpfs", target, "tmpfs", ns.MS_NOSUID | ns.MS_NODEV, f"mode={mode},size={size}")


def _write(path: str, text: str, mode: int = 0o644) -> None:
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def build_run_and_tmp() -> None:
    """Private /run (so /run/netns is the lab's own), /tmp and /dev/shm."""
    _tmpfs("/run")
    for d in ("/run/netns", WORLD_DIR, BIN_DIR, f"{LAB_RUN}/etc-upper", f"{LAB_RUN}/etc-work"):
        os.makedirs(d, exist_ok=True)
    _tmpfs("/tmp", "1777")


def build_etc() -> None:
    """An overlay over the machine's /etc: the lab may write hosts, resolv.conf and netns/."""
    upper, work = f"{LAB_RUN}/etc-upper", f"{LAB_RUN}/etc-work"
    ns.mount("overlay", "/etc", "overlay", 0, f"lowerdir=/etc,upperdir={upper},workdir={work}")
    for name, text in (("hosts", HOSTS), ("resolv.conf", RESOLV), ("hostname", LAB_HOSTNAME + "\n")):
        path = f"/etc/{name}"
        if os.path.islink(path) or os.path.exists(path):
            os.unlink(path)   # resolv.conf is often a symlink into the machine's /run
        _write(path, text)
    os.makedirs("/etc/netns", exist_ok=True)


def reset_etc() -> None:
    """Throw away everything the lab wrote into /etc and start from the machine's again."""
    ns.umount("/etc")
    for d in ("etc-upper", "etc-work"):
        path = f"{LAB_RUN}/{d}"
        _rmtree(path)
        os.makedirs(path)
    build_etc()


def _rmtree(path: str) -> None:
    import shutil
    shutil.rmtree(path, ignore_errors=True)


def build_dev() -> None:
    """A minimal /dev: the harmless character devices, the caller's ptys, a private shm."""
    host_dev = "/run/tutor/.hostdev"
    os.makedirs(host_dev, exist_ok=True)
    ns.mount("/dev", host_dev, None, ns.MS_BIND | ns.MS_REC)
    _tmpfs("/dev", "755", "1m")
    for name in _DEVICES:
        _write(f"/dev/{name}", "")
        ns.mount(f"{host_dev}/{name}", f"/dev/{name}", None, ns.MS_BIND)
    os.makedirs("/dev/pts")
    ns.mount(f"{host_dev}/pts", "/dev/pts", None, ns.MS_BIND)
    os.symlink("pts/ptmx", "/dev/ptmx")
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{i}", f"/dev/{name}")
    os.symlink("/proc/self/fd", "/dev/fd")
    os.makedirs("/dev/shm")
    _tmpfs("/dev/shm", "1777")
    ns.umount(host_dev)
    os.rmdir(host_dev)


def build_proc_and_sys() -> None:
    """Fresh /proc for the lab's PID namespace and /sys for its network namespace.

    Only /proc/sys/net stays writable: sysctls outside it are the machine's, not the lab's.
    """
    ns.mount("proc", "/proc", "proc", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC)
    for path in ("/proc/sys", "/proc/sysrq-trigger"):
        if not os.path.exists(path):
            continue
        ns.mount(path, path, None, ns.MS_BIND)
        ns.mount(None, path, None, ns.MS_REMOUNT | ns.MS_BIND | ns.MS_RDONLY
                 | ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC)
    ns.mount("/proc/sys/net", "/proc/sys/net", None, ns.MS_BIND)
    ns.mount(None, "/proc/sys/net", None, ns.MS_REMOUNT | ns.MS_BIND
             | ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC)
    remount_sys(first=True)


def remount_sys(first: bool = False) -> None:
    """A /sys describing the agent's current network namespace (sysfs binds it at mount time).

    Read-only, so `ip netns exec` mounts its per-namespace /sys read-only too.
    """
    if not first:
        ns.umount("/sys")
    ns.mount("sysfs", "/sys", "sysfs", ns.MS_RDONLY | ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC)


BASHRC = """# netns-tutor lab shell
PS1='\\u@\\h:\\w\\$ '
alias ls='ls --color=auto'
"""


def write_helpers(python: str) -> None:
    """`lan` and `internet` on the lab host run a command line on that world node."""
    _write(f"{LAB_RUN}/bashrc", BASHRC)
    for node in ("lan", "internet"):
        _write(f"{BIN_DIR}/{node}",
               "#!/bin/sh\n"
               f"# Run a command on the simulated {node} machine of the lab.\n"
               f'[ $# -gt 0 ] || set -- bash\n'
               f'exec nsenter --net={WORLD_DIR}/{node} -- "$@"\n', 0o755)


def build(python: str) -> list[str]:
    """Build the whole private view; returns mounts that could not be made read-only."""
    refused = make_host_readonly()
    build_run_and_tmp()
    build_etc()
    build_dev()
    build_proc_and_sys()
    write_helpers(python)
    ns.sethostname(LAB_HOSTNAME)
    return refused
