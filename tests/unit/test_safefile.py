"""tutor.safefile: small regular files only, read without blocking or flooding; folders others
control are not trusted; private atomic writes."""

from __future__ import annotations

import os
import stat

import pytest

from tutor import safefile

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another account")


@pytest.fixture
def home(tmp_path):
    d = tmp_path / "home"
    d.mkdir(mode=0o700)
    return d


def test_reads_a_small_file(home):
    (home / "f").write_bytes(b"x" * safefile.SMALL)
    assert safefile.read_bytes(home / "f") == b"x" * safefile.SMALL


def test_one_byte_over_the_limit_is_refused(home):
    (home / "f").write_bytes(b"x" * 11)
    assert safefile.read_bytes(home / "f", limit=11)
    (home / "f").write_bytes(b"x" * 12)
    with pytest.raises(safefile.UnsafeFile, match="larger than"):
        safefile.read_bytes(home / "f", limit=11)


@pytest.mark.parametrize("trusted", [True, False])
def test_a_fifo_is_refused_at_once(home, trusted):
    os.mkfifo(home / "f")
    with pytest.raises(safefile.UnsafeFile, match="not a regular file"):
        safefile.read_bytes(home / "f", trusted=trusted)      # would block without O_NONBLOCK


def test_a_folder_is_refused(home):
    (home / "f").mkdir()
    with pytest.raises(safefile.UnsafeFile, match="not a regular file"):
        safefile.read_bytes(home / "f")


def test_a_link_to_dev_zero(home):
    (home / "f").symlink_to("/dev/zero")
    with pytest.raises(safefile.UnsafeFile, match="symbolic link"):
        safefile.read_bytes(home / "f")                       # state files are never links
    with pytest.raises(safefile.UnsafeFile, match="symbolic link"):
        safefile.read_bytes(home / "f", trusted=False)
    with pytest.raises(safefile.UnsafeFile, match="not a regular file"):
        safefile.read_bytes(home / "f", trusted=False, follow=True)   # followed, then refused


def test_missing_is_file_not_found(home):
    with pytest.raises(FileNotFoundError):
        safefile.read_bytes(home / "nothing" / "f")


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777])
def test_a_folder_others_can_write_is_not_trusted(home, mode):
    (home / "f").write_text("{}")
    os.chmod(home, mode)
    with pytest.raises(safefile.Untrusted, match="other accounts can write"):
        safefile.read_bytes(home / "f")
    assert safefile.read_bytes(home / "f", trusted=False) == b"{}"


def test_a_sticky_shared_folder_above_is_fine(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)                                  # like /tmp
    (shared / "mine").mkdir(mode=0o700)
    (shared / "mine" / "f").write_text("ok")
    assert safefile.read_bytes(shared / "mine" / "f") == b"ok"


def test_a_link_to_a_folder_others_can_write_is_not_trusted(home, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "f").write_text("{}")
    os.chmod(other, 0o777)
    (home / "link").symlink_to(other)
    with pytest.raises(safefile.Untrusted):
        safefile.read_bytes(home / "link" / "f")


@root_only
def test_a_folder_or_file_of_another_account_is_not_trusted(home):
    (home / "f").write_text("{}")
    os.chown(home / "f", 65534, 65534)
    with pytest.raises(safefile.Untrusted, match="belongs to another account"):
        safefile.read_bytes(home / "f")
    os.chown(home / "f", 0, 0)
    os.chown(home, 65534, 65534)
    with pytest.raises(safefile.Untrusted, match="belongs to another account"):
        safefile.read_bytes(home / "f")


@pytest.mark.parametrize("text", [b"[" * 100_000, b'{"a": ' * 100_000])
def test_deep_nesting_is_a_value_error(text):
    with pytest.raises(ValueError, match="nested too deeply"):
        safefile.loads_json(text)


def test_not_utf8_is_a_value_error():
    with pytest.raises(ValueError):
        safefile.loads_json(b"\xff")


def test_write_private_is_atomic_and_private(tmp_path):
    target = tmp_path / "new" / "f.json"
    safefile.write_private(target, b"one")
    safefile.write_private(target, b"two")
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(target.parent).st_mode) == 0o700
    assert os.listdir(target.parent) == ["f.json"]


def test_write_private_refuses_a_folder_others_can_write(home):
    os.chmod(home, 0o777)
    with pytest.raises(safefile.Untrusted):
        safefile.write_private(home / "f", b"x")
    assert os.listdir(home) == []


def test_write_private_replaces_a_link_not_its_target(home, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (home / "f").symlink_to(victim)
    safefile.write_private(home / "f", b"new")
    assert victim.read_text() == "keep" and (home / "f").read_bytes() == b"new"


@root_only
def test_write_private_makes_no_folder_in_another_accounts_folder(tmp_path):
    """Root with a student's HOME (sudo -E) must not leave a root-owned folder in it."""
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    with pytest.raises(safefile.Untrusted):
        safefile.write_private(theirs / "netns-tutor" / "f", b"x")
    assert os.listdir(theirs) == []
