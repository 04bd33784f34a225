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
