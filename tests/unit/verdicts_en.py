"""Every lesson check judged on every recorded lab (tests/unit/fixtures/state), in English: what
`tutor verify --json` says for each. `fixtures/verdicts.en.json` was written by this script run on
the code before verdicts were translated (main at f91346e); test_check_messages.py compares the
code of now with it, so translating changed no English text.

    python tests/unit/verdicts_en.py > tests/unit/fixtures/verdicts.en.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tutor.checks.diagnose import explain
from tutor.checks.engine import judge_state
from tutor.checks.lang import parse_check
from tutor.checks.observe import parse_state
from tutor.lessons.lesson import BUILTIN_LESSONS, load_lessons

STATES = Path(__file__).resolve().parent / "fixtures" / "state"
LOSS = "1 packets transmitted, 0 received, 100% packet loss, time 0ms"


def verdicts() -> dict[str, dict[str, list]]:
    """{state: {check line: [passed, found, hint]}}, behaviour checks as if their probe failed."""
    lines = sorted({c.text for l in load_lessons(BUILTIN_LESSONS) for s in l.steps for c in s.checks})
    out: dict[str, dict[str, list]] = {}
    for path in sorted(STATES.glob("*.txt")):
        state = parse_state(path.read_text())
        out[path.stem] = {}
        for line in lines:
            check = parse_check(line)
            v = explain(check, state, LOSS) if check.behaviour else judge_state(check, state)
            out[path.stem][line] = [v.passed, str(v.found), str(v.hint)]
    return out


if __name__ == "__main__":
    json.dump(verdicts(), sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
    sys.stdout.write("\n")
