"""The lab's door: where a lab's control socket lives, and how each end knows the other.

A lab is driven through a Unix socket, `<dir>/<name>.sock`, in a folder only its owner can
enter (mode 0700, owned by the user; refused when it is anything else):

- `$XDG_RUNTIME_DIR/netns-tutor` when that is a private folder of ours under /run (every lab
  covers /run with its own, so nothing inside a lab can reach the socket by its path);
- else `/run/netns-tutor` for root, `/tmp/netns-tutor-UID` for anyone else (a lab covers /tmp
  too; /tmp is sticky, so once the folder is ours nobody can swap it).

The folder's permissions keep other accounts out: a socket in it can neither be squatted nor
connected to by them. Each end then checks the other with SO_PEERCRED: the client accepts only
a listener whose uid is ours (or, for root, one of the unprivileged ids root's labs run as) and
takes the agent's PID from the kernel, never from the reply; the agent serves only clients
outside its lab (see `tutor.lab.agent`).

Root's labs each run as their own unprivileged id from `LAB_UIDS`, leased with a lock file held
for the agent's life, so no two labs share per-user kernel limits.

Standard library only: `tutor verify` and `tutor shell` import this on every call.
"""

from __future__ import annotations

import os
import socket
import stat
import struct

from tutor.i18n import Msg
from tutor.safefile import N_

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
MAX_NAME = 64
# Ids no account, no subordinate-id range (/etc/subuid starts at 100000, 65536 at a time) and no
# systemd-nspawn container range (up to 0x6FFFFFFF) uses.
LAB_UIDS = range(2_000_000_000, 2_000_000_000 + 65536)


# The namespaces the agent hands over for `enter`, in this order (nsenter's option names but
# for "mnt", which it calls --mount).
NAMESPACES = ("user", "mnt", "net", "uts", "ipc", "pid")


class LabError(Exception):
    """A lab problem worth one clear sentence to the user (exit code 2)."""


# What an agent says when it refuses a request or cannot start. It sends the English sentence and
# its words (`refusal`); the client says it in the student's language (`heard`), for these
# templates only: nothing else that comes from the agent is taken for a template.
REFUSALS = frozenset({
    N_("this lab answers only its owner"),
    N_("bad request ({why})"),
    N_("the reset could not rebuild the lab's world ({why}); stop the lab (tutor lab down) and start it again"),
    N_("unknown request {op}"),
    N_("there is no namespace {netns} to serve from"),
    N_("the lab {name} is already running"),
    N_("cannot create the lab's namespaces in {mode} mode ({why})"),
    N_("setting up the lab failed: {why}"),
})


def refusal(template: str, **params: object) -> dict:
    """An agent's answer refusing a request: the sentence (`error`) and its words (`said`)."""
    words = {k: str(v) for k, v in params.items()}
    return {"ok": False, "error": template.format(**words), "said": [template, words]}


def heard(reply: dict) -> str:
    """What a refusing agent said, in the student's language when its words are known (a Msg)."""
    said = reply.get("said")
    if (isinstance(said, list) and len(said) == 2 and said[0] in REFUSALS and isinstance(said[1], dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in said[1].items())):
        try:
            return Msg(said[0], **said[1])
        except (KeyError, IndexError, ValueError):
            pass
    return str(reply.get("error", "the lab refused the request"))


def check_name(name: str) -> str:
    """`name` if it can name a lab (it becomes a file name), else LabError."""
    if not name or len(name) > MAX_NAME or not set(name) <= NAME_CHARS or name[0] in ".-":
        raise LabError(Msg("{name!r} cannot name a lab: use up to {most} letters, digits, "
                           "'.', '_' or '-', not starting with '.' or '-'", name=name, most=MAX_NAME))
    return name


def folder(uid: int | None = None) -> str:
    """The folder holding this user's lab sockets (it may not exist yet)."""
    uid = os.getuid() if uid is None else uid
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    # Only under /run: a lab hides the machine's /run (and /tmp), so nothing in a lab sees it.
    if runtime.startswith("/run/") and _private(runtime, uid):
        return os.path.join(runtime, "netns-tutor")
    return "/run/netns-tutor" if uid == 0 else f"/tmp/netns-tutor-{uid}"


def _private(path: str, uid: int) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o077


def checked_folder(create: bool = False) -> str | None:
    """The socket folder after checking it is ours alone; None if it does not exist (and
    `create` is false). LabError when another account owns it or can enter it."""
    path, uid = folder(), os.getuid()
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise LabError(Msg("cannot create the lab folder {path} ({why})", path=path, why=exc.strerror)) from None
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077:
        what = Msg("not a folder") if not stat.S_ISDIR(st.st_mode) else \
            Msg("owned by uid {uid} with mode {mode}", uid=st.st_uid, mode=f"{stat.S_IMODE(st.st_mode):o}")
        raise LabError(Msg("{path} is {what}, not a private folder of yours: another account may "
                           "have put it there; remove it (labs refuse to use it)", path=path, what=what))
    return path


def socket_path(name: str, folder_path: str) -> str:
    """The control socket of lab `name` in `folder_path`."""
    return f"{folder_path}/{check_name(name)}.sock"


def peer(sock: socket.socket) -> tuple[int, int]:
    """(pid, uid) of the process at the other end of a connected Unix socket, as the kernel
    recorded them (for a listener: when it called listen)."""
    pid, uid, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return pid, uid


def is_agent_uid(uid: int) -> bool:
    """Can a lab agent of ours run as `uid`? Our own id; for root, the ids of root's labs."""
    me = os.getuid()
    return uid == me or (me == 0 and uid in LAB_UIDS)


def lease_uid(folder_path: str) -> tuple[int, int]:
    """An id from LAB_UIDS no running lab of root uses, and the descriptor whose lock holds it.

    The lock lasts as long as any process holds the descriptor (the agent, for its life)."""
    import fcntl
    leases = f"{folder_path}/uids"
    os.makedirs(leases, mode=0o700, exist_ok=True)
    for uid in LAB_UIDS:   # the first free one: as many lease files as labs ever ran at once
        fd = os.open(f"{leases}/{uid}", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return uid, fd
    raise LabError(Msg("every id for root's labs is taken"))
