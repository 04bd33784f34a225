"""The lab: its namespaces, the one door into it, and what is read from it (`state`)."""

# The lab host's name wherever a namespace is named (checks, the lab's state, the app). Here,
# not in `state`, so that parsing a lesson (`checks.lang`) does not import dataclasses (~8 ms
# of `tutor reset`, see tests/unit/test_cli_parser.py).
HOST = "host"
