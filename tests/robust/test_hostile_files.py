"""The real `tutor` against files it did not write: nested, FIFOs, links to /dev/zero, folders
where files should be, read-only or foreign folders, a planted cache. Each gets one sentence
(or is silently ignored, for the cache), never a traceback, a hang or a flood of memory, and
nothing the student did is lost.

Runs as root here; the folder rules are also run as a plain user (setpriv) when possible.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import subprocess
import zlib
from pathlib import Path

import pytest

from accounts import plain_user
from tutor.lessons.lesson import BUILTIN_LESSONS

REPO = Path(__file__).resolve().parents[2]
TUTOR = str(REPO / ".venv" / "bin" / "tutor")
NESTED = b"[" * 100_000
FOREIGN_UID = 65534   # nobody: an account that is not the one running tutor


@pytest.fixture
def homes(tmp_path, monkeypatch):
    """Private XDG state, config and cache folders for the CLI subprocesses."""
    dirs = {k: tmp_path / k.lower() for k in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    for k, d in dirs.items():
        monkeypatch.setenv(k, str(d))
    monkeypatch.delenv("TUTOR_LESSONS", raising=False)
    return {k.split("_")[1].lower(): d / "netns-tutor" for k, d in dirs.items()}


def tutor(*args: str, timeout: float = 30, mem: int | None = None, **env: str) -> subprocess.CompletedProcess:
    """The real CLI; `mem` caps its address space (bytes), so a flood fails fast instead of hurting."""
    limit = (lambda: resource.setrlimit(resource.RLIMIT_AS, (mem, mem))) if mem else None
    return subprocess.run([TUTOR, *args], check=False, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **env}, stdin=subprocess.DEVNULL, preexec_fn=limit)


def one_sentence(result: subprocess.CompletedProcess, code: int, *words: str) -> str:
    """stderr is exactly one `tutor: …` line holding `words`; the exit code is `code`."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tutor: "), result.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


# -- progress.json -----------------------------------------------------------------------------

def test_nested_progress_is_kept_aside_not_a_recursion_error(homes):
    homes["state"].mkdir(parents=True)
    (homes["state"] / "progress.json").write_bytes(NESTED)
    result = tutor("list")
    one_sentence(result, 0, "nested too deeply", "progress.corrupt-")
    assert "lesson1   0/5" in result.stdout
    aside, = homes["state"].glob("progress.corrupt-*")
    assert aside.read_bytes() == NESTED                       # nothing lost


def test_a_fifo_as_progress_does_not_hang_and_stays(homes):
    homes["state"].mkdir(parents=True)
    fifo = homes["state"] / "progress.json"
    os.mkfifo(fifo)
    result = tutor("list", timeout=10)                       # the old code blocked in open()
    one_sentence(result, 0, "not a regular file", "not saved")
    assert fifo.is_fifo()


def test_progress_linked_to_dev_zero_is_refused_without_reading(homes):
    homes["state"].mkdir(parents=True)
    (homes["state"] / "progress.json").symlink_to("/dev/zero")
    result = tutor("list", timeout=20, mem=1 << 30)           # the old code read GBs of zeros
    one_sentence(result, 0, "symbolic link", "not saved")
    assert os.readlink(homes["state"] / "progress.json") == "/dev/zero"


def test_a_huge_progress_file_is_not_read(homes):
    homes["state"].mkdir(parents=True)
    with open(homes["state"] / "progress.json", "wb") as f:
        f.truncate(64 << 20)                                 # sparse: 64 MiB of zeros on no disk
    result = tutor("list", timeout=20, mem=1 << 30)
    one_sentence(result, 0, "larger than 1 MiB", "not saved")


# -- config.json -------------------------------------------------------------------------------

def test_nested_config_is_one_sentence(homes):
    homes["config"].mkdir(parents=True)
    (homes["config"] / "config.json").write_bytes(NESTED)
    one_sentence(tutor("config", "name"), 2, "config.json", "nested too deeply")
    result = tutor("list")                                    # other commands are not hurt
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert (homes["config"] / "config.json").read_bytes() == NESTED


def test_config_that_is_a_folder_is_one_sentence_and_kept(homes):
    (homes["config"] / "config.json").mkdir(parents=True)
    one_sentence(tutor("config", "name", "Ada"), 2, "config.json", "not a regular file", "not saved")
    assert (homes["config"] / "config.json").is_dir()


def test_setting_a_name_keeps_other_settings(homes):
    homes["config"].mkdir(parents=True)
    (homes["config"] / "config.json").write_text('{"name": "Old", "future": [1]}')
    assert tutor("config", "name", "Ada L.").returncode == 0
    assert json.loads((homes["config"] / "config.json").read_text()) == {"name": "Ada L.", "future": [1]}
    assert os.stat(homes["config"] / "config.json").st_mode & 0o777 == 0o600
    assert tutor("config", "name").stdout == "Ada L.\n"


# -- report inputs -----------------------------------------------------------------------------

def test_report_skips_nested_fifo_and_huge_inputs(tmp_path, homes):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "nested.json").write_bytes(NESTED)
    os.mkfifo(folder / "fifo.json")
    (folder / "zero.json").symlink_to("/dev/zero")
    with open(folder / "huge.json", "wb") as f:
        f.truncate(64 << 20)
    record = {"format": 1, "student": "Ada", "lessons": {
        "lesson1": {"done": [1, 2], "total": 5, "updated": "2026-01-01T10:00:00"}}}
    (folder / "ada.json").write_text(json.dumps(record))
    (tmp_path / "root-only").write_text(json.dumps({**record, "student": "Secret"}))
    (folder / "link.json").symlink_to(tmp_path / "root-only")   # a student's link, read as root
    result = tutor("report", str(folder), str(folder / "fifo.json"), timeout=20, mem=1 << 30)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "Ada" in result.stdout and "2/5" in result.stdout and "Secret" not in result.stdout
    problems = result.stderr.splitlines()
    assert any("nested.json" in l and "nested too deeply" in l for l in problems), problems
    assert any("huge.json" in l and "larger than 1 MiB" in l for l in problems), problems
    assert any("fifo.json" in l and "not a file or folder" in l for l in problems), problems
    assert any("link.json" in l and "symbolic link" in l for l in problems), problems
    assert all(l.startswith("tutor: ") for l in problems)


# -- lesson files ($TUTOR_LESSONS) -------------------------------------------------------------

def test_lesson_folder_with_a_huge_or_deeply_nested_file(tmp_path, homes):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    first = min(Path(BUILTIN_LESSONS).glob("*.md"))
    (lessons / first.name).write_text(first.read_text())
    first_id = first.read_text().split("\nid: ", 1)[1].split()[0]
    with open(lessons / "02-huge.md", "wb") as f:
        f.truncate(1 << 30)                       # sparse: 1 GiB that must not be read
    result = tutor("list", timeout=20, mem=512 << 20, TUTOR_LESSONS=str(lessons))
    one_sentence(result, 2, "02-huge.md", "larger than 1 MiB")
    os.unlink(lessons / "02-huge.md")
    (lessons / "02-deep.md").write_text("---\nid: deep\ntitle: Deep\n---\n\n## Step\n\n"
                                        + ">" * 100_000 + " x\n" + "[" * 100_000 + "\n"
                                        + "- " * 50_000 + "x\n\n```check\nnetns red\n```\n")
    result = tutor("list", timeout=60, TUTOR_LESSONS=str(lessons))
    assert "Traceback" not in result.stderr and result.returncode in (0, 2), result.stderr
    if result.returncode == 2:
        one_sentence(result, 2, "02-deep.md")
    os.unlink(lessons / "02-deep.md")
    os.mkfifo(lessons / "02-fifo.md")               # not a lesson file: passed over, no hang
    result = tutor("list", timeout=20, TUTOR_LESSONS=str(lessons))
    assert result.returncode == 0 and first_id in result.stdout


# -- the parsed-lesson cache -------------------------------------------------------------------

class _Plant:
    """Unpickling this runs `touch MARKER`: what another account's cache file could do."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_pickle_in_the_cache_never_runs(homes, tmp_path):
    marker = tmp_path / "ran"
    homes["cache"].mkdir(parents=True)
    name = f"lessons-{zlib.crc32(BUILTIN_LESSONS.encode()):08x}.pickle"   # the old cache's name
    (homes["cache"] / name).write_bytes(pickle.dumps(_Plant(str(marker))))
    result = tutor("list")
    assert result.returncode == 0 and "lesson1" in result.stdout, result.stderr
    assert not marker.exists()


def _cache_file(homes) -> Path:
    assert tutor("list").returncode == 0          # fills the cache
    cache, = homes["cache"].glob("lessons-*.json")
    return cache


def test_the_cache_is_json_private_and_used(homes):
    cache = _cache_file(homes)
    assert os.stat(cache).st_mode & 0o777 == 0o600 and os.stat(homes["cache"]).st_mode & 0o777 == 0o700
    data = json.loads(cache.read_text())
    data["lessons"][0]["title"] = "Taken from the cache"
    cache.write_text(json.dumps(data))
    assert "Taken from the cache" in tutor("list").stdout   # so the next tests prove something


@pytest.mark.parametrize("garbage", [b"", NESTED, b"\xff\xfe", b'{"format": 1}', b"[1, 2]",
                                     b'{"format": 1, "key": "x", "lessons": 5}'])
def test_an_invalid_cache_is_silently_rebuilt(homes, garbage):
    cache = _cache_file(homes)
    fresh = cache.read_bytes()
    data = json.loads(fresh)
    if garbage == b"[1, 2]":      # the right key, but lessons that are not lessons
        data["lessons"] = [[1, 2]]
        garbage = json.dumps(data).encode()
    cache.write_bytes(garbage)
    result = tutor("list")
    assert result.returncode == 0 and result.stderr == "" and "lesson5" in result.stdout
    assert cache.read_bytes() == fresh


# -- folders that are not the user's own -------------------------------------------------------

def _forge(homes) -> None:
    """A cache that says what its maker wants, and a progress record with lesson1 done."""
    cache = _cache_file(homes)
    data = json.loads(cache.read_text())
    data["lessons"][0]["title"] = "Planted"
    cache.write_text(json.dumps(data))
    homes["state"].mkdir(parents=True)
    (homes["state"] / "progress.json").write_text(json.dumps(
        {"format": 1, "lessons": {"lesson1": {"done": [1, 2, 3, 4, 5]}}}))


def _untrusted(homes, how: str) -> None:
    for folder in (homes["cache"], homes["state"]):
        if how == "owner":
            os.chown(folder, FOREIGN_UID, FOREIGN_UID)
        else:
            os.chmod(folder, 0o777)


def _check_ignored(result: subprocess.CompletedProcess, homes) -> None:
    one_sentence(result, 0, "not saved")
    assert "other accounts can write" in result.stderr or "belongs to another account" in result.stderr
    assert "Planted" not in result.stdout and "lesson1   0/5" in result.stdout
    assert json.loads((homes["state"] / "progress.json").read_text())["lessons"]["lesson1"]


@pytest.mark.parametrize("how", ["owner", "writable"])
def test_files_in_folders_others_control_are_ignored(homes, how):
    if how == "owner" and os.geteuid() != 0:
        pytest.skip("only root can give a folder to another account")
    _forge(homes)
    _untrusted(homes, how)
    _check_ignored(tutor("list"), homes)


def _plain_user(tmp_root: Path) -> tuple[list[str], dict[str, str]] | None:
    """argv prefix and env to run `python -m tutor.cli` as a spare uid owning `tmp_root`."""
    found = plain_user()
    if found is None:
        return None
    uid, python_as, env = found
    os.chown(tmp_root, uid, uid)
    return python_as + ["-m", "tutor.cli"], dict(env, HOME=str(tmp_root))


@pytest.fixture
def plain_root():
    """A folder in /tmp for a plain user's XDG homes (pytest's tmp_path is root's alone)."""
    import shutil
    import tempfile
    root = Path(tempfile.mkdtemp(prefix="tutor-plain-"))
    yield root
    shutil.rmtree(root)


def test_as_a_plain_user_foreign_folders_and_a_read_only_config(plain_root):
    """The same rules for an account that is not root: root's folder is not trusted; a config
    folder it cannot write is one sentence, exit 2."""
    root = plain_root
    found = _plain_user(root)
    if found is None:
        pytest.skip("needs root (to become a plain user) and a Python a plain user can run")
    argv, env = found
    uid = os.stat(root).st_uid
    homes = {}
    for key in ("state", "config", "cache"):
        folder = root / key / "netns-tutor"
        folder.mkdir(parents=True)
        env[f"XDG_{key.upper()}_HOME"] = str(folder.parent)
        homes[key] = folder
        for d in (folder.parent, folder):
            os.chown(d, uid, uid)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(argv + list(args), env=env, check=False, capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)

    assert run("list").returncode == 0          # fills the cache as that user
    cache, = homes["cache"].glob("lessons-*.json")
    data = json.loads(cache.read_text())
    data["lessons"][0]["title"] = "Planted"
    cache.write_text(json.dumps(data))
    (homes["state"] / "progress.json").write_text('{"format": 1, "lessons": {"lesson1": {"done": [1]}}}')
    for folder in (homes["cache"], homes["state"]):
        os.chown(folder, 0, 0)                  # now root's: not the user's own
        os.chown(folder / os.listdir(folder)[0], 0, 0)
    result = run("list")
    one_sentence(result, 0, "belongs to another account", "not saved")
    assert "Planted" not in result.stdout and "lesson1   0/5" in result.stdout

    os.chmod(homes["config"], 0o500)            # a read-only config folder
    one_sentence(run("config", "name", "Ada"), 2, "config.json", "Permission denied", "not saved")
    assert os.listdir(homes["config"]) == []
