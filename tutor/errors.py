"""The one-sentence errors the command line turns into exit code 2 (a leaf: imports nothing).

`CliError` is for the command line's own sentences (bad arguments, settings that cannot be
saved). The lab's are `tutor.lab.door.LabError` and its kinds in `tutor.lab.control`.
"""


class CliError(Exception):
    """One sentence for the user; exit code 2."""
