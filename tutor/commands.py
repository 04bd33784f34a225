"""The lesson commands of the CLI: list, verify, solve, reset, selftest, start, demo, and
report and submit (the class's progress).

Output is for people (✓/✗ with hints) unless `--json`; exit codes are the CLI's contract.
Every text from the lab or a file (names, titles, check findings, command output) goes through
`tutor.sanitize` just before it is printed for people; `--json` prints the exact text.
"""

from __future__ import annotations

import json
import sys

from tutor.i18n import Msg, _, about_file, cause, cells, in_lang, lang
from tutor.lessons.lesson import find_lesson, load_lessons
from tutor.sanitize import cell, clean, json_text

GREEN, RED, DIM, BOLD, RESET = "\033[32m", "\033[31m", "\033[2m", "\033[1m", "\033[0m"


def _c(code: str, text: str) -> str:
    return f"{code}{text}{RESET}" if sys.stdout.isatty() else text


def _progress():
    from tutor import progress
    p = progress.load()
    if p.notice:
        print(f"tutor: {clean(in_lang(p.notice, lang()))}", file=sys.stderr)
    return p


def _lab():
    from tutor.lab import control
    info = control.status()
    if info is None:
        raise control.not_running()
    return info


def list(args) -> int:  # noqa: A001 - the subcommand's name
    """`tutor list`: lessons with steps done/total."""
    p = _progress()
    for lesson in load_lessons():
        done = len(p.done(lesson.id) & {s.number for s in lesson.steps})
        total = len(lesson.steps)
        mark = _c(GREEN, "✓") if done == total else " "
        print(f"{mark} {cell(lesson.id):<9} {done}/{total}  {cell(lesson.title)}")
    return 0


def _step_or_die(lesson, step: int | None) -> None:
    if step is not None and not 1 <= step <= len(lesson.steps):
        from tutor.errors import CliError
        raise CliError(_("{lesson} has steps 1 to {last}, not {step}").format(
            lesson=lesson.id, last=len(lesson.steps), step=step))


def verify(args) -> int:
    """`tutor verify LESSON [--step K] [--json]`: 0 all pass, 1 some fail, 2 errors."""
    from tutor.checks.engine import verify as run_verify
    lesson = find_lesson(args.lesson)
    _step_or_die(lesson, args.step)
    result = run_verify(lesson, args.step, _lab())
    passed = {s.number for s in result.steps if s.passed}
    try:
        _progress().mark(lesson.id, passed, total=len(lesson.steps))
    except OSError as exc:
        print("tutor: " + _("progress not saved ({why})").format(why=exc.strerror), file=sys.stderr)
    if args.json:
        # the exact names, parsed back; only C1 and bidi characters written as \uXXXX escapes
        print(json_text(json.dumps(result.as_json(), ensure_ascii=False, indent=1)))
        return 0 if result.passed else 1
    print(_c(BOLD, f"{cell(lesson.id)}: {cell(lesson.title)}"))
    for s in result.steps:
        mark = _c(GREEN, "✓") if s.passed else _c(RED, "✗")
        print(f"{mark} " + _("step {number}: {title}").format(number=s.number, title=cell(s.title)))
        for c in s.checks:
            mark = _c(GREEN, "✓") if c.passed else _c(RED, "✗")
            # what was found quotes the lab's own names: sanitized before our colours go on
            print(f"    {mark} {cell(c.name)}  {_c(DIM, '— ' + cell(c.shown_found))}")
        if not s.passed and s.hint:
            print("    " + _("hint: {hint}").format(hint=clean(s.shown_hint)))
    done = sum(s.passed for s in result.steps)
    print(_("{done}/{total} steps pass").format(done=done, total=len(result.steps))
          + (_(" — lesson complete!") if result.passed else ""))
    return 0 if result.passed else 1


def trace(args) -> int:
    """`tutor trace CHECK [--json]`: 0 the packet got there and back, 1 it did not, 2 errors."""
    from tutor.checks.trace import TraceError, check_of, trace as run_trace
    from tutor.errors import CliError
    try:
        check_of(args.check)   # a check it cannot follow is said before the lab is looked for
        found = run_trace(args.check, _lab())
    except TraceError as exc:
        raise CliError(cause(exc)) from None
    if args.json:
        print(json_text(json.dumps(found.as_json(), ensure_ascii=False, indent=1)))
        return 0 if found.reached else 1
    found = found.shown()   # the hops in the course's language (the JSON above stays English)
    print(_c(BOLD, _("trace: {check}").format(check=cell(found.check))))
    width = max((cells(h.where) for h in found.hops), default=0)
    for h in found.hops:
        mark = {True: _c(GREEN, "✓"), False: _c(RED, "✗"), None: "?"}[h.ok]
        where = cell(h.where)
        print(f"  {mark} {where}{' ' * (width - cells(where))}  {clean(h.what)}")
    if found.counters:
        print(_c(DIM, "  " + _("counters the probe moved: {counters}").format(counters="; ".join(found.counters))))
    if found.reached:
        print(_c(GREEN, _("it gets there and back")))
    else:
        print(_c(RED, _("it does not get there and back: it dies at the ✗ above")))
        if found.hint:
            print("  " + _("hint: {hint}").format(hint=clean(found.hint)))
    return 0 if found.reached else 1


def solve(args) -> int:
    """`tutor solve LESSON [--step K]`: run the lesson's own commands, echoed."""
    from tutor.lab import lifecycle
    from tutor.lessons.course import solve_step
    lesson = find_lesson(args.lesson)
    _step_or_die(lesson, args.step)
    info, _started = lifecycle.up()
    ok = True
    for step in lesson.steps:
        if args.step is None or step.number == args.step:
            print(_c(BOLD, "# " + _("step {number}: {title}").format(number=step.number, title=cell(step.title))),
                  flush=True)
            ok &= solve_step(step, lambda line: print(clean(line), flush=True), info)
    return 0 if ok else 1


def reset(args) -> int:
    """`tutor reset LESSON`: the lab rebuilt to LESSON's start."""
    from tutor.lab import lifecycle
    from tutor.lessons.course import reset_lesson
    lessons = load_lessons()
    lesson = find_lesson(args.lesson, lessons=lessons)
    info, _started = lifecycle.up()
    reset_lesson(lesson, info, lessons)
    print(_("lab reset to the start of {lesson}: {title}").format(lesson=cell(lesson.id), title=cell(lesson.title)))
    return 0


def selftest(args, starting=None) -> int:
    """`tutor selftest [LESSON]`: in a throwaway lab, every step fails before and passes after.

    `starting`: the throwaway lab, already on its way up (`tutor.lab.lifecycle.start`)."""
    from tutor.lessons.course import selftest as run_selftest
    directory = getattr(args, "lessons_dir", None) or None
    everything = load_lessons(directory)
    lessons = [find_lesson(args.lesson, directory, everything)] if args.lesson else everything

    def show(line) -> None:
        mark = _c(GREEN, "✓") if line.ok else _c(RED, "✗")
        label = _("step {number}").format(number=line.step) if line.step else _("end")
        print(f"{mark} {cell(line.lesson)} {label}: {cell(line.title)}"
              + (f"\n    {clean(line.detail)}" if line.detail else ""), flush=True)

    report = run_selftest(lessons, everything, show, starting)
    bad = sum(not l.ok for l in report.lines)
    print(_("{passed} passed, {failed} failed in {seconds:.1f} s").format(
        passed=len(report.lines) - bad, failed=bad, seconds=report.seconds))
    return 0 if report.ok else 1


def start(args) -> int:
    """`tutor` / `tutor start LESSON`: open the course (the Textual app)."""
    lesson_id = getattr(args, "lesson", None)
    if lesson_id:
        lesson_id = find_lesson(lesson_id).id
    from tutor.app import run_app
    return run_app(lesson_id)


def demo(args) -> int:
    """`tutor demo LESSON [--auto [--delay S] [--loop]] [--speed CPS]`: the presenter mode."""
    from tutor.errors import CliError
    lesson = find_lesson(args.lesson)
    if args.loop and not args.auto:
        raise CliError(Msg("--loop plays the lesson over and over by itself, so it needs --auto"))
    if not 0 <= args.delay <= 3600:
        raise CliError(Msg("--delay is seconds between commands, from 0 to 3600, not {delay}", delay=f"{args.delay:g}"))
    if not 1 <= args.speed <= 1000:
        raise CliError(Msg("--speed is characters per second, from 1 to 1000, not {speed}", speed=f"{args.speed:g}"))
    from tutor.app.demo import run_demo
    return run_demo(lesson.id, auto=args.auto, delay=args.delay, loop=args.loop, speed=args.speed)


def report(args) -> int:
    """`tutor report [--csv|--json] [PATH…]`: the class table (default: the class drop folder);
    unreadable files are skipped, with a note."""
    from tutor import progress, report as rep
    from tutor.errors import CliError
    paths = args.paths
    if not paths:
        drop = progress.handin_dir()
        if not drop.is_dir():
            raise CliError(Msg("no PATH given and there is no class drop folder here ({drop}); "
                               "give the folders or files of progress to read", drop=drop))
        paths = [str(drop)]
    files, problems = rep.collect(paths)
    totals = {}
    try:
        totals = {l.id: len(l.steps) for l in load_lessons()}
    except Exception:  # a broken lesson file must not hide the class's progress
        pass
    rows, skipped = rep.read_rows(files, totals)
    for line in problems + skipped:
        print(f"tutor: {clean(in_lang(line, lang()))}", file=sys.stderr)   # file names and what they held
    if not files:
        raise CliError(Msg("no progress files found in {paths}", paths=", ".join(paths)))
    print(rep.render(rows, args.format or "text"))
    return 0


def submit(args) -> int:
    """`tutor submit [--to DIR]`: hand the student's progress in to the class drop folder
    (default: the one install.sh made beside the project) as ACCOUNT.json; exit 2 on errors."""
    from pathlib import Path

    from tutor import progress
    from tutor.errors import CliError
    folder = Path(args.to) if args.to else progress.handin_dir()
    record = _progress()
    if not record.saves:
        raise CliError(Msg("your progress file cannot be read, so there is nothing to hand in"))
    try:
        dest = progress.hand_in(record, folder)
    except FileNotFoundError:
        raise CliError(Msg("there is no class drop folder {folder}", folder=folder) if args.to else
                       Msg("there is no class drop folder {folder}; give your teacher's folder with --to DIR",
                           folder=folder)) from None
    except OSError as exc:
        from tutor.safefile import UnsafeFile
        why = about_file(exc) if isinstance(exc, UnsafeFile) else f"{exc.strerror or exc}"
        raise CliError(Msg("could not hand in to {folder}: {why}", folder=folder, why=why)) from None
    print(_("handed in to {path}").format(path=cell(str(dest))))
    return 0


def config(args) -> int:
    """`tutor config name [VALUE]`: show or set the name reports use for this student.

    A config.json that cannot be used is one sentence and exit 2, and is never written over."""
    from tutor import progress
    from tutor.errors import CliError
    if args.key != "name":
        return _config_limit(args)
    if args.value is None:
        try:
            progress.read_config()
        except (OSError, ValueError) as exc:
            raise CliError(_config_problem(progress.config_path(), exc)) from None
        print(cell(progress.student_name()))
        return 0
    name = " ".join(args.value.split())
    if not name or len(name) > 80:
        raise CliError(Msg("a name is 1 to 80 characters"))
    try:
        progress.set_student_name(name)
    except (OSError, ValueError) as exc:
        raise CliError(Msg("{problem}; the name was not saved",
                           problem=_config_problem(progress.config_path(), exc))) from None
    p = _progress()
    p.student = name
    try:
        p.save()
    except OSError as exc:
        print("tutor: " + _("progress not saved ({why})").format(why=exc.strerror), file=sys.stderr)
    print(_("reports will call you {name!r}").format(name=name))
    return 0


def _config_limit(args) -> int:
    """`tutor config lab-memory|lab-processes [VALUE]`: show or set a lab limit."""
    from tutor import settings
    from tutor.errors import CliError
    from tutor.lab import limits
    if args.value is None:
        try:
            settings.read_config()
        except (OSError, ValueError) as exc:
            raise CliError(_config_problem(settings.config_path(), exc)) from None
        now = limits.configured()
        print(limits.show_memory(now.memory) if args.key == "lab-memory" else now.processes)
        return 0
    try:
        if args.key == "lab-memory":
            value: object = limits.show_memory(limits.parse_memory(args.value))
        else:
            value = limits.parse_processes(args.value)
    except ValueError as exc:
        raise CliError(cause(exc)) from None
    try:
        settings.save_setting(args.key, value)
    except (OSError, ValueError) as exc:
        raise CliError(Msg("{problem}; nothing was saved",
                           problem=_config_problem(settings.config_path(), exc))) from None
    print(_("{key} is {value} for labs started from now on (`tutor lab down` stops a running one)").format(
        key=args.key, value=value))
    return 0


def _config_problem(path, exc: Exception) -> Msg:
    """One sentence for a config.json that cannot be read or written."""
    from tutor.safefile import UnsafeFile
    if isinstance(exc, UnsafeFile):
        return Msg("the settings file {problem}", problem=about_file(exc))
    if isinstance(exc, OSError):
        return Msg("cannot use the settings file {path} ({why})", path=path, why=exc.strerror)
    return Msg("the settings file {path} is not valid ({why})", path=path, why=cause(exc))
