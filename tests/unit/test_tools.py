"""tools.txt: the commands only one lesson needs are reported, never fatal, and that lesson's
reset names what is missing in one sentence."""

from __future__ import annotations

from tutor.lab import doctor, tools


def test_the_cni_plugins_are_listed_for_the_cni_lesson_only():
    assert tools.FOR_LESSON["/usr/lib/cni/bridge"] == "cni"
    assert tools.TOOLS["/usr/lib/cni/bridge"] == "containernetworking-plugins"
    assert "ip" not in tools.FOR_LESSON


def test_a_missing_one_lesson_tool_is_one_sentence_naming_the_package(monkeypatch):
    monkeypatch.setitem(tools.FOR_LESSON, "/nonexistent/cni/bridge", "cni")
    monkeypatch.setitem(tools.TOOLS, "/nonexistent/cni/bridge", "containernetworking-plugins")
    said = tools.missing_for("cni")
    assert said is not None and said.count(". ") == 0
    assert said.startswith("lesson cni needs /nonexistent/cni/bridge")
    assert said.endswith("`sudo apt-get install -y containernetworking-plugins`")
    assert tools.missing_for("lesson1") is None


def test_doctor_says_which_lesson_needs_a_missing_tool_and_does_not_fail(monkeypatch):
    monkeypatch.setitem(tools.FOR_LESSON, "/nonexistent/ip", "cni")
    monkeypatch.setitem(tools.TOOLS, "/nonexistent/ip", "containernetworking-plugins")
    finding = next(f for f in doctor.findings() if f.name == "tool: /nonexistent/ip")
    assert (finding.ok, finding.fatal) == (False, False)
    assert finding.detail == "not found (only lesson cni needs it)"


def test_which_finds_what_shutil_finds(tmp_path, monkeypatch):
    """tools.which stands in for shutil.which (whose import selftest's start paid): the same
    answer for every tool of the course, on the sbin path and on a plain user's PATH."""
    import shutil
    for path in (tools.sbin_path(), "/usr/local/bin:/usr/bin:/bin", "/nonexistent:/usr/bin"):
        for cmd in [*tools.TOOLS, "no-such-tool", "sh", "/bin/sh"]:
            assert tools.which(cmd, path=path) == shutil.which(cmd, path=path), (cmd, path)
    folder = tmp_path / "bin"
    (folder / "cmd").mkdir(parents=True)                       # a folder is no command
    (folder / "plain").write_text("")                          # nor is a file that cannot run
    (folder / "tool").write_text("#!/bin/sh\n")
    (folder / "tool").chmod(0o755)
    assert tools.which("cmd", path=str(folder)) is None
    assert tools.which("plain", path=str(folder)) is None
    assert tools.which("tool", path=f"/nonexistent:{folder}") == f"{folder}/tool"


def test_which_never_looks_in_the_working_folder(tmp_path, monkeypatch):
    """An empty entry in PATH (a leading or doubled `:`) is the working folder to shutil; a
    tool the course runs as root is never taken from there."""
    (tmp_path / "ip").write_text("#!/bin/sh\n")
    (tmp_path / "ip").chmod(0o755)
    monkeypatch.chdir(tmp_path)
    assert tools.which("ip", path=":/nonexistent") is None
    assert tools.which("ip", path="/nonexistent::") is None
