"""The check kinds, one module each: the registry that finds them.

Every module here not starting with `_` is a check kind: the first word of its lines is the
module's name, and its `KIND` (a `_kind.Kind`) holds everything about it — grammar, layer, what
the observation reads, its judge or its probe, its explanation and its documentation line. The
parser, the observation, the engine and the diagnosis ask this registry; none of them names a
kind. Adding a kind is one module here plus its test (docs/lesson-format.md, "Adding a check
kind").

Kinds are found by listing this folder, so knowing the names costs no import; a kind's module
is imported the first time something needs it.
"""

from __future__ import annotations

import os
from importlib import import_module

TYPE_CHECKING = False   # not typing's: `tutor reset` loads this module and no typing
if TYPE_CHECKING:
    from tutor.checks.kinds._kind import Kind, ProbeKind, StateKind

_HERE = os.path.dirname(os.path.abspath(__file__))
_names: tuple[str, ...] = ()
_loaded: dict[str, Kind] = {}


def names() -> tuple[str, ...]:
    """Every kind's name, sorted (the modules in this folder; nothing is imported)."""
    global _names
    if not _names:
        _names = tuple(sorted(f[:-3] for f in os.listdir(_HERE)
                              if f.endswith(".py") and not f.startswith("_")))
    return _names


def files() -> list[str]:
    """The kinds' source files: what a check line parses to depends on them."""
    return [os.path.join(_HERE, f"{n}.py") for n in names()] + [os.path.join(_HERE, "_kind.py")]


def get(name: str) -> Kind:
    """The kind called `name` (KeyError if there is none)."""
    kind = _loaded.get(name)
    if kind is None:
        if name not in names():
            raise KeyError(name)
        kind = _loaded[name] = import_module(f"{__name__}.{name}").KIND
    return kind


def state(name: str) -> StateKind:
    """The state kind called `name`: one that judges what was read."""
    from tutor.checks.kinds._kind import StateKind
    kind = get(name)
    if not isinstance(kind, StateKind):
        raise TypeError(f"{name} is not a state check")
    return kind


def probe(name: str) -> ProbeKind:
    """The behaviour kind called `name`: one that is probed."""
    from tutor.checks.kinds._kind import ProbeKind
    kind = get(name)
    if not isinstance(kind, ProbeKind):
        raise TypeError(f"{name} is not a behaviour check")
    return kind


def all_kinds() -> list[Kind]:
    """Every kind, lowest layer first (by name within a layer)."""
    return sorted((get(n) for n in names()), key=lambda k: (k.layer, k.name))


def markdown() -> str:
    """The table of check kinds in docs/lesson-format.md."""
    lines = ["| line | passes when |", "|---|---|"]
    lines += [f"| `{k.syntax.replace('|', chr(92) + '|')}` | {k.means} |" for k in all_kinds()]
    return "\n".join(lines) + "\n"
