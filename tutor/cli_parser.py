"""The `tutor` command line's parser, and argparse's own words in the course's language.

Apart from `tutor.cli` so that `tutor selftest` can begin its throwaway lab before argparse
(~10 ms) and the help texts' imports are paid (`tutor.cli._throwaway_for`).
"""

from __future__ import annotations

import argparse
import os
import sys

from tutor.i18n import LANGS, LOCALE_DIR, _, lang
from tutor.lab.world import DNS_SERVER, NODE_NAMES, node

COMMANDS = ("lab", "shell", "doctor", "list", "verify", "solve", "trace", "reset", "selftest", "report",
            "config", "demo", "submit", "start")


def parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with `only`, just that command's (a few ms less per call)."""

    def want(name: str) -> bool:
        return only is None or only == name

    p = _Parser(
        prog="tutor", description=_("A hands-on course in Linux container networking, "
        "in a lab of namespaces that can never harm this machine."),
        epilog=_("With no command, the course opens at the first unfinished lesson."))
    p.add_argument("--lang", choices=LANGS, help=_("the course's language (default: TUTOR_LANG, else the "
                   "locale: ko_KR.UTF-8 is Korean, anything else English)"))
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

    if want("lab"):
        lab = sub.add_parser("lab", help=_("start, inspect or stop the lab"))
        lab_sub = lab.add_subparsers(dest="lab_cmd", metavar="ACTION", required=True)
        lab_sub.add_parser("up", help=_("start the lab (does nothing if it runs)"))
        lab_sub.add_parser("status", help=_("exit 0 and print its pid if the lab runs, else exit 1"))
        lab_sub.add_parser("down", help=_("stop the lab; nothing of it remains"))

    if want("shell"):
        sh = sub.add_parser("shell", help=_("a root shell in the lab (starts the lab if needed)"))
        where = sh.add_mutually_exclusive_group()
        where.add_argument("-n", "--netns", metavar="NS",
                           help=_("inside network namespace NS, as `ip netns exec NS` sees it"))
        where.add_argument("--node", choices=NODE_NAMES, help=_("on a machine of the simulated world"))
        sh.add_argument("-c", dest="command", metavar="'COMMAND LINE'",
                        help=_("run one command line and exit with its status"))

    if want("doctor"):
        sub.add_parser("doctor", help=_("can a lab run here, in which mode, what is missing"))
    if want("list"):
        sub.add_parser("list", help=_("lessons with steps done/total"))

    for name, text in (("verify", _("check the lab against a lesson's steps")),
                       ("solve", _("run a lesson's own commands in the lab"))):
        if not want(name):
            continue
        c = sub.add_parser(name, help=text)
        c.add_argument("lesson", metavar="LESSON", help=_("lesson1..lesson5 (or 1..5), cni"))
        c.add_argument("--step", type=int, metavar="K", help=_("only step K (1-based)"))
        if name == "verify":
            c.add_argument("--json", action="store_true", help=_("machine-readable result"))
    if want("trace"):
        t = sub.add_parser("trace", help=_("follow one check's packet through the lab, hop by hop: "
                           "exit 0 if it gets there and back, 1 if not"),
                           epilog=_("e.g. {first}, {second}").format(
                               first=f"tutor trace 'ping {DNS_SERVER} from container10'",
                               second=f"tutor trace 'fetch http://{node('lan').host_ip}/ from node lan'"))
        t.add_argument("check", metavar="CHECK", help=_("a ping, tcp or fetch check in the lesson language"))
        t.add_argument("--json", action="store_true", help=_("machine-readable result"))
    if want("reset"):
        r = sub.add_parser("reset", help=_("rebuild the lab to LESSON's starting state"))
        r.add_argument("lesson", metavar="LESSON")
    if want("selftest"):
        st = sub.add_parser("selftest", help=_("prove every step's checks fail before and pass after its "
                            "commands, in a throwaway lab"))
        st.add_argument("lesson", metavar="LESSON", nargs="?", help=_("one lesson (default: all)"))
        st.add_argument("--lessons-dir", metavar="DIR", help=argparse.SUPPRESS)
    if want("report"):
        rep = sub.add_parser("report", help=_("a class table from collected progress files"))
        fmt = rep.add_mutually_exclusive_group()
        fmt.add_argument("--csv", action="store_const", dest="format", const="csv", help=_("CSV output"))
        fmt.add_argument("--json", action="store_const", dest="format", const="json", help=_("JSON output"))
        rep.add_argument("paths", nargs="*", metavar="PATH",
                         help=_("progress files or folders of them (default: the class drop folder)"))
    if want("config"):
        cfg = sub.add_parser("config", help=_("settings: `tutor config name \"Ada L.\"` names you in "
                                              "reports; lab-memory (default 1G) and lab-processes (default 1024) "
                                              "cap each lab started after"))
        cfg.add_argument("key", choices=["name", "lab-memory", "lab-processes"], help=_("the setting"))
        cfg.add_argument("value", nargs="?", help=_("new value (omit to show it)"))
    if want("demo"):
        d = sub.add_parser("demo", help=_("presenter mode: the course types and runs LESSON's commands "
                                          "for a class"))
        d.add_argument("lesson", metavar="LESSON")
        d.add_argument("--auto", action="store_true",
                       help=_("play the whole lesson hands-free; exit 0 if it ends with every check "
                              "passing, else 1"))
        d.add_argument("--delay", type=float, default=1.5, metavar="S",
                       help=_("with --auto: seconds between commands (default 1.5)"))
        d.add_argument("--loop", action="store_true",
                       help=_("with --auto: reset the lesson and play it again until q (kiosk)"))
        d.add_argument("--speed", type=float, default=30.0, metavar="CPS",
                       help=_("typing speed in characters per second (default 30)"))
    if want("submit"):
        hand = sub.add_parser("submit", help=_("hand your progress in to the class drop folder"))
        hand.add_argument("--to", metavar="DIR", help=_("the folder your teacher gave (default: this "
                          "machine's class drop folder)"))
    if want("start"):
        s = sub.add_parser("start", help=_("open the course at LESSON"))
        s.add_argument("lesson", metavar="LESSON", nargs="?")
    return p


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser (and, as its subparsers' class, theirs) that wraps its help for the
    language: English keeps argparse's own wrapping, another is wrapped by columns."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Formatter if lang() == "en" else _ColumnsFormatter)
        super().__init__(**kwargs)


class _Formatter(argparse.HelpFormatter):
    """argparse's own formatter, measuring the terminal without `shutil`.

    argparse makes a formatter for every argument it adds (to check its metavar), and its own
    measures the terminal with `shutil.get_terminal_size`, importing shutil and with it zlib,
    bz2 and lzma: ~2.5 ms of `tutor selftest`'s start (issue 15) for a width no parse uses."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)


def terminal_columns() -> int:
    """The terminal's columns as `shutil.get_terminal_size().columns` tells them: COLUMNS when
    it is a positive number, else stdout's terminal, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _ColumnsFormatter(_Formatter):
    """argparse's help wrapped by terminal columns, not characters (textwrap counts a Hangul
    syllable as one, the terminal shows two), and never inside a word such as `lab-memory`."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return _wrap(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(indent + line for line in _wrap(text, width - len(indent)))


def _wrap(text: str, width: int) -> list[str]:
    """`text`'s words in lines of at most `width` columns (a longer word gets a line of its own)."""
    from tutor.i18n import cells
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and cells(line) + 1 + cells(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line] if line else lines


def _english(text: str) -> str:
    return text


def _english_n(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def speak(code: str) -> None:
    """argparse's own words (`usage:`, `options`, `-h`'s help, its errors) in language `code`.

    argparse translates them with gettext's `gettext`/`ngettext`, bound in its module at import,
    which read the process's default domain and the locale's environment; a course chosen by
    TUTOR_LANG has neither. So its two names are pointed at the `argparse` catalog next to ours
    (`tutor/locale/ko/LC_MESSAGES/argparse.po`, argparse's msgids), and for English at the
    msgids themselves: gettext's own lookup found no catalog for them either, and it looked
    again for every word, importing `locale` (~1 ms of `tutor selftest`'s start, issue 15)."""
    if code == "en":
        argparse._, argparse.ngettext = _english, _english_n  # type: ignore[attr-defined]
        return
    import gettext  # argparse imported it already: free
    words = gettext.translation("argparse", LOCALE_DIR, languages=[code], fallback=True)
    argparse._, argparse.ngettext = words.gettext, words.ngettext  # type: ignore[attr-defined]
