"""`tutor doctor`: can a lab run on this machine, in which mode, and what is missing.

Every finding is read from the machine itself (sysctls, /proc, PATH); nothing is guessed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from tutor.lab.tools import FOR_LESSON, TOOLS, sbin_path

KERNEL_FEATURES = {  # /proc path that exists when the kernel has the feature
    "network namespaces": "/proc/self/ns/net",
    "user namespaces": "/proc/self/ns/user",
    "PID namespaces": "/proc/self/ns/pid",
    "UTS namespaces": "/proc/self/ns/uts",
}


@dataclass
class Finding:
    """One line of the report: what was checked, whether it is fine, and what to do if not."""
    name: str
    ok: bool
    detail: str
    fix: str = ""
    fatal: bool = True


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def userns_problem(unprivileged: bool = False) -> str | None:
    """Why this user (or, with `unprivileged`, any unprivileged user) cannot create a user
    namespace here, or None when it can. Both modes need one: it is what keeps the lab's root
    from being the machine's."""
    if not os.path.exists("/proc/self/ns/user"):
        return "the kernel has no user namespaces"
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        return "user.max_user_namespaces is 0"
    if unprivileged or os.geteuid() != 0:
        if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
            return "kernel.unprivileged_userns_clone is 0 (unprivileged user namespaces are off)"
        if _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
            return "AppArmor restricts unprivileged user namespaces " \
                   "(kernel.apparmor_restrict_unprivileged_userns=1)"
    return None


def iptables_backend() -> str:
    """`nf_tables` or `legacy`, as `iptables -V` reports it."""
    try:
        out = subprocess.run(["iptables", "-V"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return "nf_tables" if "nf_tables" in out else "legacy" if "legacy" in out else out.strip() or "unknown"


def findings() -> list[Finding]:
    """Everything `tutor doctor` reports, in order."""
    out = [Finding(f"kernel: {feat}", os.path.exists(path), "present" if os.path.exists(path) else
                   "missing", "use a kernel built with namespaces (any Debian/Ubuntu kernel has them)")
           for feat, path in KERNEL_FEATURES.items()]
    missing = sorted({pkg for cmd, pkg in TOOLS.items() if shutil.which(cmd, path=sbin_path()) is None})
    for cmd, pkg in TOOLS.items():
        found = shutil.which(cmd, path=sbin_path())
        lesson = FOR_LESSON.get(cmd)
        detail = found or ("not found" + (f" (only lesson {lesson} needs it)" if lesson else ""))
        out.append(Finding(f"tool: {cmd}", found is not None, detail, f"sudo apt-get install {pkg}",
                           fatal=lesson is None and cmd in ("ip", "nsenter", "bash", "script")))
    if missing:
        out.append(Finding("packages", False, "missing: " + " ".join(missing),
                           "sudo apt-get install -y " + " ".join(missing), fatal=False))
    out.append(_mode_finding())
    out.append(Finding("iptables backend", True, iptables_backend()))
    from tutor.lab import limits
    for line in limits.in_force(limits.configured()):
        what, _, detail = line.partition(": ")
        out.append(Finding(f"limit: {what}", "not capped" not in detail, detail, fatal=False,
                           fix="start labs as root (sudo) to cap their memory too"))
    return out


def _mode_finding() -> Finding:
    """Which mode a lab would start in, and why."""
    root = os.geteuid() == 0
    problem, unprivileged = userns_problem(), userns_problem(unprivileged=True)
    forced = os.environ.get("TUTOR_LAB_MODE", "")
    how = f" (forced by TUTOR_LAB_MODE={forced})" if forced in ("root", "rootless") else ""
    enable = ("enable unprivileged user namespaces (sudo sysctl -w "
              "kernel.unprivileged_userns_clone=1, or on Ubuntu "
              "kernel.apparmor_restrict_unprivileged_userns=0)")
    if problem is not None:
        fix = "sudo sysctl -w user.max_user_namespaces=15000" if "max_user" in problem else enable
        if not root:
            fix += ", or run tutor with sudo"
        return Finding("lab mode", False, f"none: {problem}; even as root the lab needs a user "
                       "namespace, so that its root is not this machine's root", fix)
    if forced == "root" and not root:
        return Finding("lab mode", False, "root (forced by TUTOR_LAB_MODE=root), but you are "
                       "not root", "unset TUTOR_LAB_MODE or run tutor with sudo")
    if forced == "rootless" or (forced != "root" and unprivileged is None):
        who = "an id of its own" if root else "you"
        return Finding("lab mode", unprivileged is None, f"rootless{how}: the lab is built in a "
                       f"user namespace owned by {who}, with root powers over the lab only",
                       f"{unprivileged}: {enable}" if unprivileged else "")
    why = f" ({unprivileged})" if unprivileged else ""
    return Finding("lab mode", True, f"root{how}: the lab is built by real root{why}; inside "
                   "it, its root is an unprivileged id of its own and the machine is read-only")


def report() -> tuple[str, bool]:
    """The printed report and whether a lab can run here."""
    lines, ok = [], True
    for f in findings():
        mark = "✓" if f.ok else ("✗" if f.fatal else "!")
        lines.append(f"{mark} {f.name}: {f.detail}")
        if not f.ok and f.fix:
            lines.append(f"    fix: {f.fix}")
        if not f.ok and f.fatal:
            ok = False
    lines.append("A lab can run here." if ok else "A lab cannot run here until the ✗ lines are fixed.")
    return "\n".join(lines), ok
