"""`python -m tutor.lessons.hints_table [STATES_DIR] > docs/hints.ko.md`: real hints, English and
Korean side by side.

Every lesson check is judged on every recorded lab state (`tests/unit/fixtures/state/*.txt`,
captured from real labs; behaviour checks as `tutor verify` explains a lost ping), and the
first failing verdict of each kind of hint (its template) makes a row: what the student would
read in either language. Nothing here is written by hand; `tests/unit/test_check_messages.py`
fails when the file is not what this prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tutor.checks.diagnose import explain
from tutor.checks.engine import judge_state
from tutor.checks.lang import parse_check
from tutor.checks.observe import parse_state
from tutor.i18n import Msg, in_lang
from tutor.lessons.lesson import BUILTIN_LESSONS, load_lessons

STATES = Path(__file__).resolve().parents[2] / "tests" / "unit" / "fixtures" / "state"
LOSS = "1 packets transmitted, 0 received, 100% packet loss, time 0ms"


def rows(states: Path = STATES) -> list[tuple[str, str, str, str]]:
    """(state, check line, English hint, Korean hint): one per hint template, in lesson order."""
    checks = list(dict.fromkeys(c.text for l in load_lessons(BUILTIN_LESSONS) for s in l.steps for c in s.checks))
    labs = {p.stem: parse_state(p.read_text()) for p in sorted(states.glob("*.txt"))}
    seen: set[str] = set()
    out = []
    for line in checks:
        check = parse_check(line)
        for name, state in labs.items():
            v = explain(check, state, LOSS) if check.behaviour else judge_state(check, state)
            key = v.hint.template if isinstance(v.hint, Msg) else str(v.hint)
            if v.passed or key in seen:
                continue
            seen.add(key)
            out.append((name, line, str(v.hint), in_lang(v.hint, "ko")))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(states: Path = STATES) -> str:
    """The page: a table of every row."""
    found = rows(states)
    lines = ["# Hints in English and Korean", "",
             f"{len(found)} hints as `tutor verify` gives them, one for each kind of hint: every lesson check "
             "judged on the lab states recorded in `tests/unit/fixtures/state/`. Made by "
             "`python -m tutor.lessons.hints_table > docs/hints.ko.md`; do not edit by hand.", "",
             "| lab state | check | hint | 힌트 |", "|---|---|---|---|"]
    lines += [f"| {state} | `{_cell(check)}` | {_cell(en)} | {_cell(ko)} |" for state, check, en, ko in found]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown(Path(sys.argv[1]) if len(sys.argv) > 1 else STATES))
