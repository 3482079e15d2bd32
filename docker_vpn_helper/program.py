"""invoke's Program over the same task tree as tasks.py: what `docker-vpn-helper` runs.

Three things on top of invoke's own Program:

- `docker-vpn-helper help [TASK]` is `--help [TASK]`;
- `--quiet` (a core flag, accepted anywhere on the line): nothing on stderr unless it fails;
- a failed `fix` or `env.print` whose stdout is not a terminal (it is being eval'ed, sourced or
  written to a file) ends its stdout with one statement that fails in the format it was asked
  for (`false` for the shells), so `eval "$(docker-vpn-helper fix)"` fails too instead of
  succeeding with nothing set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from invoke import Argument, Program

from . import __version__, report
from .executor import MachineExecutor
from .tasks import namespace

# The tasks whose stdout people eval, source or include.
EVALUATED = ("fix", "env.print")
QUIET = "--quiet"


def shell_flag(words: Sequence[str]) -> str | None:
    """The value of `--shell` among a task's words, if given."""
    for index, word in enumerate(words):
        if word == "--shell" and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--shell="):
            return word[len("--shell=") :]
    return None


def failure_statement(argv: Sequence[str], environ=os.environ) -> str:
    """What a failed run of `argv` prints on stdout: a statement that fails where the output is
    eval'ed, in the format asked for; "" when `argv` runs no evaluated task."""
    from .core import envfmt

    words = list(argv[1:])
    starts = [i for i, word in enumerate(words) if word in EVALUATED]
    if not starts:
        return ""
    fmt = shell_flag(words[starts[0] + 1 :]) or envfmt.detect_format(environ)
    return envfmt.failure_statement(fmt)


class HelperProgram(Program):
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
        super().parse_core(argv)
        report.set_quiet(bool(self.args.quiet.value))

    def run(self, argv: Sequence[str] | None = None, exit: bool = True) -> None:
        try:
            super().run(argv, exit)
        except SystemExit as done:
            if done.code not in (0, None) and not sys.stdout.isatty():
                statement = failure_statement(getattr(self, "argv", None) or argv or sys.argv)
                if statement:
                    sys.stdout.write(statement)
                    sys.stdout.flush()
            raise


program = HelperProgram(
    name="docker-vpn-helper",
    binary="docker-vpn-helper",
    version=__version__,
    namespace=namespace,
    executor_class=MachineExecutor,
)
