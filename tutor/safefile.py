"""Reading and writing the small files tutor keeps or is handed, without trusting them.

The files: progress and config (the student's), the parsed-lesson cache, `tutor report`'s
inputs, lesson files. Any of them may be a FIFO (open would block), a link to /dev/zero
(read would fill memory), huge, or placed by another account in a folder it can write (see
DESIGN.md, "Threat model"). So a read opens without blocking, takes only a regular file, and
reads at most `limit` bytes; it follows no symlink unless asked; with `trusted=True` the file and
every folder above it must be the user's own (a folder may also be root's), and none may be
writable by others unless it is sticky (as /tmp is: then only a name's owner can replace it).
A write is atomic and private: a 0600 file in a 0700 folder, renamed over the old one. A
hand-in (`write_shared`) is atomic too, into a folder shared with other accounts, and never
replaces a name another account holds.

Only `os` is imported (it brings `stat` and `errno`): `tutor reset` reads the lesson cache through here.
"""

from __future__ import annotations

import errno
import os
import stat

# Progress, config and report inputs are a few KB; a lesson file some tens of KB. 1 MiB leaves
# room for any real one and bounds what a bad one can cost.
SMALL = 1 << 20


def N_(template: str) -> str:
    """Marks a sentence for the message catalogs: `tutor.i18n.said` translates it where it is
    shown (this module imports no other part of tutor)."""
    return template


class UnsafeFile(OSError):
    """A file refused before (or while) reading it; str() is one sentence about it (English).
    `template` and `params` are that sentence's words for the catalogs (`tutor.i18n.said`)."""

    def __init__(self, path: str, why: str, **params: object):
        text = why.format(**params)
        super().__init__(text)
        self.path, self.why, self.strerror = path, text, text
        self.template, self.params = why, params

    def __str__(self) -> str:
        return f"{self.path} {self.why}"


class Untrusted(UnsafeFile):
    """The file, or a folder above it, could have been placed by another account."""


def _trust_folders(path: str, folder: str | None = None) -> None:
    """Raise Untrusted unless the folders holding `path` are the user's (or root's) alone.

    `folder`: check from there up instead (an ancestor, before folders are made in it).
    Both the path as written and as resolved are walked: an account that can write a folder
    on either could swap in a file (or a link) of its own."""
    me = os.geteuid()
    first = folder or os.path.dirname(os.path.abspath(path))
    seen = set()
    for start in (first, os.path.realpath(first)):
        own = folder is None
        while start not in seen:
            seen.add(start)
            st = os.stat(start)
            # The file's own folder must be the user's; above it, root's is fine too.
            if st.st_uid != me and (own or st.st_uid != 0):
                raise Untrusted(path, N_("is in {folder}, which belongs to another account (uid {uid})"),
                                folder=start, uid=st.st_uid)
            if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
                raise Untrusted(path, N_("is in {folder}, which other accounts can write to"), folder=start)
            start, own = os.path.dirname(start), False


def read_bytes(path: str | os.PathLike[str], limit: int = SMALL, *, trusted: bool = True,
               follow: bool = False) -> bytes:
    """The contents of the regular file `path`, at most `limit` bytes.

    FileNotFoundError if it is missing; UnsafeFile if it is not a regular file, is larger than
    `limit`, is a symlink (unless `follow`), or (`trusted`) is not the user's own in folders
    that are (Untrusted); other OSErrors as they come.
    """
    path = os.fspath(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    if trusted:
        _trust_folders(path)
    if not follow:    # a link could point anywhere (/etc/shadow, read as root): not followed
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if not follow and exc.errno == errno.ELOOP:   # what O_NOFOLLOW says of a symlink
            raise UnsafeFile(path, N_("is a symbolic link, not a file")) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFile(path, N_("is not a regular file"))
        if trusted and st.st_uid != os.geteuid():
            raise Untrusted(path, N_("belongs to another account (uid {uid})"), uid=st.st_uid)
        if st.st_size > limit:
            raise UnsafeFile(path, N_("is larger than {size}"), size=_size(limit))
        chunks, size = [], 0
        while size <= limit:          # the file may grow while it is read
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise UnsafeFile(path, N_("is larger than {size}"), size=_size(limit))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def loads_json(data: bytes) -> object:
    """JSON from bytes; ValueError (never RecursionError) for anything that is not JSON."""
    import json
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:   # `[[[[…` deeper than the interpreter's stack allows
        raise ValueError("it is nested too deeply to be a tutor file") from None


def read_json(path: str | os.PathLike[str], limit: int = SMALL, *, trusted: bool = True,
              follow: bool = False) -> object:
    """`read_bytes` then `loads_json`: OSError (UnsafeFile…) to read, ValueError to parse."""
    return loads_json(read_bytes(path, limit, trusted=trusted, follow=follow))


def write_private(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace `path` with `data` atomically: a 0600 temporary file in the same folder (made
    0700 if missing), synced, then renamed. Untrusted if the folder is not the user's own."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        # Make nothing in a folder that is not ours: root (sudo -E) would leave a root-owned
        # folder in the student's home that the student's own runs then refuse.
        existing = folder
        while not os.path.isdir(existing):
            existing = os.path.dirname(existing)
        _trust_folders(path, existing)
        os.makedirs(folder, mode=0o700, exist_ok=True)
    _trust_folders(path)
    _replace(path, data, 0o600)


def _replace(path: str, data: bytes, mode: int, just_before=None) -> None:
    """Write `data` to a new temporary file with `mode` beside `path`, sync it, call
    `just_before()` (if given), then rename it over `path`; the temporary file never stays."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}-{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        try:
            os.fchmod(fd, mode)   # whatever the umask took away
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if just_before is not None:
            just_before()
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_shared(path: str | os.PathLike[str], data: bytes, mode: int = 0o640) -> None:
    """Put `data` at `path` in a folder other accounts share (a class drop folder), atomically:
    a temporary file with `mode`, then renamed over our own earlier one.

    FileNotFoundError if the folder is missing; UnsafeFile if `path` is held by another account
    or is not a regular file (it is never replaced), or if others can write the folder and it is
    not sticky (then anyone could replace the file later)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    st = os.stat(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeFile(folder, N_("is not a folder"))
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX \
            and st.st_uid != os.geteuid():
        raise Untrusted(folder, N_("can be written by other accounts but is not sticky (chmod +t)"))
    _refuse_others(path)
    try:
        # root may rename over anyone's file: look again just before
        _replace(path, data, mode, just_before=lambda: _refuse_others(path))
    except PermissionError:   # a sticky folder: the name is another account's
        raise UnsafeFile(path, N_("belongs to another account")) from None


def _refuse_others(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFile(path, N_("is not a regular file; it was left as it is"))
    if st.st_uid != os.geteuid():
        raise UnsafeFile(path, N_("belongs to another account (uid {uid}); it was left as it is"), uid=st.st_uid)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
