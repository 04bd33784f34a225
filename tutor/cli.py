"""The `tutor` command line.

Exit codes (a contract instructors script against): 0 success; 1 `verify`/`selftest` found
failing checks, or `lab status` found no lab; 2 usage, lab or lesson-file errors — always with
one sentence on stderr, never a traceback. Subcommands import what they need lazily so
`tutor verify` and `tutor shell` never pay for Textual.
"""

from __future__ import annotations

import os
import sys

from tutor.errors import CliError
from tutor.i18n import LANGS, Msg, _, known, lang

TYPE_CHECKING = False
if TYPE_CHECKING:   # typing itself is not imported: `tutor reset` and `verify` never need it
    import argparse

    from tutor.lab.lifecycle import Starting

USAGE_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        argv = _take_lang(argv)
    except CliError as exc:
        _error(exc)
        return USAGE_ERROR
    starting = _throwaway_for(argv)
    try:
        from tutor.cli_parser import COMMANDS, parser, speak
        speak(lang())
        args = parser(argv[0] if argv and argv[0] in COMMANDS else None).parse_args(argv)
        code = _dispatch(args, starting)
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
    finally:
        if starting is not None:
            starting.stop()


def _throwaway_for(argv: list[str]) -> Starting | None:
    """`tutor selftest …`: its throwaway lab, on its way up before argparse is even imported.

    The lab's start (~80 ms: its agent imports its modules, makes its namespaces and its
    world) is what selftest waits for (issue 15); begun here, it runs beside this process's
    imports and its reading of the lessons. A command line that turns out wrong stops it
    again (`main`'s finally). If it cannot begin here, selftest begins it again after the
    command line is read, and says why there."""
    if not argv or argv[0] != "selftest" or any(a in ("-h", "--help") for a in argv):
        return None
    from tutor.lab import control, lifecycle
    try:
        return lifecycle.start_throwaway()
    except (control.LabError, OSError):
        return None


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


def _dispatch(args: argparse.Namespace, starting: Starting | None = None) -> int:
    cmd = args.cmd
    if cmd in (None, "start", "demo"):   # the course app: it ends start-up once it has painted
        from tutor import commands
        return commands.demo(args) if cmd == "demo" else commands.start(args)
    from tutor import collector
    collector.started()
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
        own = starting is None
        starting = starting or lifecycle.start_throwaway()
        try:
            from tutor import commands
            return commands.selftest(args, starting)
        finally:
            if own:
                starting.stop()
    from tutor import commands
    return getattr(commands, cmd)(args)   # list, verify, solve, reset, report, config, trace, submit


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


def run() -> None:
    """The `tutor` program (the console script): `main`, then out.

    After the last line is printed, the interpreter's own teardown (every module and object
    freed one by one) takes ~10 ms here: a tenth of what `tutor selftest` adds to its lesson's
    own commands (issue 15). When that teardown has nothing else to do (no thread but this
    one, nothing registered with `atexit`, the output flushed) the process leaves at once with
    `os._exit`; otherwise the usual way. Tests call `main`, which returns.

    The garbage collector is held off while the program starts (`tutor.collector`)."""
    from tutor import collector
    collector.hold()
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):   # a reader that went away: the usual exit says nothing more
        sys.exit(code)
    import atexit

    from tutor.lab.spawn import single_threaded
    if single_threaded() and getattr(atexit, "_ncallbacks", lambda: 1)() == 0:
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    # `python -m tutor.cli` (as a plain user's tests run it): the importable module's `run`,
    # whose CliError is the one the commands raise, not this __main__ copy's
    from tutor.cli import run as _run
    _run()
