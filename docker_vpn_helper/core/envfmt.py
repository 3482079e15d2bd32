"""Render the Docker client environment that `env.print` prints, for every shell.

`docker-machine env` cannot be used behind the VPN (it TLS-dials the VM first), so we print the same
lines ourselves. The shapes follow docker-machine's output; the quoting does not always: a
DOCKER_CERT_PATH under $HOME may hold spaces, quotes, `$`, `!` or backslashes, and each format
below carries any such value exactly, or raises ValueError when it cannot.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from docker_vpn_helper.core.templating import render

FORMATS: tuple[str, ...] = (
    "bash",
    "zsh",
    "sh",
    "fish",
    "powershell",
    "cmd",
    "tcsh",
    "emacs",
    "dotenv",
    "make",
)

# Basenames of $SHELL (also Windows paths, with or without .exe) and the format they read.
_SHELL_FORMATS = {
    "bash": "bash",
    "zsh": "zsh",
    **dict.fromkeys(("sh", "dash", "ash", "ksh", "ksh93", "mksh", "pdksh", "oksh", "yash"), "sh"),
    "fish": "fish",
    "tcsh": "tcsh",
    "csh": "tcsh",
    "pwsh": "powershell",
    "powershell": "powershell",
    "cmd": "cmd",
}

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_LINE_BREAKS = ("\n", "\r")


def detect_format(environ: Mapping[str, str]) -> str:
    """The format for the user's shell, from the basename of $SHELL as docker-machine does.

    Unknown or unset shells get "bash": its lines are also valid in any POSIX shell.
    """
    base = re.split(r"[\\/]", environ.get("SHELL", ""))[-1].lower()
    if base.endswith(".exe"):
        base = base[: -len(".exe")]
    return _SHELL_FORMATS.get(base, "bash")


def _refuse_line_breaks(value: str) -> None:
    if any(brk in value for brk in _LINE_BREAKS):
        raise ValueError("a line break cannot be represented")


def _posix(value: str) -> str:
    """docker-machine's double quotes with `\\ " $ `` escaped; single quotes if `!` is present.

    Inside double quotes `!` would be history-expanded when pasted into interactive bash, and
    `\\!` keeps its backslash when history expansion is off: single quotes avoid both.
    """
    if "!" in value:
        return "'" + value.replace("'", "'\\''") + "'"
    return '"' + re.sub(r'([\\"$`])', r"\\\1", value) + '"'


def _fish(value: str) -> str:
    """Double quotes with `\\ " $` escaped; a newline as an unquoted `\\n` between quotes.

    `eval (cmd)` joins the output's lines with spaces, so a raw newline would not survive.
    """
    body = re.sub(r'([\\"$])', r"\\\1", value)
    return '"' + body.replace("\n", '"\\n"') + '"'


# tcsh: outside quotes a backslash always quotes the next character; inside single quotes `!`
# still triggers history expansion and, with `set backslash_quote`, `\` escapes quotes.
_TCSH_OUTSIDE = {"'": "\\'", "!": "\\!", "\\": "\\\\"}


def _tcsh(value: str) -> str:
    """Single-quoted runs, with `'`, `!` and `\\` backslash-escaped between them.

    tcsh cannot escape `$` inside double quotes. Line breaks are refused: `eval "`...`"` splits
    the output into words at newlines.
    """
    _refuse_line_breaks(value)
    pieces = re.split(r"(['!\\])", value)
    quoted = "".join(_TCSH_OUTSIDE.get(p, f"'{p}'") for p in pieces if p)
    return quoted or "''"


def _elisp(value: str) -> str:
    """An Emacs Lisp string: only `\\` and `"` are special."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# PowerShell treats the typographic single quotes like `'`; doubling any of them escapes it.
_PS_SINGLE_QUOTES = re.compile("(['\u2018\u2019\u201a\u201b])")


def _powershell(value: str) -> str:
    """Single quotes (no `$` or backtick expansion) with quotes doubled; line breaks concatenated.

    `| Invoke-Expression` runs each output line alone, so a newline is written as "`n" joined
    with `+`. An empty value would remove the variable instead of setting it.
    """
    if not value:
        raise ValueError("an empty value would remove the variable")
    pieces = re.split(r"(\r|\n)", value)
    parts = []
    for piece in pieces:
        if piece in _LINE_BREAKS:
            parts.append('"`n"' if piece == "\n" else '"`r"')
        elif piece:
            parts.append("'" + _PS_SINGLE_QUOTES.sub(r"\1\1", piece) + "'")
    return " + ".join(parts)


def _cmd(value: str) -> str:
    """The raw value, for `SET "N=V"`: SET takes everything up to the last quote.

    Run through the `FOR /f ... DO @%i` of the hint, a line is not subject to `%` expansion nor to
    `& | < > ^`; pasted by hand, `%NAME%` and a `"` in the value would be. An empty value would
    unset the variable and a line break ends the command, so both are refused.
    """
    if not value:
        raise ValueError("an empty value would unset the variable")
    _refuse_line_breaks(value)
    return value


def _dotenv(value: str) -> str:
    """For docker compose v2 (compose-go): single quotes, which it takes literally, when possible.

    In single quotes compose-go still reads `\\'` as a quote, so a value holding `'` or ending in
    `\\` goes in double quotes instead, with `\\ " $` escaped (`\\$` is compose's literal `$`) and
    line breaks written as `\\n` / `\\r`.
    """
    if "'" not in value and not value.endswith("\\") and not any(b in value for b in _LINE_BREAKS):
        return f"'{value}'"
    body = re.sub(r'([\\"$])', r"\\\1", value).replace("\n", "\\n").replace("\r", "\\r")
    return f'"{body}"'


def _make_hash(match: re.Match[str]) -> str:
    # make halves a run of backslashes before `#` and takes an odd run as escaping the `#`.
    return "\\" * (2 * len(match.group(1)) + 1) + "#"


def _make(value: str) -> str:
    """A GNU make `:=` right-hand side that expands to exactly `value`.

    `$` becomes `$$`, `#` is escaped (keeping the backslashes before it), and an empty `$()`
    guards leading whitespace (stripped by make), trailing whitespace (lost to editors) and a
    trailing backslash (a line continuation). Line breaks are refused.
    """
    _refuse_line_breaks(value)
    body = re.sub(r"(\\*)#", _make_hash, value.replace("$", "$$"))
    if body[:1].isspace():
        body = "$()" + body
    if body[-1:].isspace() or body.endswith("\\"):
        body += "$()"
    return body


def _identity(text: str) -> str:
    return text


def _tcsh_eval_hint(hint: str) -> str:
    return _tcsh(f'eval "`{hint}`"')


# format -> (template under templates/env/, value quoter, quoter of the eval hint's command)
_FORMAT_TABLE: dict[str, tuple[str, Callable[[str], str], Callable[[str], str]]] = {
    "bash": ("posix.j2", _posix, _identity),
    "zsh": ("posix.j2", _posix, _identity),
    "sh": ("posix.j2", _posix, _identity),
    "fish": ("fish.j2", _fish, _identity),
    "powershell": ("powershell.j2", _powershell, _identity),
    "cmd": ("cmd.j2", _cmd, _identity),
    "tcsh": ("tcsh.j2", _tcsh, _tcsh_eval_hint),
    "emacs": ("emacs.j2", _elisp, _elisp),
    "dotenv": ("dotenv.j2", _dotenv, _identity),
    "make": ("make.j2", _make, _identity),
}


# What a failed run prints instead of the environment: one statement that fails where the output
# is evaluated, and prints nothing itself (the reason is already on stderr). `false` fails under
# eval in every POSIX shell, fish and tcsh without ending an interactive shell (`exit 1` would,
# and `return 1` is refused outside a function by some shells). dotenv has no statement that
# fails: its output then holds nothing.
_FAILED = "docker-vpn-helper failed (its message is above): no environment was printed"
_FAILURE_STATEMENTS = {
    **dict.fromkeys(("bash", "zsh", "sh", "fish", "tcsh"), "false\n"),
    "powershell": f"Write-Error '{_FAILED}'\n",
    "cmd": "cmd /c exit 1\n",
    "emacs": f'(error "{_FAILED}")\n',
    "make": f"$(error {_FAILED.replace('(', '[').replace(')', ']')})\n",
    "dotenv": "",
}


def failure_statement(fmt: str) -> str:
    """The line a failed run prints for format `fmt` (an unknown one: the shells' `false`)."""
    return _FAILURE_STATEMENTS.get(fmt, "false\n")


def eval_command(fmt: str, command: str) -> str:
    """How a user of format `fmt` evaluates what `command` prints."""
    if fmt == "fish":
        return f"eval ({command})"
    if fmt == "tcsh":
        return f'eval "`{command}`"'
    if fmt == "powershell":
        return f"& {command} | Invoke-Expression"
    return f'eval "$({command})"'


def render_env(
    variables: Sequence[tuple[str, str]], fmt: str, *, unset: bool = False, hint: str = ""
) -> str:
    """The lines that set (or, with `unset`, remove) `variables`, in order, for format `fmt`.

    `hint` is the command that prints this output; shell formats end with docker-machine's
    two-line comment on how to eval it (none when `hint` is empty). For tcsh these lines are `:`
    no-op commands, because an interactive tcsh does not treat `#` as a comment inside `eval`.

    dotenv has no unset: an empty assignment would define the variable as empty, which compose
    interpolation (`${DOCKER_HOST-default}`) tells apart from unset. Its unset form is a file with
    comments only, which replaces an earlier one so the variables come from the environment
    again. make's unset form is `unexport N` plus an empty `N :=` (macOS make 3.81 has no
    `undefine`).

    Raises ValueError for an unknown format, a bad variable name, or a value (or hint) that the
    format cannot carry.
    """
    if fmt not in _FORMAT_TABLE:
        raise ValueError(f"unknown shell format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    template, quote, quote_hint = _FORMAT_TABLE[fmt]
    lines = []
    for name, value in variables:
        if not _NAME.match(name):
            raise ValueError(f"invalid environment variable name {name!r}")
        if unset:
            lines.append((name, ""))
            continue
        if "\0" in value:
            raise ValueError(
                f"cannot write {name} for {fmt}: a NUL character cannot be represented"
            )
        try:
            lines.append((name, quote(value)))
        except ValueError as exc:
            raise ValueError(f"cannot write {name} for {fmt}: {exc}") from None
    if any(ch in hint for ch in ("\0", *_LINE_BREAKS)):
        raise ValueError("the eval hint must be a single line")
    return render(
        f"env/{template}",
        variables=lines,
        unset=unset,
        hint=quote_hint(hint) if hint else "",
    )
