"""The code and its boundaries, checked by tools (configured in pyproject.toml): ruff (lint and
import order), mypy (types) and import-linter (the layers: the core never imports the UI, the
lab nothing above it). Each runs from this venv, on the whole repository, exactly as a developer
runs it by hand from the repository's root: `ruff check`, `mypy`, `lint-imports`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("argv", [
    ["ruff", "check", "--no-fix", "."],
    ["mypy"],
    ["lint-imports"],
], ids=lambda argv: argv[0])
def test_the_tool_finds_nothing(argv):
    tool = BIN / argv[0]
    if not tool.exists():
        pytest.fail(f"{argv[0]} is not in {BIN}: install the dev extra (bin/test does: "
                    f"pip install -e '.[dev]')")
    done = subprocess.run([str(tool), *argv[1:]], cwd=REPO, env=dict(os.environ, NO_COLOR="1"),
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"`{' '.join(argv)}` found problems:\n{done.stdout}{done.stderr}"

