"""The student's settings (`tutor config`): one small JSON file, read without trusting it.

$XDG_CONFIG_HOME/netns-tutor/config.json holds `name` (for `tutor report`), `lab-memory` and
`lab-processes` (each lab's limits, see `tutor.lab.limits`). Standard library and
`tutor.safefile` only: starting a lab reads the limits from here.
"""

from __future__ import annotations

import json
import os

from tutor import safefile


def config_path() -> str:
    """$XDG_CONFIG_HOME/netns-tutor/config.json."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "netns-tutor", "config.json")


def read_config() -> dict:
    """The settings saved by `tutor config`; {} if there are none. OSError (UnsafeFile…) or
    ValueError, each with a sentence, if config.json is there but cannot be used."""
    try:
        data = safefile.read_json(config_path())
    except FileNotFoundError:
        return {}
    if not isinstance(data, dict):
        raise ValueError("it is not a JSON object")  # noqa: TRY004 - bad contents, one kind of error
    return data


def setting(key: str, default: object = None) -> object:
    """One setting, or `default` (also when config.json cannot be used: `tutor config` says why)."""
    try:
        return read_config().get(key, default)
    except (OSError, ValueError):
        return default


def save_setting(key: str, value: object) -> None:
    """Save one setting (atomically; the others kept). OSError or ValueError if config.json
    cannot be read (so it is not written over) or written."""
    config = read_config()
    config[key] = value
    safefile.write_private(config_path(), (json.dumps(config) + "\n").encode())
