"""`tutor doctor` and the lab's mode decision, from injected kernel readings (user namespaces
cannot be switched off here: user.max_user_namespaces=0 is machine-wide and would stop every
other lab on the machine)."""

from __future__ import annotations

import os
import shutil

import pytest

from tutor.lab import doctor
from tutor.lab.doctor import Userns, decide_mode

ON = Userns(True, "15000", None, None)
MAX_ZERO = Userns(True, "0", None, None)                 # user namespaces off for everyone
CLONE_OFF = Userns(True, "15000", "0", None)             # Debian's unprivileged switch off
APPARMOR = Userns(True, "15000", None, "1")              # Ubuntu 23.10+
NO_KERNEL = Userns(False, None, None, None)


@pytest.mark.parametrize("readings", [MAX_ZERO, NO_KERNEL], ids=["max0", "nokernel"])
@pytest.mark.parametrize("root", [True, False])
def test_when_nobody_can_doctor_never_suggests_sudo(readings, root):
    f = doctor._mode_finding(readings, root=root, forced="")
    assert not f.ok and "sudo" not in f.fix.replace("sudo sysctl", "")
    assert "even as root" in f.detail


@pytest.mark.parametrize("readings", [CLONE_OFF, APPARMOR], ids=["clone0", "apparmor"])
def test_when_only_unprivileged_users_are_stopped_root_is_not_said_to_need_one(readings):
    f = doctor._mode_finding(readings, root=False, forced="")
    assert not f.ok
    assert "even as root" not in f.detail and "root can still run a lab" in f.detail
    assert "run tutor with sudo" in f.fix
    as_root = doctor._mode_finding(readings, root=True, forced="")
    assert as_root.ok and as_root.detail.startswith("root:")


def test_forced_rootless_as_root_with_unprivileged_off_says_how_out():
    f = doctor._mode_finding(CLONE_OFF, root=True, forced="rootless")
    assert not f.ok and "unset TUTOR_LAB_MODE" in f.fix


@pytest.mark.parametrize("readings, root, forced, mode", [
    (ON, False, "", "rootless"), (ON, True, "", "rootless"), (CLONE_OFF, True, "", "root"),
    (APPARMOR, True, "", "root"), (ON, True, "root", "root"), (ON, False, "rootless", "rootless"),
])
def test_decide_mode_picks(readings, root, forced, mode):
    assert decide_mode(forced, root, readings) == (mode, "")


@pytest.mark.parametrize("readings, root, forced, says", [
    (MAX_ZERO, False, "rootless", "TUTOR_LAB_MODE=rootless needs unprivileged user namespaces, "
                                  "but user.max_user_namespaces is 0"),
    (MAX_ZERO, True, "rootless", "user.max_user_namespaces is 0"),
    (CLONE_OFF, True, "rootless", "unset it to start the lab in root mode"),
    (MAX_ZERO, True, "", "even for root: user.max_user_namespaces is 0"),
    (MAX_ZERO, False, "", "even for root"),
    (CLONE_OFF, False, "", "run tutor with sudo"),
    (ON, False, "root", "TUTOR_LAB_MODE=root needs root"),
])
def test_decide_mode_refuses_in_one_sentence(readings, root, forced, says):
    mode, why = decide_mode(forced, root, readings)
    assert mode is None and says in why
    assert "\n" not in why and "No space left" not in why
    if readings is MAX_ZERO:
        assert "sudo" not in why


def test_forced_rootless_with_userns_off_is_one_sentence_exit_2(monkeypatch, capsys, tmp_path):
    """`TUTOR_LAB_MODE=rootless tutor lab up` with user namespaces off: the decision is taken
    before any agent starts, so the kernel's ENOSPC never reaches the student."""
    from tutor import cli
    monkeypatch.setenv("TUTOR_LAB_MODE", "rootless")
    monkeypatch.setenv("TUTOR_LAB", f"doctor-test-{os.getpid()}")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setattr(doctor, "read_userns", lambda: MAX_ZERO)
    assert cli.main(["lab", "up"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "TUTOR_LAB_MODE=rootless needs unprivileged user namespaces" in err


def test_iptables_backend_is_found_without_sbin_on_path(monkeypatch):
    """A plain Debian user's PATH has no /usr/sbin; doctor must still find iptables there."""
    if shutil.which("iptables", path="/usr/sbin:/sbin") is None:
        pytest.skip("iptables is not installed here")
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
    assert doctor.iptables_backend() in ("nf_tables", "legacy")
