"""bin/tutor puts `tutor` on the user's PATH (a link in ~/.local/bin) when it can, and otherwise
says once to type bin/tutor: the README and every message say `tutor …`."""

from __future__ import annotations

import os
import subprocess
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
