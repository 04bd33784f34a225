"""The lab's private filesystem view: everything the machine has, read-only, plus its own
writable /run, /tmp, /etc and /var/lib (overlays), /dev, /proc and /sys.

Built in two stages, so that nothing typed in the lab — not even `mount -o remount,rw` or
`umount` as the lab's root — can reach the machine:

1. `build_outer` runs while the agent is still outside the lab's user namespace (real root in
   root mode, the invoking user's own user namespace in rootless mode). It makes every mount of
   the machine read-only and covers what the lab must never see — the machine's /proc, /sys,
   /dev, /run, /tmp and /root — with private file systems.
2. The agent then enters the lab's user namespace (its root is an unprivileged id on the
   machine) and a new mount namespace. The kernel *locks* every mount copied into a namespace
   owned by a less privileged user namespace: read-only stays read-only (MNT_LOCK_READONLY) and
   covers cannot be unmounted (MNT_LOCKED).
3. `build_inner` (PID 1 of the lab) mounts what the lab itself may change: its /proc, its /sys,
   the /etc and /var/lib overlays (with an empty /var/lib/cni of its own) and its files under
   /run.

The namespaces are private, so every mount below vanishes with the lab.
"""

from __future__ import annotations

import contextlib
import os
import shlex

from tutor.lab import nsutil as ns, tcpdump_shim, tools, world
from tutor.lab.world import LAB_HOSTNAME, LAB_RUN, WORLD_DIR

CNI_STATE = "/var/lib/cni"       # where CNI plugins keep their state (host-local's leases)
SPARE_DIR = f"{LAB_RUN}/spare"   # the next reset's world, built ahead (see tutor.lab.agent)
BIN_DIR = f"{LAB_RUN}/bin"
# Fully visible copies of the machine's proc and sysfs, under a locked cover. The kernel lets a
# user namespace mount a new proc or sysfs only while one is fully visible somewhere in its mount
# namespace (mount_too_revealing); these satisfy that without the lab ever reaching them.
HIDDEN = "/run/.host"

HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
         f"{world.gateway().host_ip}\t{LAB_HOSTNAME}\n")
RESOLV = f"nameserver {world.DNS_SERVER}\n"

# Covered in stage 1 by the lab's own file systems; the machine's are never made writable to it.
_COVERED = ("/proc", "/sys", "/dev", "/run", "/tmp", "/root")
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_RO = ns.MS_RDONLY | ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r + "/") for r in roots)


def make_host_readonly() -> list[str]:
    """Remount every inherited mount read-only; hide the ones that refuse. Returns those hidden.

    A mount that cannot be hidden either is fatal: the lab would be able to write to it.
    """
    hidden = []
    ns.mount(None, "/", None, ns.MS_REC | ns.MS_PRIVATE)
    for target, flags in ns.mount_points():
        if _under(target, _COVERED):
            continue
        try:
            ns.mount(None, target, None, ns.MS_REMOUNT | ns.MS_BIND | ns.MS_RDONLY | flags)
            continue
        except OSError:
            pass
        if not os.path.lexists(target):
            continue    # out of this identity's reach (e.g. under a 0700 home): so is the lab
        if os.path.isdir(target):
            ns.mount("tmpfs", target, "tmpfs", _RO, "mode=000,size=4k")
        else:
            ns.mount("/dev/null", target, None, ns.MS_BIND)
        hidden.append(target)
    return hidden


def _tmpfs(target: str, mode: str = "755", size: str = "64m", owner: int | None = None) -> None:
    data = f"mode={mode},size={size}" + (f",uid={owner},gid={owner}" if owner is not None else "")
    ns.mount("tmpfs", target, "tmpfs", ns.MS_NOSUID | ns.MS_NODEV, data)


def _cover(target: str) -> None:
    """An empty, read-only, unreadable file system over `target`."""
    ns.mount("tmpfs", target, "tmpfs", _RO, "mode=000,size=4k")


def _write(path: str, text: str, mode: int = 0o644) -> None:
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def build_outer(owner: int) -> tuple[int, list[str]]:
    """Stage 1: the machine read-only, its kernel file systems and scratch space covered.

    `owner` is the id (in the current user namespace) that will be the lab's root; it owns the
    lab's /run, /tmp, /root and /dev/shm. Returns an O_PATH descriptor of the machine's /proc (the
    caller still needs it to write the lab's id maps; close it before anything of the lab runs)
    and the mounts that refused to become read-only and were hidden instead.
    """
    hidden = make_host_readonly()
    _tmpfs("/run", "755", "64m", owner)
    for kernel_fs in ("proc", "sys"):
        os.makedirs(f"{HIDDEN}/{kernel_fs}")
        ns.mount(f"/{kernel_fs}", f"{HIDDEN}/{kernel_fs}", None, ns.MS_BIND | ns.MS_REC)
    procfd = os.open(f"{HIDDEN}/proc", os.O_PATH | os.O_DIRECTORY)
    try:
        build_dev(owner)
        for target in (HIDDEN, "/proc", "/sys"):
            _cover(target)
        _tmpfs("/tmp", "1777", "64m", owner)
        _tmpfs("/root", "700", "64m", owner)   # the lab's $HOME
    except BaseException:
        os.close(procfd)
        raise
    return procfd, hidden


def build_dev(owner: int) -> None:
    """A minimal /dev: the harmless character devices, a private pty instance and shm."""
    host_dev = "/run/.hostdev"
    os.makedirs(host_dev)
    ns.mount("/dev", host_dev, None, ns.MS_BIND | ns.MS_REC)
    _tmpfs("/dev", "755", "1m")
    for name in _DEVICES:
        _write(f"/dev/{name}", "")
        ns.mount(f"{host_dev}/{name}", f"/dev/{name}", None, ns.MS_BIND)
    ns.umount(host_dev)
    os.rmdir(host_dev)
    os.makedirs("/dev/pts")
    # Its own pty instance: the machine's /dev/pts would let the lab write into other terminals.
    ns.mount("devpts", "/dev/pts", "devpts", ns.MS_NOSUID | ns.MS_NOEXEC,
             "newinstance,ptmxmode=0666,mode=620")
    os.symlink("pts/ptmx", "/dev/ptmx")
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{i}", f"/dev/{name}")
    os.symlink("/proc/self/fd", "/dev/fd")
    os.makedirs("/dev/shm")
    _tmpfs("/dev/shm", "1777", "64m", owner)


def build_inner(python: str) -> None:
    """Stage 3, in PID 1 of the lab: what the lab itself may change."""
    build_proc()
    remount_sys(first=True)
    for d in ("/run/netns", WORLD_DIR, SPARE_DIR, BIN_DIR):
        os.makedirs(d, exist_ok=True)
    _new_layer("etc")
    _new_layer("var-lib")
    build_etc()
    build_var_lib()
    write_helpers(python)
    ns.sethostname(LAB_HOSTNAME)


def build_etc() -> None:
    """An overlay over the machine's /etc: the lab may write hosts, resolv.conf and netns/."""
    upper, work = _overlay_dirs("etc")
    ns.mount("overlay", "/etc", "overlay", 0, f"lowerdir=/etc,upperdir={upper},workdir={work}")
    for name, text in (("hosts", HOSTS), ("resolv.conf", RESOLV), ("hostname", LAB_HOSTNAME + "\n")):
        path = f"/etc/{name}"
        if os.path.islink(path) or os.path.exists(path):
            os.unlink(path)   # resolv.conf is often a symlink into the machine's /run
        _write(path, text)
    os.makedirs("/etc/netns", exist_ok=True)


def _layer(name: str) -> str:
    """Where the overlay called `name` keeps what the lab writes: a tmpfs of its own."""
    return f"{LAB_RUN}/{name}-layer"


def _overlay_dirs(name: str) -> tuple[str, str]:
    """The upper and work folders of the overlay called `name`, on its layer."""
    return f"{_layer(name)}/upper", f"{_layer(name)}/work"


def _new_layer(name: str) -> None:
    """A fresh, empty layer for the overlay `name` (the overlay itself not mounted yet).

    A reset drops the old layer whole, by unmounting its tmpfs, instead of walking the tree
    the lab wrote there: no file, link or depth of it is ever looked at, and it costs the same
    however much the lab wrote (the agent no longer imports `shutil` for `rmtree` either, ~2.5
    ms of every lab's start, issue 15). The lab's processes are gone by then (`reset`); what
    the lab left at the layer's path that is not a folder (a link, say) is removed instead of
    unmounted, so neither the unmount nor the new tmpfs reaches anywhere else."""
    layer = _layer(name)
    if os.path.islink(layer) or (os.path.lexists(layer) and not os.path.isdir(layer)):
        os.unlink(layer)
    else:
        with contextlib.suppress(OSError):   # the old one, unless the lab unmounted it itself
            ns.umount(layer, follow=False)
    os.makedirs(layer, exist_ok=True)
    _tmpfs(layer, "755", "16m")   # as /var/lib's own: the lab's tmpfs space grows by little
    for folder in _overlay_dirs(name):
        os.mkdir(folder)


def reset_etc() -> None:
    """Throw away everything the lab wrote into /etc and start from the machine's again."""
    with contextlib.suppress(OSError):   # the overlay, unless the lab unmounted it itself
        ns.umount("/etc")
    _new_layer("etc")
    build_etc()


def build_var_lib() -> None:
    """An overlay over the machine's /var/lib, where tools keep their state (CNI's host-local
    makes /var/lib/cni), and over it an empty tmpfs at CNI_STATE: the machine's own CNI leases
    never show through, and what the lab writes there is the lab's alone."""
    upper, work = _overlay_dirs("var-lib")
    try:
        ns.mount("overlay", "/var/lib", "overlay", 0, f"lowerdir=/var/lib,upperdir={upper},workdir={work}")
    except OSError:   # a /var/lib the overlay cannot stack on (hidden, or missing): one of its own
        _tmpfs("/var/lib", "755", "16m")
    os.makedirs(CNI_STATE, exist_ok=True)
    _tmpfs(CNI_STATE, "755", "16m")


def reset_var_lib() -> None:
    """Throw away everything the lab wrote into /var/lib (CNI leases included)."""
    for target in (CNI_STATE, "/var/lib"):
        with contextlib.suppress(OSError):   # unless the lab unmounted it itself
            ns.umount(target)
    _new_layer("var-lib")
    build_var_lib()


def build_proc() -> None:
    """Fresh /proc for the lab's PID namespace (`remount_sys` does /sys).

    Only /proc/sys/net stays writable: sysctls outside it are the machine's, not the lab's.
    (Were these binds undone, the lab's root is still an unprivileged id on the machine, which
    the kernel does not let write the machine's sysctls.)
    """
    ns.mount("proc", "/proc", "proc", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC)
    for path in ("/proc/sys", "/proc/sysrq-trigger"):
        if not os.path.exists(path):
            continue
        ns.mount(path, path, None, ns.MS_BIND)
        ns.mount(None, path, None, ns.MS_REMOUNT | ns.MS_BIND | _RO)
    ns.mount("/proc/sys/net", "/proc/sys/net", None, ns.MS_BIND)
    ns.mount(None, "/proc/sys/net", None, ns.MS_REMOUNT | ns.MS_BIND
             | ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC)


def restore_proc() -> None:
    """Mount the lab's /proc again if the lab unmounted or covered it (a reset undoes that)."""
    if ns.proc_is_mounted():
        return
    build_proc()
    ns.hold_proc()


def remount_sys(first: bool = False) -> None:
    """A /sys describing the agent's current network namespace (sysfs binds it at mount time).

    Read-only; `ip netns exec` mounts its own per-namespace /sys over it.
    """
    if not first:
        ns.umount("/sys")
    ns.mount("sysfs", "/sys", "sysfs", _RO)


BASHRC = """# netns-tutor lab shell
PS1='\\u@\\h:\\w\\$ '
alias ls='ls --color=auto'
"""


def _lab_python(python: str) -> str | None:
    """A python the lab can run (this runs inside the lab's view): the agent's own, unless it
    lives where the lab cannot see (a pyenv under /root), else the machine's."""
    for candidate in (python, "/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


# Read now: the agent imports this module before it covers /tmp and /root with the lab's own.
with open(tcpdump_shim.__file__, encoding="utf-8") as _shim_file:
    _TCPDUMP_SHIM = _shim_file.read()


def write_helpers(python: str) -> None:
    """`lan`, `internet` (each world machine's name) on the lab host run a command line there;
    `tcpdump` runs the machine's tcpdump as the lab's root (see `tutor.lab.tcpdump_shim`)."""
    _write(f"{LAB_RUN}/bashrc", BASHRC)
    real = tools.which("tcpdump", path="/usr/sbin:/usr/bin:/sbin:/bin")
    lab_python = _lab_python(python)
    if real and lab_python:   # else `tcpdump` fails as the machine's would, which `tutor doctor` explains
        # The shim is copied into the lab: the checkout may sit where the lab cannot see (/root,
        # /tmp), so its text was read when this module was imported, outside the lab.
        shim = f"{LAB_RUN}/tcpdump_shim.py"
        _write(shim, _TCPDUMP_SHIM)
        # BIN_DIR is first in every lab PATH (client.LAB_PATH), and `ip netns exec` keeps it.
        # -I: nothing in the lab's environment chooses what this python imports.
        _write(f"{BIN_DIR}/tcpdump",
               "#!/bin/sh\n"
               "# The machine's tcpdump, made able to capture as the lab's root.\n"
               f'exec {shlex.quote(lab_python)} -I {shim} {shlex.quote(real)} "$@"\n', 0o755)
    for node in world.NODE_NAMES:
        _write(f"{BIN_DIR}/{node}",
               "#!/bin/sh\n"
               f"# Run a command on the simulated {node} machine of the lab.\n"
               f'[ $# -gt 0 ] || set -- bash\n'
               f'exec nsenter --net={WORLD_DIR}/{node} -- "$@"\n', 0o755)
