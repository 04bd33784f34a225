"""`tutor report`: a class table from progress files collected from students' machines.

Reads every `*.json` under the given paths (by default the class drop folder `tutor submit`
fills), skips (and reports) files that are not progress records (nor regular files of at most
1 MiB: `tutor.safefile`), and prints one row per student and lesson — every lesson of the
course, 0/N where the student has not started it: steps done/total and last activity.

Everything in a row comes from files other people wrote (a student's name can be an OSC 52
sequence that writes the instructor's clipboard, or `=HYPERLINK(…)`): the text table and the
CSV show it through `tutor.sanitize`, and a CSV cell that a spreadsheet would read as a formula
gets a leading `'`, as OWASP advises. `--json` keeps the exact text (JSON escapes controls).
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from tutor import progress, safefile
from tutor.i18n import Msg, _, cause, cells
from tutor.sanitize import cell, json_text

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")   # OWASP's list for CSV injection


@dataclass
class Row:
    """One line of the class table."""
    student: str
    lesson: str
    done: int
    total: int
    last_activity: str
    file: str
    started: bool = True   # False: the lesson is not in the student's file (0/N)


def collect(paths: list[str]) -> tuple[list[Path], list[Msg]]:
    """Progress files under `paths` (files or folders), and problems with the paths themselves."""
    files, problems = [], []
    for raw in paths:
        p = Path(raw)
        if p.is_dir() and not os.access(p, os.R_OK | os.X_OK):
            problems.append(Msg("{path}: cannot list this folder (permission denied; on a classroom VM "
                                "the teachers' group may read the drop folder)", path=raw))
        elif p.is_dir():
            files += sorted(q for q in p.rglob("*.json") if q.is_file())
        elif p.is_file():
            files.append(p)
        elif p.exists():
            problems.append(Msg("{path}: not a file or folder (a FIFO or a device?)", path=raw))
        else:
            problems.append(Msg("{path}: no such file or folder", path=raw))
    return files, problems


def read_rows(files: list[Path], totals: dict[str, int]) -> tuple[list[Row], list[Msg]]:
    """Rows from every readable progress file; a sentence per skipped file. `totals`: the
    course's lessons in order, with their step counts; each gets a row for every student."""
    rows, skipped = [], []
    order = {lesson_id: n for n, lesson_id in enumerate(totals)}
    for f in files:
        try:   # collected from students: any owner, but small regular files, links not followed
            lessons, student = progress.parse(safefile.read_json(f, trusted=False))
        except (OSError, ValueError) as exc:   # UnicodeDecodeError is a ValueError
            skipped.append(Msg("skipped {path}: not a readable progress file ({why})", path=f,
                               why=cause(exc)))
            continue
        student = student or f.stem
        for lesson_id in [*totals, *(k for k in lessons if k not in totals)]:
            entry = lessons.get(lesson_id)
            if entry is None:
                rows.append(Row(student, lesson_id, 0, totals[lesson_id], "", str(f), started=False))
                continue
            total = totals.get(lesson_id) or int(entry.get("total") or 0)
            done = len(set(entry.get("done", [])))
            rows.append(Row(student, lesson_id, done, total, str(entry.get("updated", "")), str(f)))
    rows.sort(key=lambda r: (r.student, (0, order[r.lesson], "") if r.lesson in order
                             else (1, *_lesson_order(r.lesson))))
    return rows, skipped


def _lesson_order(lesson_id: str) -> tuple[int, str]:
    digits = "".join(ch for ch in lesson_id if ch.isdigit())
    return (int(digits) if digits else 0, lesson_id)


def render(rows: list[Row], fmt: str) -> str:
    """The table as text, CSV or JSON."""
    if fmt == "json":
        return json_text(json.dumps([asdict(r) for r in rows], indent=1))
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["student", "lesson", "done", "total", "last_activity"])
        for r in rows:
            w.writerow([csv_cell(r.student), csv_cell(r.lesson), r.done, r.total,
                        csv_cell(r.last_activity)])
        return buf.getvalue().rstrip("\n")
    if not rows:
        return _("no progress recorded")
    shown = [(cell(r.student), cell(r.lesson), cell(r.last_activity)) for r in rows]
    heads = _("student"), _("lesson"), _("steps"), _("last activity")
    width = max(cells(heads[0]), *(cells(student) for student, _l, _a in shown))
    lines = [f"{_pad(heads[0], width)}  {_pad(heads[1], 9)} {_pad(heads[2], 7, right=True)}  {heads[3]}"]
    for r, (student, lesson, last) in zip(rows, shown, strict=True):
        steps = f"{r.done}/{r.total}" if r.total else str(r.done)
        lines.append(f"{_pad(student, width)}  {_pad(lesson, 9)} {steps:>7}  {last or '-'}")
    return "\n".join(lines)


def _pad(text: str, width: int, right: bool = False) -> str:
    """`text` padded with spaces to `width` columns (on the left with `right`)."""
    fill = " " * max(0, width - cells(text))
    return fill + text if right else text + fill


def csv_cell(text: str) -> str:
    """A text cell for the CSV: controls made visible, and a leading `'` where a spreadsheet
    would otherwise run the cell as a formula (`=`, `+`, `-`, `@`, tab or CR first)."""
    text = cell(text)
    return "'" + text if text.startswith(FORMULA_START) else text
