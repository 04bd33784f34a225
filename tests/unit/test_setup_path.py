"""bin/tutor puts `tutor` on the user's PATH (a link in ~/.local/bin) when it can, and otherwise
says once to type bin/tutor: the README and every message say `tutor …`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ensure_on_path(home: Path, path: str) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(home), "PATH": path, "LANG": "C.UTF-8"}
    return subprocess.run(["bash", "-c", f'source "{ROOT}/bin/_setup.sh"; tutor_ensure_on_path'],
                          env=env, capture_output=True, text=True, timeout=30)


def test_links_itself_into_local_bin_when_that_is_on_path(tmp_path):
    bin_dir = tmp_path / ".local" / "bin"
    path = f"{bin_dir}:/usr/bin:/bin"
    out = ensure_on_path(tmp_path, path)
    assert out.returncode == 0, out.stderr
    assert os.readlink(bin_dir / "tutor") == str(ROOT / "bin" / "tutor")
    assert out.stderr.count("\n") == 1 and f"linked {bin_dir}/tutor" in out.stderr
    again = ensure_on_path(tmp_path, path)    # `tutor` is on PATH now: nothing more to say
    assert again.returncode == 0 and again.stderr == ""


def test_says_once_to_type_bin_tutor_when_it_cannot_link(tmp_path):
    out = ensure_on_path(tmp_path, "/usr/bin:/bin")
    assert out.returncode == 0
    assert f"type {ROOT}/bin/tutor" in out.stderr and out.stderr.count("\n") == 1
    assert not (tmp_path / ".local" / "bin" / "tutor").exists()
    assert ensure_on_path(tmp_path, "/usr/bin:/bin").stderr == ""


def test_leaves_a_tutor_already_on_path_alone(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "tutor").write_text("#!/bin/sh\n")
    (other / "tutor").chmod(0o755)
    out = ensure_on_path(tmp_path, f"{tmp_path}/.local/bin:{other}:/usr/bin:/bin")
    assert out.returncode == 0 and out.stderr == ""
    assert not (tmp_path / ".local" / "bin" / "tutor").exists()


def find_python(bin_dir: Path, names: str) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(bin_dir), "PATH": f"{bin_dir}:/usr/bin:/bin", "LANG": "C.UTF-8", "TUTOR_PYTHONS": names}
    return subprocess.run(["bash", "-c", f'source "{ROOT}/bin/_setup.sh"; tutor_find_python'],
                          env=env, capture_output=True, text=True, timeout=30)


def fake_python(bin_dir: Path, name: str, answer: str) -> None:
    """A Python that answers the set-up's question with `answer` (its minor version, plus 1000
    when its program holds the interpreter itself), or fails like a pyenv shim of a version
    that is not selected."""
    (bin_dir / name).write_text(f"#!/bin/sh\n{answer}\n")
    (bin_dir / name).chmod(0o755)


def test_the_venv_s_python_holds_its_interpreter_before_it_is_newest(tmp_path):
    """A Python that loads its interpreter from libpython (pyenv's) ran tutor ~25 % slower
    (issue 15): one that holds it itself comes first, then the newest; one that cannot run is
    passed over."""
    fake_python(tmp_path, "python3.13", "echo 'pyenv: python3.13: command not found' >&2; exit 127")
    fake_python(tmp_path, "python3.12", "echo 12")
    fake_python(tmp_path, "python3.11", "echo 1011")
    names = "python3.13 python3.12 python3.11"
    assert find_python(tmp_path, names).stdout == "python3.11\n"
    assert find_python(tmp_path, "python3.13 python3.12").stdout == "python3.12\n"
    none = find_python(tmp_path, "python3.13")
    assert none.returncode == 1 and none.stdout == "" and "Python 3.11 or newer with venv" in none.stderr


def test_the_question_tells_a_program_with_libpython_from_one_without():
    """The set-up's question, asked of the Python running this test, against its memory map."""
    script = (ROOT / "bin" / "_setup.sh").read_text()
    question = script.split("_TUTOR_PY_RANK='", 1)[1].split("'", 1)[0]
    rank = int(subprocess.run([sys.executable, "-c", question], capture_output=True, text=True).stdout)
    shared = any("libpython" in line for line in Path("/proc/self/maps").read_text().splitlines())
    assert rank == sys.version_info[1] + (0 if shared else 1000)


def mini_checkout(tmp_path: Path) -> Path:
    """A copy of what bin/tutor reads (bin/, pyproject.toml, the tools list), its venv set up
    already: a stamp with the set-up's hash, a `tutor` that says how it was called."""
    import hashlib
    import shutil
    root = tmp_path / "checkout"
    (root / "bin").mkdir(parents=True)
    (root / "tutor" / "lab").mkdir(parents=True)
    for name in ("bin/tutor", "bin/_setup.sh", "pyproject.toml", "tutor/lab/tools.txt"):
        shutil.copy2(ROOT / name, root / name)
    venv = root / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "tutor").write_text('#!/bin/sh\necho "ran $*"\n')
    (venv / "python").write_text("#!/bin/sh\nexit 0\n")
    for f in ("tutor", "python"):
        (venv / f).chmod(0o755)
    digest = hashlib.sha256((root / "pyproject.toml").read_bytes() + (root / "bin" / "_setup.sh").read_bytes())
    (root / ".venv" / ".netns-tutor-installed").write_text(digest.hexdigest()[:16] + "-run\n")
    return root


def run_tutor(home: Path, tools: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`tutor ARGS` as a student types it, through the link in ~/.local/bin; `tools` comes first
    on PATH (its sha256sum notes each call of the set-up's checks)."""
    env = {"HOME": str(home), "PATH": f"{tools}:{home}/.local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "LANG": "C.UTF-8"}
    return subprocess.run(["tutor", *args], env=env, capture_output=True, text=True, timeout=60)


def test_the_link_in_local_bin_runs_the_course_and_checks_only_after_a_change(tmp_path):
    """The link bin/tutor makes in ~/.local/bin runs it (it sourced _setup.sh beside the link,
    which is not there); once set up, a call runs no check (~25 ms each, issue 15) until what
    the set-up follows changes, and then once."""
    import time
    root = mini_checkout(tmp_path)
    home, tools = tmp_path / "home", tmp_path / "tools"
    (home / ".local" / "bin").mkdir(parents=True)
    tools.mkdir()
    (home / ".local" / "bin" / "tutor").symlink_to(root / "bin" / "tutor")
    calls = tmp_path / "checked"
    (tools / "sha256sum").write_text(f'#!/bin/sh\necho x >> "{calls}"\nexec /usr/bin/sha256sum "$@"\n')
    (tools / "sha256sum").chmod(0o755)
    checks = lambda: len(calls.read_text().split()) if calls.exists() else 0  # noqa: E731

    first = run_tutor(home, tools, "verify", "lesson1")
    assert (first.returncode, first.stdout) == (0, "ran verify lesson1\n"), first.stderr
    assert checks() == 0
    time.sleep(0.01)
    (root / "pyproject.toml").touch()                  # a checkout changed what the set-up follows
    again = run_tutor(home, tools, "list")
    assert (again.returncode, again.stdout) == (0, "ran list\n"), again.stderr
    assert checks() == 1
    assert run_tutor(home, tools, "list").stdout == "ran list\n" and checks() == 1
