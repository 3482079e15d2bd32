"""invoke's Program over the task tree: what `docker-vpn-helper`, `python -m docker_vpn_helper`
and, from a clone, `invoke` run (the clone's tasks.py hands its command line over, `serve_clone`).

On top of invoke's own Program:

- `docker-vpn-helper help [TASK]` is `--help [TASK]`;
- `--quiet` (a core flag, accepted anywhere on the line): nothing on stderr unless it fails;
- every mistake on the command line is one line naming the fix: a misspelled task or flag gets
  "did you mean ...?", a value that is no number names its flag (invoke's parser raises a bare
  ValueError there);
- a failed `fix` or `env.print` whose stdout is not a terminal (it is being eval'ed, sourced or
  written to a file) ends its stdout with one statement that fails in the format it was asked
  for (`false` for the shells), so `eval "$(docker-vpn-helper fix)"` fails too instead of
  succeeding with nothing set. A misspelled `fixx` counts as the `fix` it was meant to be.

What invoke's core flags mean for a task (`-R`, `-e`, ...) is the executor's business
(executor.core_settings): the executor runs the tasks for every door.
"""

from __future__ import annotations

import ast
import difflib
import os
import re
import sys
from collections.abc import Iterable, Sequence

from invoke import Argument, Collection, Program
from invoke.exceptions import Exit, ParseError
from invoke.parser import ParserContext

from . import __version__, report
from .errors import HelperError
from .executor import MachineExecutor
from .tasks import namespace

# The tasks whose stdout people eval, source or include.
EVALUATED = ("fix", "env.print")
QUIET = "--quiet"
LIST_FORMATS = ("flat", "nested", "json")
# invoke's one message for a word it knows neither as a task nor as a flag.
_UNKNOWN = re.compile(r"No idea what (.+) is!")


def shell_flag(words: Sequence[str]) -> str | None:
    """The value of `--shell` among a task's words, if given."""
    for index, word in enumerate(words):
        if word == "--shell" and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--shell="):
            return word[len("--shell=") :]
    return None


def failure_statement(argv: Sequence[str], environ=os.environ, meant: str = "") -> str:
    """What a failed run of `argv` prints on stdout: a statement that fails where the output is
    eval'ed, in the format asked for; "" when `argv` runs no evaluated task (`meant`: the
    evaluated task a misspelled word on the line stands for)."""
    from .core import envfmt

    words = list(argv[1:])
    starts = [i for i, word in enumerate(words) if word in EVALUATED]
    if not starts and not meant:
        return ""
    after = words[starts[0] + 1 :] if starts else words
    return envfmt.failure_statement(shell_flag(after) or envfmt.detect_format(environ))


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice `word` most likely misspells, if any is close."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def not_a_number(words: Sequence[str], contexts: Iterable[ParserContext]) -> str:
    """The line for a whole-number flag given something else (`--port abc`): invoke's parser
    raises a bare ValueError that names neither the flag nor the value's place."""
    contexts = list(contexts)
    for index, word in enumerate(words):
        flag, has_value, value = word.partition("=")
        if not any(flag in ctx.flags and ctx.flags[flag].kind is int for ctx in contexts):
            continue
        if not has_value:
            value = words[index + 1] if index + 1 < len(words) else ""
        try:
            int(value)
        except ValueError:
            return HelperError(f"{flag} takes a whole number, not {value!r}").message
    return HelperError("a flag that takes a whole number was given something else").message


class HelperProgram(Program):
    meant = ""  # the evaluated task a misspelled word stood for (`fixx`), once seen

    def core_args(self) -> list[Argument]:
        return [
            *super().core_args(),
            Argument(
                names=("quiet",),
                kind=bool,
                default=False,
                help="Print nothing on stderr unless something fails (for scripts).",
            ),
        ]

    def normalize_argv(self, argv: Sequence[str] | None) -> None:
        """`help [TASK]` means `--help [TASK]`; `--quiet` may come after the task too."""
        super().normalize_argv(argv)
        words = list(self.argv)
        rest = words[1:]
        if rest and rest[0] == "help":
            rest[0] = "--help"
        if QUIET in rest[1:]:
            rest = [QUIET, *(word for word in rest if word != QUIET)]
        self.argv = [*words[:1], *rest]

    def parse_core(self, argv: Sequence[str] | None) -> None:
        try:
            super().parse_core(argv)
        except ValueError:
            raise Exit(not_a_number(self.argv[1:], [self.initial_context]), 1) from None
        report.set_quiet(bool(self.args.quiet.value))

    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except ParseError as error:
            raise Exit(self.explain(error), 1) from None
        except ValueError:
            contexts = [self.initial_context, *self.parser.contexts.values()]
            raise Exit(not_a_number(self.core.unparsed, contexts), 1) from None

    def parse_cleanup(self) -> None:
        chosen = self.args["list-format"].value
        if chosen not in LIST_FORMATS:
            message = f"-F/--list-format takes {', '.join(LIST_FORMATS)}, not {chosen!r}"
            raise Exit(HelperError(message).message, 1)
        try:
            super().parse_cleanup()
        except ParseError as error:
            raise Exit(self.explain(error), 1) from None

    def explain(self, error: ParseError) -> str:
        """invoke's parse error as one line that names the fix: for an unknown word, the task or
        flag it most likely misspells."""
        from .adapters.host import program_name

        unknown = _UNKNOWN.fullmatch(str(error))
        if unknown is None:
            return HelperError(str(error)).message
        word = ast.literal_eval(unknown.group(1))
        task = error.context.name if error.context is not None else None
        if not word.startswith("-"):
            guess = closest(word, self.parser.contexts)
            if guess in EVALUATED:
                self.meant = guess
            line = f"no task {word!r}" + (f"; did you mean {guess!r}?" if guess else "")
            return HelperError(f"{line} ({program_name()} --list shows them all)").message
        flags = [*self.initial_context.flags]
        if task:
            flags += list(error.context.flags)
        guess = closest(word, flags)
        where = f"{task} has no flag {word}" if task else f"no core flag {word}"
        usage = f"{program_name()} help {task}" if task else f"{program_name()} --help"
        line = where + (f"; did you mean {guess}?" if guess else "")
        return HelperError(f"{line} ({usage} lists them)").message

    def run(self, argv: Sequence[str] | None = None, exit: bool = True) -> None:
        try:
            super().run(argv, exit)
        except SystemExit as done:
            if done.code not in (0, None) and not sys.stdout.isatty():
                words = getattr(self, "argv", None) or argv or sys.argv
                statement = failure_statement(words, meant=self.meant)
                if statement:
                    sys.stdout.write(statement)
                    sys.stdout.flush()
            raise


class CloneProgram(HelperProgram):
    """The same Program for a clone's `invoke`: it also takes invoke's task-runner flags
    (`-c/--collection`, `-r/--search-root`, which found tasks.py already; `--no-dedupe`) and reads
    the invoke.yaml beside tasks.py as invoke would (project configuration)."""

    def __init__(self, project: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.project = project

    def core_args(self) -> list[Argument]:
        return [*super().core_args(), *self.task_args()]

    def create_config(self) -> None:
        super().create_config()
        self.config.set_project_location(self.project)
        self.config.load_project()


def loading_program() -> Program | None:
    """invoke's own Program (the `invoke`/`inv` command) while it loads the task file that asks,
    to run a command line with it; None when that file is imported any other way."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is Program.load_collection.__code__:
            running = frame.f_locals.get("self")
            return running if isinstance(running, Program) else None
        frame = frame.f_back
    return None


def serve_clone(namespace: Collection, project: str) -> None:
    """From a clone's tasks.py: when `invoke` is loading it to run a command line, run that line
    with this Program over `namespace` instead, and end the process (same stdout, stderr and
    exit status as `docker-vpn-helper`). invoke selects no Program from configuration (only an
    executor), and `--quiet`, "did you mean", the failing statement and the wording of parse
    errors all happen before or around the executor. Imported any other way, this does nothing.
    """
    running = loading_program()
    if running is None or isinstance(running, HelperProgram):
        return
    clone = CloneProgram(
        project,
        namespace=namespace,
        version=__version__,
        binary=running.binary,
        binary_names=running.binary_names,
        executor_class=MachineExecutor,
    )
    clone.run(running.argv)
    sys.exit(0)


program = HelperProgram(
    name="docker-vpn-helper",
    binary="docker-vpn-helper",
    version=__version__,
    namespace=namespace,
    executor_class=MachineExecutor,
)
