"""Classroom installs (assets/classroom): the scripts parse, lint and answer --help, the cloud-init
user-data is valid and wired to them, and (opt in, `-m rootfs`) a real root filesystem builds
with `tutor selftest` passing inside it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tutor.lessons.lesson import BUILTIN_LESSONS, load_lessons

ROOT = Path(__file__).resolve().parents[2]
CLASSROOM = ROOT / "assets" / "classroom"
INSTALL = CLASSROOM / "install.sh"
BUILD = CLASSROOM / "build-rootfs.sh"
USER_DATA = CLASSROOM / "user-data.yaml"
SCRIPTS = [INSTALL, BUILD]


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


def load_yaml(text: str):
    """The YAML document, with PyYAML here or in the system's python3; None if neither has it."""
    try:
        import yaml
        return yaml.safe_load(text)
    except ImportError:
        pass
    py = shutil.which("python3", path="/usr/bin:/bin")
    if py:
        out = run([py, "-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"],
                  input=text)
        if out.returncode == 0:
            return json.loads(out.stdout)
    return None


@pytest.fixture(scope="module")
def user_data():
    doc = load_yaml(USER_DATA.read_text())
    if doc is None:
        pytest.skip("no YAML parser here (PyYAML or Debian's python3-yaml)")
    return doc


def embedded(doc: dict, path: str) -> str:
    """The content of the write_files item that writes `path`."""
    for item in doc["write_files"]:
        if item["path"] == path:
            return item["content"]
    raise AssertionError(f"user-data writes no {path}")


# ------------------------------------------------------------------ the scripts themselves

@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses_with_bash_n(script):
    out = run(["bash", "-n", str(script)])
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_is_executable(script):
    assert os.access(script, os.X_OK), f"{script.name} is not executable (git update-index --chmod=+x)"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck_is_clean(script):
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed")
    out = run(["shellcheck", str(script)])
    assert out.returncode == 0, out.stdout


def test_install_help_names_every_mode():
    out = run(["bash", str(INSTALL), "--help"])
    assert out.returncode == 0, out.stderr
    for option in ("--offline-wheels DIR", "--download-wheels DIR", "--allow-userns", "--prefix DIR",
                   "--bin-dir DIR", "--teachers GROUP"):
        assert option in out.stdout
    assert "/opt/netns-tutor" in out.stdout and "/usr/local/bin/tutor" in out.stdout


def test_build_rootfs_help():
    out = run(["bash", str(BUILD), "--help"])
    assert out.returncode == 0, out.stderr
    assert "./build/rootfs" in out.stdout and "--tar" in out.stdout and "--offline-wheels" in out.stdout


@pytest.mark.parametrize("argv, says", [
    (["--bogus"], "unknown option --bogus"),
    (["--offline-wheels", "/nonexistent-a", "--download-wheels", "/nonexistent-b"], "exclude each other"),
    (["--prefix", "relative/path"], "absolute path"),
    (["--prefix", "/"], "absolute path"),
])
def test_install_refuses_bad_arguments(argv, says):
    out = run(["bash", str(INSTALL), *argv])
    assert out.returncode != 0
    assert says in out.stderr


@pytest.mark.parametrize("target", ["/", "/usr", "/var"])
def test_build_rootfs_refuses_system_folders(target):
    if os.geteuid() != 0:
        pytest.skip("build-rootfs.sh stops earlier when not root")
    out = run(["bash", str(BUILD), "--no-selftest", target])
    assert out.returncode != 0
    assert "refusing to build into" in out.stderr


def test_install_covers_every_tool_tutor_doctor_checks():
    """install.sh's package list may not drift from what `tutor doctor` requires."""
    from tutor.lab.doctor import TOOLS
    text = INSTALL.read_text()
    block = re.search(r"^BASE_PACKAGES=\(([^)]*)\)", text, re.M)
    assert block, "BASE_PACKAGES=(...) not found in install.sh"
    packages = set(block.group(1).split())
    assert set(TOOLS.values()) <= packages, set(TOOLS.values()) - packages
    assert "procps" in packages  # sysctl, which lesson 3 types


def test_tutor_never_reaches_for_the_network():
    """After an offline install nothing may need a connection: no HTTP client or installer in tutor/."""
    banned = re.compile(r"^\s*(import|from)\s+(urllib\.request|http\.client|requests|httpx|aiohttp|ftplib|pip)\b"
                        r"|ensurepip|pip install|git clone", re.M)
    offenders = [f"{p.relative_to(ROOT)}: {m.group(0).strip()}"
                 for p in (ROOT / "tutor").rglob("*.py") for m in banned.finditer(p.read_text())]
    assert not offenders, offenders


# ------------------------------------------------------------------ cloud-init user-data

def test_user_data_is_cloud_config_with_write_files_last():
    text = USER_DATA.read_text()
    assert text.startswith("#cloud-config\n")
    top = re.findall(r"^([a-z_]+):", text, re.M)
    for key in ("package_update", "packages", "runcmd", "write_files"):
        assert key in top
    # option B appends one list item to the file: it must land in write_files
    assert top[-1] == "write_files", top


def test_user_data_keys_and_wiring(user_data):
    assert user_data["package_update"] is True
    assert "git" in user_data["packages"]
    assert ["bash", "/usr/local/sbin/netns-tutor-firstboot"] in user_data["runcmd"]
    paths = [item["path"] for item in user_data["write_files"]]
    assert paths == ["/etc/netns-tutor/classroom.env", "/usr/local/sbin/netns-tutor-firstboot",
                     "/etc/profile.d/netns-tutor.sh"]
    firstboot = embedded(user_data, "/usr/local/sbin/netns-tutor-firstboot")
    assert "assets/classroom/install.sh" in firstboot and (ROOT / "assets/classroom/install.sh").exists()
    env = embedded(user_data, "/etc/netns-tutor/classroom.env")
    assert re.search(r"^TUTOR_GIT_URL=", env, re.M) and re.search(r"^TUTOR_GIT_REF=", env, re.M)


def test_user_data_greets_with_how_to_start(user_data):
    greeting = embedded(user_data, "/etc/profile.d/netns-tutor.sh")
    for command in ("tutor ", "tutor list", "tutor doctor", "tutor config name", "tutor submit"):
        assert command in greeting


def test_embedded_scripts_parse(user_data, tmp_path):
    firstboot = tmp_path / "firstboot"
    firstboot.write_text(embedded(user_data, "/usr/local/sbin/netns-tutor-firstboot"))
    profile = tmp_path / "profile.sh"
    profile.write_text(embedded(user_data, "/etc/profile.d/netns-tutor.sh"))
    assert run(["bash", "-n", str(firstboot)]).returncode == 0
    assert run(["sh", "-n", str(profile)]).returncode == 0
    if shutil.which("shellcheck"):
        out = run(["shellcheck", "-s", "bash", str(firstboot)])
        assert out.returncode == 0, out.stdout
        out = run(["shellcheck", "-s", "sh", str(profile)])
        assert out.returncode == 0, out.stdout


def test_greeting_is_silent_in_scripts(user_data, tmp_path):
    """profile.d is read by non-interactive login shells too (scp, cron): they must see nothing."""
    profile = tmp_path / "profile.sh"
    profile.write_text(embedded(user_data, "/etc/profile.d/netns-tutor.sh"))
    out = run(["sh", "-c", f". {profile}; echo done"])
    assert out.stdout == "done\n" and out.returncode == 0


def test_option_b_append_embeds_the_tarball(user_data, tmp_path):
    """The append documented at the top of user-data.yaml yields a valid file carrying the tarball."""
    tarball = tmp_path / "netns-tutor.tar.gz"
    tarball.write_bytes(os.urandom(3000))
    out = run(["bash", "-c", f'''
        {{ cat "{USER_DATA}"
          echo "  - path: /var/lib/netns-tutor/netns-tutor.tar.gz"
          echo "    encoding: b64"
          echo "    content: $(base64 -w0 "{tarball}")"; }}'''])
    assert out.returncode == 0, out.stderr
    doc = load_yaml(out.stdout)
    item = doc["write_files"][-1]
    assert item["path"] == "/var/lib/netns-tutor/netns-tutor.tar.gz" and item["encoding"] == "b64"
    assert base64.b64decode(item["content"]) == tarball.read_bytes()
    assert len(doc["write_files"]) == len(user_data["write_files"]) + 1
    # and the first-boot script looks for it exactly there
    assert "tarball=$work/netns-tutor.tar.gz" in embedded(doc, "/usr/local/sbin/netns-tutor-firstboot")
    assert "work=/var/lib/netns-tutor" in embedded(doc, "/usr/local/sbin/netns-tutor-firstboot")


def test_cloud_init_schema_when_available(tmp_path):
    if not shutil.which("cloud-init"):
        pytest.skip("cloud-init is not installed (its schema check ran when the file was written)")
    out = run(["cloud-init", "schema", "--config-file", str(USER_DATA)])
    assert out.returncode == 0, out.stdout + out.stderr


# ------------------------------------------------------------------ opt in: a real root filesystem

def _mounts_under(path: Path) -> list[str]:
    prefix = str(path) + "/"
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(prefix)]


@pytest.mark.rootfs
@pytest.mark.timeout(2400)
def test_build_rootfs_and_selftest_inside(tmp_path):
    """debootstrap + install.sh in a chroot + `tutor selftest` inside the tree (minutes, needs root
    and a Debian mirror)."""
    if os.geteuid() != 0:
        pytest.skip("build-rootfs.sh needs root")
    rootfs = tmp_path / "rootfs"
    try:
        proc = subprocess.run(["bash", str(BUILD), "--host-ca", str(rootfs)], capture_output=True,
                              text=True, timeout=2300)
        log = proc.stdout + proc.stderr
        sys.stdout.write(log[-4000:])
        assert proc.returncode == 0, log[-4000:]
        assert "tutor selftest passed inside" in log
        summary = re.findall(r"^(\d+) passed, (\d+) failed", log, re.M)
        assert summary and int(summary[0][0]) > 0 and summary[0][1] == "0", summary
        assert (rootfs / "opt/netns-tutor/.venv/bin/tutor").exists()
        assert os.readlink(rootfs / "usr/local/bin/tutor") == "/opt/netns-tutor/.venv/bin/tutor"
        assert not _mounts_under(rootfs), _mounts_under(rootfs)
    finally:
        if not _mounts_under(rootfs):
            shutil.rmtree(rootfs, ignore_errors=True)


# ------------------------------------------------------------------ installs for every account

@pytest.fixture
def open_tmp():
    """A folder other accounts can enter (pytest's tmp_path is under a 0700 folder of root's)."""
    import tempfile
    path = Path(tempfile.mkdtemp(prefix="netns-tutor-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _as_nobody(argv, **kw):
    return run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv], **kw)


def test_install_refusal_quotes_the_options_given(open_tmp):
    """Not root: the line to run instead carries every option, quoted for the shell."""
    if os.geteuid() != 0:
        out = run(["bash", str(INSTALL), "--prefix", "/opt/my dir", "--allow-userns"])
    else:
        script = open_tmp / "install.sh"
        shutil.copy(INSTALL, script)
        out = _as_nobody(["bash", str(script), "--prefix", "/opt/my dir", "--allow-userns"])
    assert out.returncode != 0
    assert "run this as root: sudo bash" in out.stderr
    assert "--prefix /opt/my\\ dir --allow-userns" in out.stderr, out.stderr


def _source_install(code: str, path: str | None = None):
    env = dict(os.environ, PATH=path or os.environ["PATH"])
    return run(["bash", "-c", f'source "{INSTALL}"; {code}'], env=env)


def test_install_picks_a_system_python_every_account_can_run(tmp_path):
    """A python3 first on root's PATH that students cannot run (pyenv under /root) is passed over."""
    if os.geteuid() != 0:
        pytest.skip("the choice is proven as another account, which needs root")
    decoy = tmp_path / "private" / "bin"
    decoy.mkdir(parents=True)
    (tmp_path / "private").chmod(0o700)
    system = [p for p in ("/usr/bin/python3.13", "/usr/bin/python3.12", "/usr/bin/python3.11")
              if os.path.exists(p)]
    if not system:
        pytest.skip("no /usr/bin/python3.11+ here")
    for name in ("python3.13", "python3.12", "python3.11", "python3"):
        (decoy / name).symlink_to(system[0])
    out = _source_install("find_python", path=f"{decoy}:{os.environ['PATH']}")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("/usr/bin/python3"), out.stdout


def test_install_fails_loudly_when_other_accounts_cannot_run_tutor(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    fake = private / "tutor"
    fake.write_text("#!/bin/sh\necho lesson1\n")
    fake.chmod(0o755)
    out = _source_install(f'TUTOR_CMD="{fake}"; check_as_student')
    assert out.returncode != 0
    assert "the install does not work for other accounts" in out.stderr


def _packages_present() -> bool:
    text = INSTALL.read_text()
    block = re.search(r"^BASE_PACKAGES=\(([^)]*)\)", text, re.M)
    assert block, "BASE_PACKAGES=(...) not found in install.sh"
    packages = [*block.group(1).split(), "python3", "python3-venv"]
    out = run(["dpkg-query", "-W", "-f=${Status}\n", *packages])
    return out.returncode == 0 and out.stdout.count("install ok installed") == len(packages)


@pytest.mark.timeout(600)
@pytest.mark.slow(30)
def test_install_into_a_prefix_works_for_students_and_writes_only_there(open_tmp):
    """A real install.sh run (packages already here, so no apt; pip from the network) into a
    throwaway --prefix: nothing outside it, the command runs as a non-root account, and the drop
    folder takes a student's `tutor submit` that the teacher's `tutor report` reads."""
    if os.geteuid() != 0 or not shutil.which("apt-get") or not _packages_present():
        pytest.skip("needs root on Debian/Ubuntu with the course's packages already installed")
    base = open_tmp
    prefix = base / "opt"
    before = os.path.lexists("/usr/local/bin/tutor") and os.readlink("/usr/local/bin/tutor")
    out = subprocess.run(["bash", str(INSTALL), "--prefix", str(prefix), "--teachers", "root"],
                         capture_output=True, text=True, timeout=580)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert "tutor list, as uid 65534" in log
    after = os.path.lexists("/usr/local/bin/tutor") and os.readlink("/usr/local/bin/tutor")
    assert before == after, "--prefix wrote /usr/local/bin/tutor"
    assert os.path.realpath(prefix / ".venv/bin/python").startswith("/usr/bin/")
    drop = prefix / "handin"
    assert stat.S_IMODE(drop.stat().st_mode) == 0o3773 and drop.stat().st_gid == 0
    home = base / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    tutor = str(prefix / ".venv/bin/tutor")
    handed = _as_nobody([tutor, "submit"], env=env)
    assert handed.returncode == 0 and handed.stdout == f"handed in to {drop}/nobody.json\n", handed
    report = run([tutor, "report", "--csv"])
    assert report.returncode == 0, report.stderr
    shipped = len(load_lessons(BUILTIN_LESSONS))
    assert report.stdout.count("\nnobody@") == shipped, report.stdout     # every lesson, 0/N


# ------------------------------------------------------------------ the greeting's three states

def _greeting(user_data, tmp_path, status: str | None, tutor: bool, boot_over: bool) -> str:
    """What an interactive login shell prints, with the greeting's paths moved into tmp_path."""
    text = embedded(user_data, "/etc/profile.d/netns-tutor.sh")
    state, cmd, result = tmp_path / "install-status", tmp_path / "tutor", tmp_path / "result.json"
    for path, there in ((state, status is not None), (cmd, tutor), (result, boot_over)):
        path.unlink(missing_ok=True)
        if there:
            path.write_text(f"{status}\n" if path == state else "#!/bin/sh\n")
            path.chmod(0o755)
    text = (text.replace("/var/lib/netns-tutor/install-status", str(state))
            .replace("/usr/local/bin/tutor", str(cmd)).replace("/run/cloud-init/result.json", str(result)))
    profile = tmp_path / "profile.sh"
    profile.write_text(text)
    out = run(["sh", "-i", "-c", f". {profile}; echo \"left:${{netns_tutor_status-}}\""], stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip().endswith("left:"), "the greeting leaves a variable in the login shell"
    return out.stdout


@pytest.mark.parametrize("status, tutor, boot_over, says", [
    ("installing", False, False, "still being installed"),
    (None, False, False, "still being installed"),
    ("ready", True, True, "tutor submit"),
    (None, True, True, "tutor submit"),                       # installed by hand, not by cloud-init
    ("failed", False, True, "the installation failed; see /var/log/netns-tutor-install.log"),
    ("failed", True, True, "the installation failed"),        # an update that failed
    ("installing", False, True, "the installation failed"),   # cut off: the boot ended without it
    (None, False, True, "the installation failed"),           # never began (runcmd did not run)
])
def test_greeting_tells_installing_from_failed_from_ready(user_data, tmp_path, status, tutor, boot_over, says):
    out = _greeting(user_data, tmp_path, status, tutor, boot_over)
    assert says in out, out
    if says != "still being installed":
        assert "still being installed" not in out


def test_firstboot_records_failure_for_the_greeting(user_data, tmp_path):
    """A first boot with no project to install ends with `failed` in the status file."""
    text = embedded(user_data, "/usr/local/sbin/netns-tutor-firstboot")
    env_file = tmp_path / "classroom.env"
    env_file.write_text('TUTOR_GIT_URL=""\nTUTOR_GIT_REF="main"\nTUTOR_INSTALL_ARGS=""\n')
    text = (text.replace("/var/lib/netns-tutor/install-status", str(tmp_path / "state/install-status"))
            .replace("/var/log/netns-tutor-install.log", str(tmp_path / "install.log"))
            .replace("/etc/netns-tutor/classroom.env", str(env_file))
            .replace("work=/var/lib/netns-tutor", f"work={tmp_path / 'work'}"))
    script = tmp_path / "firstboot"
    script.write_text(text)
    out = run(["bash", str(script)])
    assert out.returncode != 0
    assert (tmp_path / "state/install-status").read_text() == "failed\n"
    assert "no project to install" in (tmp_path / "install.log").read_text()
