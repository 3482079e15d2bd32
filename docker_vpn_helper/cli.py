"""The `docker-vpn-helper` command.

People eval `env.print` in every shell start-up, and loading invoke is most of its cost (most of
it unittest.mock, which invoke.context imports; docs/PERFORMANCE.md). So a command line that
is exactly `env.print` with its own flags, where no invoke configuration could change the
answer, is answered without invoke, by the same functions the task calls. Everything else, and
every error, goes to invoke's Program: the one authority on parsing, help and messages.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

# The flags (and their kinds) of the task this command answers before loading invoke. A test
# holds them to the task's own signature.
TASK_FLAGS: dict[str, dict[str, type]] = {
    "env.print": {
        "machine": str,
        "storage_path": str,
        "port": int,
        "shell": str,
        "unset": bool,
        "transport": str,
        "minikube": bool,
        "profile": str,
    },
}
# Where invoke would find configuration for the installed command (it has no project level).
CONFIG_FILES = tuple(
    f"{prefix}invoke.{suffix}"
    for prefix in ("/etc/", "~/.")
    for suffix in ("yaml", "yml", "json", "py")
)


def quick_flags(argv: Sequence[str], task: str) -> dict[str, Any] | None:
    """`task`'s flags from `argv`, or None when invoke should parse it (another task, core
    flags, --help, a repeated flag, an unusual spelling, a value invoke would reject)."""
    if not argv or argv[0] != task:
        return None
    kinds = TASK_FLAGS[task]
    keys = {flag_name(key): key for key in kinds}
    flags: dict[str, Any] = {}
    words = list(argv[1:])
    while words:
        word = words.pop(0)
        name, has_value, value = word.partition("=")
        key = keys.get(name)
        if key is None or key in flags:
            return None
        if kinds[key] is bool:
            if has_value:
                return None
            flags[key] = True
            continue
        if not has_value:
            if not words:
                return None
            value = words.pop(0)
        if not value or value.startswith("-"):
            return None
        if kinds[key] is int:
            if not (value.isascii() and value.isdigit()):
                return None
            flags[key] = int(value)
        else:
            flags[key] = value
    return flags


def flag_name(key: str) -> str:
    """The flag invoke makes of a task argument: `storage_path` -> `--storage-path`, `all_` ->
    `--all`."""
    return "--" + key.strip("_").replace("_", "-")


def invoke_configured(environ: Mapping[str, str]) -> bool:
    """Whether invoke could read configuration that changes env.print's answer."""
    if any(name.startswith("INVOKE_") for name in environ):
        return True
    return any(os.path.exists(os.path.expanduser(path)) for path in CONFIG_FILES)


def quick_env_print(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> bool:
    """Print env.print's output without invoke if `argv` allows it (env.print with its own flags
    and no invoke configuration that could change them); False: let invoke run it, and report
    what is wrong in its usual words."""
    flags = quick_flags(argv, "env.print")
    if flags is None or invoke_configured(environ):
        return False
    from .environment import render
    from .errors import HelperError
    from .settings import check_flags, minikube_flags, resolve

    try:
        check_flags(flags)
        flags = minikube_flags(flags, environ)
        settings = resolve(
            {},  # no configuration: the task's config section is the defaults
            machine=flags.get("machine"),
            storage_path=flags.get("storage_path"),
            port=flags.get("port", 0),
            environ=environ,
        )
        text = render(
            settings,
            flags.get("shell"),
            flags.get("unset", False),
            flags.get("storage_path"),
            flags.get("transport", "tcp"),
        )
    except HelperError:
        return False
    sys.stdout.write(text)
    return True


def leave_objects_to_the_os() -> None:
    """Skip freeing, at exit, what the imported modules built: the process ends anyway.

    While CPython tears down the ~480 modules a `fix` imports, it runs the garbage collector over
    their objects again and again, a visible share of a healthy run (docs/PERFORMANCE.md). Frozen
    objects are ignored by every later collection. Only our own commands do this, not a team's
    invoke process that imports our tasks.
    """
    atexit.register(gc.freeze)


def main() -> None:
    leave_objects_to_the_os()
    try:
        try:
            if quick_env_print(sys.argv[1:]):
                return
            from .program import program

            program.run()
        finally:
            sys.stdout.flush()  # here, not at exit, where a closed stdout is "exit 120"
    except BrokenPipeError:
        # stdout was closed early (`docker-vpn-helper --help | head`): not worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
