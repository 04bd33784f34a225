"""`tcpdump` inside a lab: the real tcpdump, made able to start where the lab's root is the only id.

Debian's tcpdump, started as root, opens the capture and then drops to the `tcpdump` user:
`initgroups("tcpdump")`, `setgid`, `setuid`. In a lab that fails in both modes:
- the lab's user namespace maps one id, the lab's root; `tcpdump` (uid 102 or so) is not
  mapped, so setgid/setuid to it cannot succeed;
- `/proc/self/setgroups` is `deny` there (the kernel demands it for a rootless map, and root
  mode keeps it so the lab cannot shed groups that the machine's permissions deny), so the
  `setgroups` inside `initgroups` fails with EPERM even for `-Z root`:
  "Couldn't change to 'tcpdump' uid=103 gid=106: Operation not permitted".

So this shim (run by /run/tutor/bin/tcpdump, first in the lab's PATH) does two things and then
execs the machine's tcpdump:
1. `-Z root` goes first in its arguments: it "drops" to the lab's root, which the lab's root
   already is. A `-Z USER` the student gives comes later and wins (tcpdump keeps the last).
2. A seccomp filter makes `setgroups` a no-op that succeeds, for this process and its children
   only. Nothing is gained by it: setgroups is refused in the lab anyway, and the process keeps
   the groups it has, all of them ids of the lab.

Neither weakens the lab (SECURITY.md): tcpdump runs as the lab's root, an unprivileged id on the
machine, in the lab's namespaces, as every other command there does. It writes nothing but its
output, so an AppArmor profile that confines /usr/bin/tcpdump's files (Debian's) does not stand
in its way. Standard library only: it starts inside the lab.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys

# seccomp's audit arch and the setgroups syscall number, for the machines the lab runs on.
_SETGROUPS = {"x86_64": (0xC000003E, 116), "aarch64": (0xC00000B7, 159)}
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000   # RET_ERRNO with errno 0: returns 0
_LD_W_ABS, _JEQ_K, _RET_K = 0x20, 0x15, 0x06


def _filter(arch: int, nr: int) -> bytes:
    """A classic-BPF seccomp program: setgroups of `arch` returns 0; everything else runs."""
    insns = [
        (_LD_W_ABS, 0, 0, 4),        # seccomp_data.arch
        (_JEQ_K, 0, 3, arch),        # another ABI: allow
        (_LD_W_ABS, 0, 0, 0),        # seccomp_data.nr
        (_JEQ_K, 0, 1, nr),
        (_RET_K, 0, 0, _RET_ERRNO),  # setgroups: "done"
        (_RET_K, 0, 0, _RET_ALLOW),
    ]
    return b"".join(struct.pack("HBBI", *insn) for insn in insns)


def ignore_setgroups() -> bool:
    """Install the filter in this process; False where the machine is not one we know."""
    known = _SETGROUPS.get(os.uname().machine)
    if known is None:
        return False
    program = ctypes.create_string_buffer(_filter(*known))
    fprog = struct.pack("HxxxxxxP", len(program.raw) // 8, ctypes.addressof(program))
    fprog_buf = ctypes.create_string_buffer(fprog)
    libc = ctypes.CDLL(None, use_errno=True)
    # The lab's root holds CAP_SYS_ADMIN in the lab's user namespace, which is what the kernel
    # asks of a filter without no_new_privs (and no_new_privs could stop AppArmor's transition).
    return libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, fprog_buf, 0, 0) == 0


def main(argv: list[str]) -> int:
    """`tcpdump_shim.py REAL_TCPDUMP ARG…`: exec it as the lab's root (see the module's docstring)."""
    if not argv:
        print("usage: tcpdump_shim.py REAL_TCPDUMP [ARG...]", file=sys.stderr)
        return 2
    # Without the filter tcpdump still runs, and its own error then says what failed.
    ignore_setgroups()
    os.execv(argv[0], [argv[0], "-Z", "root", *argv[1:]])
    return 126   # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
