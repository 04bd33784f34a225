"""The lab: its namespaces, the one door into it, and what is read from it (`state`)."""

# The lab host's name wherever a namespace is named (checks, the lab's state, the app). Here,
# not in `state`, so that parsing a lesson (`checks.lang`) does not import dataclasses (~8 ms
# of `tutor reset`, see tests/unit/test_cli_parser.py).
HOST = "host"


def agents_name(name: str) -> str:
    """The lab agent's name for namespace `name`: it calls the lab host "" (so a namespace a
    student calls `host` is never the lab host to it)."""
    return "" if name == HOST else name


def from_agents(name: str) -> str:
    """The name of the namespace the agent calls `name` (see `agents_name`)."""
    return name or HOST
