"""The lab's door opens only for its owner (SECURITY.md): each test is one way in that a
reviewer found open, tried again as an attacker would — another local account, a process
inside the lab, a forged or reused PID, a hostile request.

Other accounts are spare uids that no account uses (`labkit.plain_user`): the tests need root
to become them and skip otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import threading

import pytest

from labkit import REPO, TUTOR, alive, lab_socket, listening_sockets, plain_user, run_ok, running, wait_until
from tutor.lab import client, control, door, lifecycle

pytestmark = pytest.mark.lab


def other_account(skip: tuple[int, ...] = ()) -> tuple[int, list[str], dict[str, str]]:
    found = plain_user(skip)
    if found is None:
        pytest.skip("needs root, to act as a second account")
    return found


def tutor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([TUTOR, *args], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, env=env)


CONNECT = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as exc:
    print(type(exc).__name__); sys.exit(0)
s.sendall(json.dumps({"op": "stop"}).encode() + b"\\n")
print("connected", s.recv(4096))
"""


def test_the_socket_is_a_file_in_a_private_folder(mode, lab_name):
    lifecycle.up(lab_name)
    path = lab_socket(lab_name)
    folder = os.lstat(os.path.dirname(path))
    assert stat.S_ISDIR(folder.st_mode) and folder.st_uid == os.getuid()
    assert stat.S_IMODE(folder.st_mode) == 0o700
    assert path in listening_sockets()
    # no abstract name any account could have bound first (finding 1)
    assert not [s for s in listening_sockets() if s.startswith("@netns-tutor") and lab_name in s]


def test_a_squatter_on_the_old_abstract_name_changes_nothing(lab_name):
    """Finding 1: another account bound `\\0netns-tutor/0/NAME` first and answered `status`
    with a PID on the machine; root's `tutor shell` then ran on the machine."""
    uid, python_as, env = other_account()
    squat = ("import json, socket, os\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             f"s.bind('\\0netns-tutor/{os.getuid()}/{lab_name}'); s.listen(8); print('ready', flush=True)\n"
             "while True:\n"
             "    c, _ = s.accept(); c.recv(4096)\n"
             "    c.sendall(json.dumps({'ok': True, 'pid': os.getpid(), 'mode': 'root', "
             f"'name': '{lab_name}', 'namespaces': []}}).encode() + b'\\n'); c.close()\n")
    squatter = subprocess.Popen(python_as + ["-c", squat], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert squatter.stdout is not None and squatter.stdout.readline().strip() == "ready"
        up = tutor("lab", "up")
        assert up.returncode == 0 and "started" in up.stdout, up.stdout + up.stderr
        marker = f"/tmp/squat-{lab_name}"
        shell = tutor("shell", "-c", f"touch {marker}; hostname")
        assert shell.returncode == 0 and shell.stdout.strip() == "lab", shell.stderr
        assert not os.path.exists(marker), "the shell ran on the machine"
    finally:
        squatter.kill()
        squatter.wait()


def test_another_account_cannot_reach_roots_lab(mode, lab_name):
    """Finding 2: another account sent {"op": "stop"} and root's lab stopped."""
    info, _ = lifecycle.up(lab_name)
    _, python_as, env = other_account()
    out = subprocess.run(python_as + ["-c", CONNECT, lab_socket(lab_name)], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "PermissionError", out.stdout + out.stderr
    assert control.status(lab_name) == info


def test_a_users_lab_is_closed_to_a_second_user(lab_name):
    """A plain user's rootless lab: a second account can neither connect nor stop it."""
    uid, python_as, env = other_account()
    env = dict(env, TUTOR_LAB=lab_name)
    up = subprocess.run(python_as + ["-m", "tutor.cli", "lab", "up"], env=env, capture_output=True,
                        text=True, timeout=30)
    assert up.returncode == 0, up.stderr
    try:
        path = lab_socket(lab_name, uid)
        assert path.startswith(f"/tmp/netns-tutor-{uid}/")
        _, second_as, second_env = other_account(skip=(uid,))
        out = subprocess.run(second_as + ["-c", CONNECT, path], env=second_env,
                             capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == "PermissionError", out.stdout + out.stderr
        again = subprocess.run(python_as + ["-m", "tutor.cli", "lab", "status"], env=env,
                               capture_output=True, text=True, timeout=30)
        assert again.returncode == 0 and "is running" in again.stdout
    finally:
        subprocess.run(python_as + ["-m", "tutor.cli", "lab", "down"], env=env,
                       capture_output=True, timeout=30)


@pytest.mark.serial   # replaces the spare account's socket folder
def test_a_folder_another_account_made_is_refused(lab_name):
    """Another account made a plain user's socket folder first (/tmp is everyone's): the
    user's lab refuses it in one sentence rather than trusting it."""
    uid, python_as, env = other_account()
    _, _, _ = other_account(skip=(uid,))
    trap = f"/tmp/netns-tutor-{uid}"
    if os.path.exists(trap):   # left by an earlier test's lab of that spare uid
        assert os.lstat(trap).st_uid == uid
        shutil.rmtree(trap)
    os.mkdir(trap, 0o777)
    try:
        os.chown(trap, uid + 1, uid + 1)
        up = subprocess.run(python_as + ["-m", "tutor.cli", "lab", "up"],
                            env=dict(env, TUTOR_LAB=lab_name), capture_output=True, text=True,
                            timeout=30)
        assert up.returncode == 2, up.stdout + up.stderr
        assert up.stderr.count("\n") == 1 and "not a private folder of yours" in up.stderr
        assert "Traceback" not in up.stderr
        assert os.listdir(trap) == []
    finally:
        os.rmdir(trap)


def _listen_as(uid: int, path: str, reply: dict) -> tuple[threading.Thread, socket.socket]:
    """A fake agent at `path`: bound by us, listening as `uid` (what the kernel records).

    It takes its place only once it listens, as an agent does (which holds the start lock
    until then): a lab starting meanwhile sweeps a socket no one listens on."""
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(path + ".binding")
    pid = os.fork()
    if pid == 0:   # listen() as `uid`, so SO_PEERCRED names it
        try:
            os.setresuid(uid, uid, uid)
            sock.listen(8)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    os.rename(path + ".binding", path)

    def answer() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            try:
                conn.recv(4096)
                conn.sendall(json.dumps(reply).encode() + b"\n")
            except OSError:
                pass   # the client hung up first: it refused us
            conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread, sock


def test_a_listener_of_another_uid_is_not_taken_for_the_lab(lab_name):
    """Whoever put a socket in our folder, a listener of another uid is not a lab of ours."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to listen as another uid")
    where = door.checked_folder(create=True)
    assert where is not None
    path = door.socket_path(lab_name, where)
    reply = {"ok": True, "pid": 1, "mode": "root", "name": lab_name, "namespaces": []}
    _, sock = _listen_as(40123, path, reply)
    try:
        with pytest.raises(control.LabError, match="uid 40123, not by a lab of yours"):
            control.status(lab_name)
        marker = f"/tmp/forged-{lab_name}"
        shell = tutor("shell", "-c", f"touch {marker}", env=dict(os.environ, TUTOR_LAB=lab_name))
        assert shell.returncode == 2 and "not by a lab of yours" in shell.stderr
        assert not os.path.exists(marker)
    finally:
        sock.close()
        os.unlink(path)


def test_a_forged_pid_in_a_reply_is_refused(lab_name):
    """Finding 3's effect: an answer naming another PID (the client once entered it)."""
    where = door.checked_folder(create=True)
    assert where is not None
    path = door.socket_path(lab_name, where)
    reply = {"ok": True, "pid": 1, "mode": "root", "name": lab_name, "namespaces": []}
    _, sock = _listen_as(os.getuid(), path, reply)
    try:
        with pytest.raises(control.LabError, match="names another process as its own"):
            control.status(lab_name)
    finally:
        sock.close()
        os.unlink(path)


INSIDE = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
SYS_pidfd_open, SYS_pidfd_getfd, PTRACE_ATTACH = 434, 438, 16
pidfd = libc.syscall(SYS_pidfd_open, 1, 0)
got = [libc.syscall(SYS_pidfd_getfd, pidfd, fd, 0) for fd in range(64)]
print("getfd", "denied" if all(g < 0 for g in got) else "GOT " + str(got))
print("ptrace", "denied" if libc.ptrace(PTRACE_ATTACH, 1, 0, 0) < 0 else "ATTACHED")
for what in ("fd", "environ", "mem", "root/"):
    try:
        os.listdir("/proc/1/" + what) if what in ("fd", "root/") else open("/proc/1/" + what, "rb").read(1)
        print(what, "OPEN")
    except OSError:
        print(what, "denied")
"""


def test_nothing_inside_the_lab_reaches_the_agent(mode, mlab):
    """Finding 3: a process in a rootless lab took the agent's control socket with
    pidfd_getfd (the agent was PID 1 of the lab and dumpable)."""
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else None
    if python is None:
        pytest.skip("no /usr/bin/python3 for the lab to run")
    out = run_ok(f"{python} - <<'EOF'\n{INSIDE}\nEOF", mlab)
    assert out.split("\n")[:6] == ["getfd denied", "ptrace denied", "fd denied", "environ denied",
                                   "mem denied", "root/ denied"], out
    assert control.status() is not None


def test_a_dead_agent_is_never_entered_by_its_old_pid(mode, lab_name):
    """Finding 4: commands held the agent's PID and entered it with nsenter --target; with the
    agent gone and its PID reused, they ran elsewhere. Now every command asks the running
    agent for its namespaces, so an old LabInfo enters nothing."""
    info, _ = lifecycle.up(lab_name)
    cmd = client.command(["true"], info=info)
    cmd.close()
    assert "--target" not in cmd.argv and str(info.pid) not in " ".join(cmd.argv)
    os.kill(info.pid, 9)
    assert wait_until(lambda: not alive(info.pid))
    with pytest.raises(control.LabError, match="is not running"):
        client.run("true", info=info)
    shell = tutor("shell", "-c", "true", env=dict(os.environ, TUTOR_LAB=lab_name))
    assert shell.returncode == 0   # `tutor shell` starts a fresh lab: it has its own new PID
    assert running(lab_name).pid != info.pid


def _raw(lab_name: str, payload: bytes) -> dict:
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(lab_socket(lab_name))
    sock.sendall(payload)
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    return json.loads(data)


@pytest.mark.parametrize("request_", [
    {"op": "serve", "netns": "../tutor/world/internet", "port": 80, "body": "x"},
    {"op": "serve", "netns": "/proc/1/ns/net", "port": 80},
    {"op": "serve", "netns": "red", "port": "80; rm -rf /"},
    {"op": "serve", "netns": "red", "port": 70000},
    {"op": "look", "namespaces": ["../tutor/world/lan"]},
    {"op": "look", "namespaces": "red"},
    {"op": "look", "namespaces": ["red"], "more": -5},
    {"op": "look", "namespaces": [], "more": 500},
    {"op": "look", "namespaces": ["red"], "ids": "no"},
    {"op": "netlink", "namespaces": ["red"]},
    {"op": "no-such-op"},
    ["op", "status"],
])
def test_hostile_requests_get_a_sentence_and_the_lab_goes_on(lab, lab_name, request_):
    reply = _raw(lab_name, json.dumps(request_).encode() + b"\n")
    assert reply["ok"] is False and reply["error"]
    assert control.status(lab_name) is not None


def test_deeply_nested_and_endless_requests_do_not_harm_the_lab(lab, lab_name):
    assert _raw(lab_name, b"[" * 60000 + b"\n")["ok"] is False
    assert _raw(lab_name, b"x" * 70000 + b"\n")["ok"] is False
    assert control.status(lab_name) is not None


def test_no_lab_name_can_leave_the_folder(monkeypatch):
    for bad in ("../x", "a/b", ".hidden", "-x", "x" * 65, "a b", "a\x1bb"):
        monkeypatch.setenv("TUTOR_LAB", bad)
        out = tutor("lab", "status", env=dict(os.environ))
        assert out.returncode == 2 and "cannot name a lab" in out.stderr, (bad, out.stderr)
        assert "Traceback" not in out.stderr
    assert REPO.exists()


def test_an_agents_refusal_is_said_in_the_students_language(lab):
    """The agent sends its sentence and its words (`door.refusal`); the client says it in the
    chosen language, and takes for a template only the sentences it knows (`door.REFUSALS`)."""
    from tutor.i18n import said
    from tutor.lab import control, door
    with pytest.raises(control.LabError) as caught:
        control.request("no-such-op", lab.name)
    assert str(caught.value) == "unknown request 'no-such-op'"
    assert said(caught.value, "ko") == "알 수 없는 요청입니다: 'no-such-op'"
    forged = {"ok": False, "error": "plain words", "said": ["{why.__class__.__mro__}", {"why": "x"}]}
    assert door.heard(forged) == "plain words"
    assert door.heard({"ok": False, "said": "nonsense"}) == "the lab refused the request"
