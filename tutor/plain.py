"""`Plain`: what a mutable value class of the CLI's path takes from `@dataclass`, without it.

`tutor verify`, `tutor selftest` and `tutor reset` import nothing else that needs `dataclasses`
(and with it `inspect`, `ast`, `dis`, `tokenize`): importing it and making the classes of the
lab's model and the engine cost `tutor verify` ~25 ms of its ~100-240 (issue 15). Immutable ones
are named tuples, as in `tutor.lab.world`; a mutable one subclasses `Plain`, lists its fields in
`__slots__` and writes its `__init__` (and its own `__repr__`, where a shorter one reads better:
the lessons' classes).
"""

from __future__ import annotations


class Plain:
    """Equality and a repr by the fields in `__slots__`, and `copy` (a shallow one). Unhashable,
    as a mutable dataclass is."""
    __slots__: tuple[str, ...] = ()
    __hash__ = None   # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(getattr(self, a) == getattr(other, a) for a in self.__slots__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{a}={getattr(self, a)!r}' for a in self.__slots__)})"

    def copy(self, **changes: object):
        """A new one with the same fields (the same objects in them), but `changes`."""
        new = object.__new__(type(self))
        for a in self.__slots__:
            setattr(new, a, changes[a] if a in changes else getattr(self, a))
        return new
