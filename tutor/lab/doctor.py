"""`tutor doctor`: can a lab run on this machine, in which mode, and what is missing.

Every finding is read from the machine itself (sysctls, /proc, PATH); nothing is guessed.
"""

from __future__ import annotations

import os
from collections import namedtuple

from tutor.i18n import Msg, _, in_lang, lang
from tutor.lab.tools import FOR_LESSON, TOOLS, which

KERNEL_FEATURES = {  # /proc path that exists when the kernel has the feature
    Msg("network namespaces"): "/proc/self/ns/net",
    Msg("user namespaces"): "/proc/self/ns/user",
    Msg("PID namespaces"): "/proc/self/ns/pid",
    Msg("UTS namespaces"): "/proc/self/ns/uts",
}


# Named tuples, not dataclasses: every lab's start reads the mode decision below, and
# `dataclasses` (with `inspect`) cost each start ~12 ms (issue 15; world.py says the same).
# For the same reason `subprocess` (~5 ms) is imported by the report alone, and tools are
# found by `tools.which`, not shutil's: selftest forks its lab right after that decision.
class Finding(namedtuple("Finding", "name ok detail fix fatal", defaults=("", True))):
    """One line of the report: what was checked, whether it is fine, and what to do if not.
    Words are Msgs (str: the English), said in the course's language by `report`."""
    __slots__ = ()


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


class Userns(namedtuple("Userns", "exists max_namespaces unprivileged_clone apparmor_restrict")):
    """What the kernel says about user namespaces: the readings the mode decisions rest on
    (None where the sysctl does not exist on this kernel)."""
    __slots__ = ()


def read_userns() -> Userns:
    """This machine's readings."""
    return Userns(os.path.exists("/proc/self/ns/user"), _read("/proc/sys/user/max_user_namespaces"),
                  _read("/proc/sys/kernel/unprivileged_userns_clone"),
                  _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"))


def userns_problem(unprivileged: bool = False, readings: Userns | None = None,
                   euid: int | None = None) -> str | None:
    """Why this user (or, with `unprivileged`, any unprivileged user) cannot create a user
    namespace here, or None when it can. Both modes need one: it is what keeps the lab's root
    from being the machine's. `readings` and `euid` default to this machine's and this process's."""
    r = readings or read_userns()
    if not r.exists:
        return Msg("the kernel has no user namespaces")
    if r.max_namespaces == "0":
        return Msg("user.max_user_namespaces is 0")
    if unprivileged or (os.geteuid() if euid is None else euid) != 0:
        if r.unprivileged_clone == "0":
            return Msg("kernel.unprivileged_userns_clone is 0 (unprivileged user namespaces are off)")
        if r.apparmor_restrict == "1":
            return Msg("AppArmor restricts unprivileged user namespaces "
                       "(kernel.apparmor_restrict_unprivileged_userns=1)")
    return None


def decide_mode(forced: str, root: bool, readings: Userns) -> tuple[str | None, str]:
    """The mode a lab starts in ("rootless" or "root") and "", or None and the one sentence why
    no lab can start. `forced` is $TUTOR_LAB_MODE; `root`, whether we are root."""
    anyone = userns_problem(unprivileged=True, readings=readings)
    for_root = userns_problem(readings=readings, euid=0)
    if forced == "rootless":
        if anyone is None:
            return "rootless", ""
        hint = Msg("unset it to start the lab in root mode") if root and for_root is None else \
            Msg("unset it, or allow unprivileged user namespaces (see `tutor doctor`)")
        return None, Msg("TUTOR_LAB_MODE=rootless needs unprivileged user namespaces, but {why}: {hint}",
                         why=anyone, hint=hint)
    if forced == "root":
        if not root:
            return None, Msg("TUTOR_LAB_MODE=root needs root: unset it, or run tutor with sudo")
        if for_root is None:
            return "root", ""
        return None, Msg("this machine cannot run a lab even for root: {why}; run `tutor doctor`", why=for_root)
    if anyone is None:
        return "rootless", ""
    if root and for_root is None:
        return "root", ""
    if for_root is not None:
        return None, Msg("this machine cannot run a lab even for root: {why}; run `tutor doctor`", why=for_root)
    return None, Msg("this machine cannot run a lab for you: {why}; run tutor with sudo, "
                     "or see `tutor doctor`", why=anyone)


def iptables_backend() -> str:
    """`nf_tables` or `legacy`, as `iptables -V` reports it."""
    import subprocess
    # iptables is in /usr/sbin, which a plain user's PATH on Debian lacks
    found = which("iptables")
    if found is None:
        return Msg("unknown (iptables not found)")
    try:
        out = subprocess.run([found, "-V"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return Msg("unknown")
    return "nf_tables" if "nf_tables" in out else "legacy" if "legacy" in out else out.strip() or Msg("unknown")


def findings() -> list[Finding]:
    """Everything `tutor doctor` reports, in order."""
    out = [Finding(Msg("kernel: {feature}", feature=feat), os.path.exists(path),
                   Msg("present") if os.path.exists(path) else Msg("missing"),
                   Msg("use a kernel built with namespaces (any Debian/Ubuntu kernel has them)"))
           for feat, path in KERNEL_FEATURES.items()]
    missing = sorted({pkg for cmd, pkg in TOOLS.items() if which(cmd) is None})
    for cmd, pkg in TOOLS.items():
        found = which(cmd)
        lesson = FOR_LESSON.get(cmd)
        detail = found or (Msg("not found (only lesson {lesson} needs it)", lesson=lesson) if lesson
                           else Msg("not found"))
        out.append(Finding(Msg("tool: {cmd}", cmd=cmd), found is not None, detail, f"sudo apt-get install {pkg}",
                           fatal=lesson is None and cmd in ("ip", "nsenter", "bash", "script")))
    if missing:
        out.append(Finding(Msg("packages"), False, Msg("missing: {packages}", packages=" ".join(missing)),
                           "sudo apt-get install -y " + " ".join(missing), fatal=False))
    out.append(_mode_finding())
    out.append(Finding(Msg("iptables backend"), True, iptables_backend()))
    from tutor.lab import limits
    for what, detail in limits.in_force(limits.configured()):
        out.append(Finding(Msg("limit: {what}", what=what), "not capped" not in detail, detail, fatal=False,
                           fix=Msg("start labs as root (sudo) to cap their memory too")))
    return out


def _mode_finding(readings: Userns | None = None, root: bool | None = None,
                  forced: str | None = None) -> Finding:
    """Which mode a lab would start in, and why (readings, root and $TUTOR_LAB_MODE injectable)."""
    r = readings or read_userns()
    root = os.geteuid() == 0 if root is None else root
    forced = os.environ.get("TUTOR_LAB_MODE", "") if forced is None else forced
    for_root, unprivileged = userns_problem(readings=r, euid=0), userns_problem(True, r)
    how = Msg(" (forced by TUTOR_LAB_MODE={mode})", mode=forced) if forced in ("root", "rootless") else ""
    enable = Msg("enable unprivileged user namespaces (sudo sysctl -w "
                 "kernel.unprivileged_userns_clone=1, or on Ubuntu "
                 "kernel.apparmor_restrict_unprivileged_userns=0)")
    mode = Msg("lab mode")
    if for_root is not None:   # nobody can, root included: sudo would not help
        fix = ("sudo sysctl -w user.max_user_namespaces=15000" if "max_user" in for_root
               else Msg("use a kernel built with user namespaces (CONFIG_USER_NS)"))
        return Finding(mode, False, Msg("none: {why}; even as root the lab needs a user "
                                        "namespace, so that its root is not this machine's root", why=for_root), fix)
    if forced == "root" and not root:
        return Finding(mode, False, Msg("root (forced by TUTOR_LAB_MODE=root), but you are not root"),
                       Msg("unset TUTOR_LAB_MODE or run tutor with sudo"))
    if forced == "rootless" or (forced != "root" and unprivileged is None):
        detail = Msg("rootless{how}: the lab is built in a user namespace owned by an id of its own, with "
                     "root powers over the lab only", how=how) if root else \
            Msg("rootless{how}: the lab is built in a user namespace owned by you, with root powers over the "
                "lab only", how=how)
        remedy: str = ""
        if unprivileged and root:
            remedy = Msg("{why}: {enable}, or unset TUTOR_LAB_MODE (root mode needs no unprivileged user namespace)",
                      why=unprivileged, enable=enable)
        elif unprivileged:
            remedy = Msg("{why}: {enable}", why=unprivileged, enable=enable)
        return Finding(mode, unprivileged is None, detail, remedy)
    if not root:   # unprivileged users are stopped; root is not
        return Finding(mode, False, Msg("none for you: {why}; root can still run a "
                                        "lab (root creates the lab's user namespace itself)", why=unprivileged),
                       Msg("{enable}, or run tutor with sudo", enable=enable))
    if unprivileged:
        return Finding(mode, True, Msg("root{how}: the lab is built by real root ({why}); inside it, its root is "
                                       "an unprivileged id of its own and the machine is read-only",
                                       how=how, why=unprivileged))
    return Finding(mode, True, Msg("root{how}: the lab is built by real root; inside it, its root is an "
                                   "unprivileged id of its own and the machine is read-only", how=how))


def report() -> tuple[str, bool]:
    """The printed report, in the course's language, and whether a lab can run here."""
    code = lang()
    lines, ok = [], True
    for f in findings():
        mark = "✓" if f.ok else ("✗" if f.fatal else "!")
        lines.append(f"{mark} {in_lang(f.name, code)}: {in_lang(f.detail, code)}")
        if not f.ok and f.fix:
            lines.append("    " + _("fix: {fix}").format(fix=in_lang(f.fix, code)))
        if not f.ok and f.fatal:
            ok = False
    lines.append(_("A lab can run here.") if ok else _("A lab cannot run here until the ✗ lines are fixed."))
    return "\n".join(lines), ok
