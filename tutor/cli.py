"""The `tutor` command line.

Exit codes (a contract instructors script against): 0 success; 1 `verify`/`selftest` found
failing checks, or `lab status` found no lab; 2 usage, lab or lesson-file errors — always with
one sentence on stderr, never a traceback. Subcommands import what they need lazily so
`tutor verify` and `tutor shell` never pay for Textual.
"""

from __future__ import annotations

import argparse
import os
import sys

from tutor.errors import CliError
from tutor.i18n import LANGS, LOCALE_DIR, Msg, _, known, lang
from tutor.lab.world import DNS_SERVER, NODE_NAMES, node

USAGE_ERROR = 2


COMMANDS = ("lab", "shell", "doctor", "list", "verify", "solve", "trace", "reset", "selftest", "report",
            "config", "demo", "submit", "start")


def _parser(only: str | None = None) -> argparse.ArgumentParser:
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
        if lang() != "en":
            kwargs.setdefault("formatter_class", _ColumnsFormatter)
        super().__init__(**kwargs)


class _ColumnsFormatter(argparse.HelpFormatter):
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


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        argv = _take_lang(argv)
    except CliError as exc:
        _error(exc)
        return USAGE_ERROR
    _argparse_speaks(lang())
    args = _parser(argv[0] if argv and argv[0] in COMMANDS else None).parse_args(argv)
    try:
        code = _dispatch(args)
        sys.stdout.flush()   # here, not at exit: a closed pipe must reach the handler below
        return code
    except BrokenPipeError:
        return _reader_went_away()
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        _error(exc)
        return USAGE_ERROR
    except Exception as exc:  # the lab and lesson layers raise their own one-sentence errors
        from tutor.lab.control import LabError
        from tutor.lessons.course import CourseError
        from tutor.lessons.lesson import LessonError
        if isinstance(exc, (LabError, LessonError, CourseError)):
            _error(exc)
            return USAGE_ERROR
        raise


def _take_lang(argv: list[str]) -> list[str]:
    """`tutor --lang ko COMMAND …`: the language goes to TUTOR_LANG, for this process and the
    ones it starts (the course app, the lab's tools); the rest is the command line."""
    while argv and argv[0].startswith("--lang"):
        flag = argv.pop(0)
        value = flag.partition("=")[2] if "=" in flag else (argv.pop(0) if argv else "")
        if flag.partition("=")[0] != "--lang" or not known(value):
            en, ko = LANGS
            raise CliError(Msg("--lang takes {en} or {ko}, not {value!r}", en=en, ko=ko, value=value)
                           if value else Msg("--lang takes {en} or {ko}, not nothing", en=en, ko=ko))
        os.environ["TUTOR_LANG"] = value
    return argv


_ARGPARSE_ENGLISH = (argparse._, argparse.ngettext)  # type: ignore[attr-defined]


def _argparse_speaks(code: str) -> None:
    """argparse's own words (`usage:`, `options`, `-h`'s help, its errors) in language `code`.

    argparse translates them with gettext's `gettext`/`ngettext`, bound in its module at import,
    which read the process's default domain and the locale's environment; a course chosen by
    TUTOR_LANG has neither. So its two names are pointed at the `argparse` catalog next to ours
    (`tutor/locale/ko/LC_MESSAGES/argparse.po`, argparse's msgids), and back for English."""
    if code == "en":
        argparse._, argparse.ngettext = _ARGPARSE_ENGLISH  # type: ignore[attr-defined]
        return
    import gettext  # argparse imported it already: free
    words = gettext.translation("argparse", LOCALE_DIR, languages=[code], fallback=True)
    argparse._, argparse.ngettext = words.gettext, words.ngettext  # type: ignore[attr-defined]


def _error(exc: Exception) -> None:
    """The one sentence on stderr. It may quote a lesson file's line, a namespace's name or
    the agent's reply: sanitized, so their controls cannot act on the terminal."""
    from tutor.i18n import said
    from tutor.sanitize import clean
    print(f"tutor: {clean(said(exc))}", file=sys.stderr)


def _reader_went_away() -> int:
    """`tutor verify --json | head -c 600`: the reader has what it wanted. Exit quietly, as
    a command killed by SIGPIPE does in a shell (128 + 13), with stdout pointed at /dev/null so
    the interpreter's own flush at exit cannot raise again (Python docs, "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + 13


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.cmd
    if cmd == "lab":
        return _lab(args.lab_cmd)
    if cmd == "shell":
        return _shell(args)
    if cmd == "doctor":
        from tutor.lab.doctor import report
        text, ok = report()
        print(text)
        return 0 if ok else USAGE_ERROR
    if cmd == "selftest":
        # the throwaway lab builds itself while this process imports and reads the lessons
        from tutor.lab import lifecycle
        starting = lifecycle.start_throwaway()
        try:
            from tutor import commands
            return commands.selftest(args, starting)
        finally:
            starting.stop()
    if cmd in ("list", "verify", "solve", "reset", "report", "config", "demo", "trace",
               "submit"):
        from tutor import commands
        return getattr(commands, cmd)(args)
    from tutor import commands
    return commands.start(args)


def _lab(action: str) -> int:
    from tutor.lab import control, lifecycle
    from tutor.sanitize import cell
    if action == "up":
        info, started = lifecycle.up()
        said = _("lab {name} started: mode {mode}, pid {pid}") if started else \
            _("lab {name} already running: mode {mode}, pid {pid}")
        print(said.format(name=cell(info.name), mode=cell(info.mode), pid=info.pid))
        return 0
    if action == "status":
        running = control.status()
        if running is None:
            print(_("lab {name} is not running").format(name=cell(control.lab_name())))
            return 1
        # namespace names are whatever was typed in the lab (`ip netns add $'\e]0;x\a'`)
        ns = ", ".join(map(cell, running.namespaces)) or _("none")
        print(_("lab {name} is running: mode {mode}, pid {pid}, namespaces: {namespaces}").format(
            name=cell(running.name), mode=cell(running.mode), pid=running.pid, namespaces=ns))
        return 0
    stopped = lifecycle.down()
    said = _("lab {name} stopped") if stopped else _("lab {name} was not running")
    print(said.format(name=cell(control.lab_name())))
    return 0


def _shell(args: argparse.Namespace) -> int:
    from tutor.lab import client, lifecycle
    info, _started = lifecycle.up()
    if args.netns and args.netns not in info.namespaces:
        have = ", ".join(info.namespaces) or Msg("none yet")
        raise CliError(Msg("there is no namespace {ns!r} in the lab (it has: {have})", ns=args.netns, have=have))
    # Nothing in the lab may have this terminal as its controlling terminal (it could type
    # into it): on a terminal the lab gets its own, relayed by `script`; otherwise, if we have
    # a controlling terminal at all, the lab runs in a session without one.
    has_tty = _has_controlling_terminal()
    terminal = has_tty and sys.stdin.isatty()
    cmd = client.command(client.bash_argv(args.command), netns=args.netns, node=args.node,
                         info=info, terminal=terminal)
    for fd in cmd.fds:   # the namespaces the argv names, for nsenter to open
        os.set_inheritable(fd, True)
    sys.stdout.flush()
    if has_tty and not terminal:
        return _run_in_new_session(cmd.argv)
    os.execvp(cmd.argv[0], cmd.argv)
    return 0  # not reached


def _has_controlling_terminal() -> bool:
    try:
        os.close(os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY))
    except OSError:
        return False
    return True


def _run_in_new_session(argv: list[str]) -> int:
    """Run `argv` in a session of its own, passing on Ctrl-C and friends; end the way it ended."""
    import signal
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)

    def forward(sig: int, _frame: object) -> None:
        try:
            os.killpg(pid, sig)
        except OSError:
            pass

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, forward)
    _pid, status = os.waitpid(pid, 0)
    if not os.WIFSIGNALED(status):
        return os.waitstatus_to_exitcode(status)
    # Die of the same signal, as exec would have. SIGKILL's handler cannot be set (EINVAL), only
    # sent; a signal whose default is to be ignored (SIGWINCH…) leaves us alive: then end the way
    # a shell reports a command killed by it, 128 + signal.
    died_of = os.WTERMSIG(status)
    try:
        signal.signal(died_of, signal.SIG_DFL)
    except (OSError, ValueError):
        pass
    sys.stdout.flush()
    os.kill(os.getpid(), died_of)
    return 128 + died_of


if __name__ == "__main__":
    # `python -m tutor.cli` (as a plain user's tests run it): main() of the importable module,
    # whose CliError is the one the commands raise, not this __main__ copy's
    from tutor.cli import main as _main
    sys.exit(_main())
