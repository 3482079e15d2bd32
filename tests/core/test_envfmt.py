"""envfmt: the rendered lines are run in the real shells, GNU make and Emacs where installed.

Each run gets an explicit environment (PATH from the developer, the rest made up here) and
reports what it exports with `env -0`, which is compared with the input values byte for byte.
PowerShell, cmd and docker compose are not installed here: their text is asserted instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from docker_vpn_helper.core.envfmt import FORMATS, detect_format, render_env

HOSTILE = {
    "DVH_PLAIN": "tcp://localhost:2376",
    "DVH_PATH": "/Users/Jo O'Brien/.docker/machine/machines/default",
    "DVH_DQUOTE": 'say "hi" and "\\"bye\\""',
    "DVH_DOLLAR": "$HOME ${HOME} $(id -u) `id -u` $$ $ $()",
    "DVH_BACKSLASH": "C:\\Users\\me \\\\two \\' \\\" \\$ \\` \\n \\t \\! \\#",
    "DVH_BANG": "bang! !! !-1 !$ !# a!b",
    "DVH_HASH": "#start # mid \\# \\\\#",
    "DVH_PERCENT": "50% %PATH% %% ^caret",
    "DVH_PUNCT": "a; b & c | d < e > f (g) {h} *? [a] ~ =x :y ,z @w",
    "DVH_SPACES": "  lead  inner\ttab  trail  ",
    "DVH_UNICODE": "Zürich ☃ 東京 ‘single’ “double” \u00a0nbsp",
    "DVH_DASH": "-e",
    "DVH_EMPTY": "",
    "DVH_TRAIL_BS": "ends with a backslash\\",
    "DVH_QUOTES_ONLY": "'\"'\"",
}
MULTILINE = {"DVH_MULTILINE": "line one\nline two\r\n\n"}
STANDARD = [
    ("DOCKER_TLS_VERIFY", "1"),
    ("DOCKER_HOST", "tcp://localhost:2376"),
    ("DOCKER_CERT_PATH", "/Users/me/.docker/machine/machines/default"),
    ("DOCKER_MACHINE_NAME", "default"),
]
SHELL_FORMATS = ("bash", "zsh", "sh", "fish", "tcsh")
# Formats whose executed checks include a value with line breaks; the others refuse it.
MULTILINE_OK = {"bash", "zsh", "sh", "fish", "emacs", "dotenv", "powershell"}


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def _base_env(home: Path) -> dict[str, str]:
    """Only PATH is taken from the developer; HOME points into the test's own folder."""
    home.mkdir(exist_ok=True)
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def _parse_env0(raw: bytes) -> dict[str, str]:
    entries = [e.decode("utf-8") for e in raw.split(b"\0") if e]
    return dict(e.split("=", 1) for e in entries)


def _run_shell(fmt: str, script: str, env: dict[str, str]) -> dict[str, str]:
    """Run `script` then `env -0` in the shell for `fmt`; return the environment it exported."""
    argv = {
        "bash": [_binary("bash"), "--norc", "--noprofile", "-c"],
        "zsh": [_binary("zsh"), "-f", "-c"],
        "sh": [_binary("dash"), "-c"],
        "fish": [_binary("fish"), "--no-config", "-c"],
        "tcsh": [_binary("tcsh"), "-f", "-c"],
    }[fmt]
    done = subprocess.run(
        [*argv, f"{script}\nenv -0"], env=env, capture_output=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""
    return _parse_env0(done.stdout)


def _values_for(fmt: str) -> dict[str, str]:
    return {**HOSTILE, **(MULTILINE if fmt in MULTILINE_OK else {})}


def _safe_dir(tmp_path: Path) -> Path:
    # The eval commands below embed this path unquoted.
    assert re.fullmatch(r"[A-Za-z0-9_./-]+", str(tmp_path)), tmp_path
    return tmp_path


def _last_comment(text: str, prefix: str) -> str:
    last = text.rstrip("\n").split("\n")[-1]
    assert last.startswith(prefix), last
    return last[len(prefix) :]


def _assert_exported(seen: dict[str, str], expected: dict[str, str]) -> None:
    assert {name: seen.get(name) for name in expected} == expected


# -- executed in the real shells ------------------------------------------------------------


@pytest.mark.parametrize("fmt", SHELL_FORMATS)
def test_shell_eval_hint_exports_hostile_values_exactly(fmt: str, tmp_path: Path) -> None:
    """The command the output's own comment suggests, run as printed, sets every value exactly."""
    tmp_path = _safe_dir(tmp_path)
    values = _values_for(fmt)
    out = tmp_path / "env.out"
    out.write_text(render_env(list(values.items()), fmt, hint=f"cat {out}"), encoding="utf-8")
    text = out.read_text(encoding="utf-8")
    if fmt == "tcsh":
        eval_command = f'eval "`cat {out}`"'
        assert text.endswith(f": 'eval \"`cat {out}`\"' ;\n")
    else:
        eval_command = _last_comment(text, "# ")
    seen = _run_shell(fmt, eval_command, _base_env(tmp_path / "home"))
    _assert_exported(seen, values)


@pytest.mark.parametrize("fmt", SHELL_FORMATS)
def test_shell_source_exports_hostile_values_exactly(fmt: str, tmp_path: Path) -> None:
    """Sourcing the output as a file (no eval, line breaks kept) sets the same values."""
    tmp_path = _safe_dir(tmp_path)
    values = _values_for(fmt)
    out = tmp_path / "env.out"
    out.write_text(render_env(list(values.items()), fmt, hint="cat /nonexistent"), "utf-8")
    source = "." if fmt == "sh" else "source"
    seen = _run_shell(fmt, f"{source} {out}", _base_env(tmp_path / "home"))
    _assert_exported(seen, values)


@pytest.mark.parametrize("fmt", SHELL_FORMATS)
def test_shell_unset_form_removes_inherited_variables(fmt: str, tmp_path: Path) -> None:
    tmp_path = _safe_dir(tmp_path)
    names = [name for name, _ in STANDARD]
    env = {**_base_env(tmp_path / "home"), **dict.fromkeys(names, "stale")}
    assert all(_run_shell(fmt, "", env)[name] == "stale" for name in names)
    out = tmp_path / "unset.out"
    out.write_text(render_env(STANDARD, fmt, unset=True, hint=f"cat {out}"), "utf-8")
    eval_command = f'eval "`cat {out}`"' if fmt == "tcsh" else _last_comment(out.read_text(), "# ")
    seen = _run_shell(fmt, eval_command, env)
    assert [name for name in names if name in seen] == []


@pytest.mark.parametrize(
    ("fmt", "argv"),
    [
        ("bash", ["bash", "--norc", "--noprofile", "-i"]),
        ("zsh", ["zsh", "-f", "-i"]),
        ("tcsh", ["tcsh", "-f", "-i"]),
    ],
)
def test_lines_typed_at_interactive_prompt_escape_history_expansion(
    fmt: str, argv: list[str], tmp_path: Path
) -> None:
    """Typed at an interactive prompt, `!` in a value must not be history-expanded.

    Tab and carriage return are left out: line editing takes them, whatever the quoting.
    """
    tmp_path = _safe_dir(tmp_path)
    argv = [_binary(argv[0]), *argv[1:]]
    values = {n: v for n, v in HOSTILE.items() if "\t" not in v}
    if fmt in MULTILINE_OK:
        values["DVH_MULTILINE"] = "line one\nline two\n\n"
    lines = render_env(list(values.items()), fmt, hint="cat /nonexistent")
    out = tmp_path / "env0"
    subprocess.run(
        argv,
        input=f"{lines}env -0 > {out}\nexit\n".encode(),
        env=_base_env(tmp_path / "home"),
        capture_output=True,
        check=False,
        timeout=60,
    )
    _assert_exported(_parse_env0(out.read_bytes()), values)


def test_tcsh_backslash_quote_option_keeps_backslashes(tmp_path: Path) -> None:
    """With `set backslash_quote`, tcsh reads a backslash inside single quotes as an escape."""
    tmp_path = _safe_dir(tmp_path)
    out = tmp_path / "env.out"
    out.write_text(render_env(list(HOSTILE.items()), "tcsh"), "utf-8")
    seen = _run_shell("tcsh", f"set backslash_quote\nsource {out}", _base_env(tmp_path / "home"))
    _assert_exported(seen, HOSTILE)


def test_tcsh_interactive_eval_prints_no_error(tmp_path: Path) -> None:
    """An interactive tcsh does not take `#` as a comment in `eval`: the hint lines must be `:`."""
    tmp_path = _safe_dir(tmp_path)
    _binary("tcsh")
    script = _binary("script")
    out = tmp_path / "env.out"
    out.write_text(render_env(list(HOSTILE.items()), "tcsh", hint=f"cat {out}"), "utf-8")
    env0 = tmp_path / "env0"
    typed = f'eval "`cat {out}`"\nenv -0 > {env0}\nexit\n'
    done = subprocess.run(
        [script, "-qec", "tcsh -f -i", "/dev/null"],
        input=typed.encode(),
        env={**_base_env(tmp_path / "home"), "TERM": "dumb"},
        capture_output=True,
        check=False,
        timeout=60,
    )
    transcript = done.stdout.decode("utf-8", "replace")
    assert "not found" not in transcript
    assert "Event not found" not in transcript
    _assert_exported(_parse_env0(env0.read_bytes()), HOSTILE)


def test_emacs_eval_hint_sets_and_unsets_process_environment(tmp_path: Path) -> None:
    tmp_path = _safe_dir(tmp_path)
    emacs = _binary("emacs")
    values = {**HOSTILE, **MULTILINE}
    set_file, unset_file = tmp_path / "set.el", tmp_path / "unset.el"
    set_file.write_text(render_env(list(values.items()), "emacs", hint=f"cat {set_file}"), "utf-8")
    names = list(values)
    unset_file.write_text(
        render_env([(n, "") for n in names], "emacs", unset=True, hint=f"cat {unset_file}"),
        "utf-8",
    )
    set_form = _last_comment(set_file.read_text("utf-8"), ";; ")
    unset_form = _last_comment(unset_file.read_text("utf-8"), ";; ")
    after_set, after_unset = tmp_path / "after-set", tmp_path / "after-unset"
    program = (
        f"(progn {set_form}"
        f' (call-process "env" nil (list :file "{after_set}") nil "-0")'
        f" {unset_form}"
        f' (call-process "env" nil (list :file "{after_unset}") nil "-0"))'
    )
    env = {**_base_env(tmp_path / "home"), **dict.fromkeys(names, "stale")}
    done = subprocess.run(
        [emacs, "--batch", "-Q", "--eval", program],
        env=env,
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    _assert_exported(_parse_env0(after_set.read_bytes()), values)
    assert [n for n in names if n in _parse_env0(after_unset.read_bytes())] == []


def _run_make(tmp_path: Path, included: str, env: dict[str, str]) -> dict[str, str]:
    make = _binary("make")
    (tmp_path / "vars.mk").write_text(included, "utf-8")
    (tmp_path / "Makefile").write_text("include vars.mk\nall:\n\t@env -0\n", "utf-8")
    done = subprocess.run(
        [make, "-s", "--no-print-directory"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    return _parse_env0(done.stdout)


def test_make_include_exports_hostile_values_to_recipes(tmp_path: Path) -> None:
    seen = _run_make(tmp_path, render_env(list(HOSTILE.items()), "make"), _base_env(tmp_path / "h"))
    _assert_exported(seen, HOSTILE)


def test_make_unset_form_unexports_inherited_variables(tmp_path: Path) -> None:
    names = [name for name, _ in STANDARD]
    env = {**_base_env(tmp_path / "h"), **dict.fromkeys(names, "stale")}
    assert all(_run_make(tmp_path, "", env)[name] == "stale" for name in names)
    seen = _run_make(tmp_path, render_env(STANDARD, "make", unset=True), env)
    assert [name for name in names if name in seen] == []


# -- text: the docker-machine shapes, and formats that cannot be executed here ---------------

HINT = "docker-vpn-helper env.print --machine default"
EXPECTED_STANDARD = {
    "bash": """\
export DOCKER_TLS_VERIFY="1"
export DOCKER_HOST="tcp://localhost:2376"
export DOCKER_CERT_PATH="/Users/me/.docker/machine/machines/default"
export DOCKER_MACHINE_NAME="default"
# Run this command to configure your shell:
# eval "$(docker-vpn-helper env.print --machine default)"
""",
    "fish": """\
set -gx DOCKER_TLS_VERIFY "1";
set -gx DOCKER_HOST "tcp://localhost:2376";
set -gx DOCKER_CERT_PATH "/Users/me/.docker/machine/machines/default";
set -gx DOCKER_MACHINE_NAME "default";
# Run this command to configure your shell:
# eval (docker-vpn-helper env.print --machine default)
""",
    "powershell": """\
$Env:DOCKER_TLS_VERIFY = '1'
$Env:DOCKER_HOST = 'tcp://localhost:2376'
$Env:DOCKER_CERT_PATH = '/Users/me/.docker/machine/machines/default'
$Env:DOCKER_MACHINE_NAME = 'default'
# Run this command to configure your shell:
# & docker-vpn-helper env.print --machine default | Invoke-Expression
""",
    "cmd": """\
SET "DOCKER_TLS_VERIFY=1"
SET "DOCKER_HOST=tcp://localhost:2376"
SET "DOCKER_CERT_PATH=/Users/me/.docker/machine/machines/default"
SET "DOCKER_MACHINE_NAME=default"
REM Run this command to configure your shell:
REM     @FOR /f "tokens=*" %i IN ('docker-vpn-helper env.print --machine default') DO @%i
""",
    "tcsh": """\
setenv DOCKER_TLS_VERIFY '1';
setenv DOCKER_HOST 'tcp://localhost:2376';
setenv DOCKER_CERT_PATH '/Users/me/.docker/machine/machines/default';
setenv DOCKER_MACHINE_NAME 'default';
: Run this command to configure your shell: ;
: 'eval "`docker-vpn-helper env.print --machine default`"' ;
""",
    "emacs": """\
(setenv "DOCKER_TLS_VERIFY" "1")
(setenv "DOCKER_HOST" "tcp://localhost:2376")
(setenv "DOCKER_CERT_PATH" "/Users/me/.docker/machine/machines/default")
(setenv "DOCKER_MACHINE_NAME" "default")
;; Run this command to configure your shell:
;; (with-temp-buffer (shell-command "docker-vpn-helper env.print --machine default" \
(current-buffer)) (eval-buffer))
""",
    "dotenv": """\
# Docker client environment for `docker compose --env-file`, written by docker-vpn-helper.
DOCKER_TLS_VERIFY='1'
DOCKER_HOST='tcp://localhost:2376'
DOCKER_CERT_PATH='/Users/me/.docker/machine/machines/default'
DOCKER_MACHINE_NAME='default'
""",
    "make": """\
# Docker client environment for a Makefile to `include`, written by docker-vpn-helper.
export DOCKER_TLS_VERIFY := 1
export DOCKER_HOST := tcp://localhost:2376
export DOCKER_CERT_PATH := /Users/me/.docker/machine/machines/default
export DOCKER_MACHINE_NAME := default
""",
}
EXPECTED_STANDARD["zsh"] = EXPECTED_STANDARD["sh"] = EXPECTED_STANDARD["bash"]

EXPECTED_UNSET = {
    "bash": "unset DOCKER_TLS_VERIFY\nunset DOCKER_HOST\n",
    "fish": "set -e DOCKER_TLS_VERIFY;\nset -e DOCKER_HOST;\n",
    "powershell": "Remove-Item Env:\\\\DOCKER_TLS_VERIFY\nRemove-Item Env:\\\\DOCKER_HOST\n",
    "cmd": "SET DOCKER_TLS_VERIFY=\nSET DOCKER_HOST=\n",
    "tcsh": "unsetenv DOCKER_TLS_VERIFY;\nunsetenv DOCKER_HOST;\n",
    "emacs": '(setenv "DOCKER_TLS_VERIFY" nil)\n(setenv "DOCKER_HOST" nil)\n',
    "dotenv": "# Docker client environment for `docker compose --env-file`, written by"
    " docker-vpn-helper.\n# DOCKER_TLS_VERIFY is left unset.\n# DOCKER_HOST is left unset.\n",
    "make": "# Docker client environment for a Makefile to `include`, written by docker-vpn-helper."
    "\nunexport DOCKER_TLS_VERIFY\nDOCKER_TLS_VERIFY :=\nunexport DOCKER_HOST\nDOCKER_HOST :=\n",
}
EXPECTED_UNSET["zsh"] = EXPECTED_UNSET["sh"] = EXPECTED_UNSET["bash"]


def test_expected_tables_cover_every_format() -> None:
    assert sorted(EXPECTED_STANDARD) == sorted(FORMATS) == sorted(EXPECTED_UNSET)


@pytest.mark.parametrize("fmt", FORMATS)
def test_standard_variables_render_in_docker_machine_shape(fmt: str) -> None:
    assert render_env(STANDARD, fmt, hint=HINT) == EXPECTED_STANDARD[fmt]


@pytest.mark.parametrize("fmt", FORMATS)
def test_unset_form_without_hint_has_no_eval_comment(fmt: str) -> None:
    assert render_env(STANDARD[:2], fmt, unset=True) == EXPECTED_UNSET[fmt]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/Users/Jo O'Brien/x", "$Env:N = '/Users/Jo O''Brien/x'"),
        ('$HOME "q" `t` 50%', "$Env:N = '$HOME \"q\" `t` 50%'"),
        ("‘a’ ‚b‛", "$Env:N = '‘‘a’’ ‚‚b‛‛'"),
        ("a\nb\r", "$Env:N = 'a' + \"`n\" + 'b' + \"`r\""),
    ],
)
def test_powershell_text_not_executed(value: str, expected: str) -> None:
    """Not executed (no PowerShell here): single quotes, every kind of single quote doubled."""
    assert render_env([("N", value)], "powershell") == expected + "\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("C:\\Users\\Jo O'Brien\\x", 'SET "N=C:\\Users\\Jo O\'Brien\\x"'),
        ("50% %PATH% a&b|c<d>e^f", 'SET "N=50% %PATH% a&b|c<d>e^f"'),
        ('say "hi" ', 'SET "N=say "hi" "'),
    ],
)
def test_cmd_text_not_executed(value: str, expected: str) -> None:
    """Not executed (no cmd.exe here): `SET "N=V"` keeps `& | < > ^` and trailing spaces."""
    assert render_env([("N", value)], "cmd") == expected + "\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/Users/me/x # y $HOME \\d", "N='/Users/me/x # y $HOME \\d'"),
        ("Jo O'Brien $HOME", 'N="Jo O\'Brien \\$HOME"'),
        ('it\'s "q" \\', 'N="it\'s \\"q\\" \\\\"'),
        ("ends\\", 'N="ends\\\\"'),
        ("a\nb\r", 'N="a\\nb\\r"'),
        ("", "N=''"),
    ],
)
def test_dotenv_text_not_executed(value: str, expected: str) -> None:
    """Not executed (no docker compose here); follows compose-go v2's dotenv parser."""
    lines = render_env([("N", value)], "dotenv").splitlines()
    assert lines[1:] == [expected]


@pytest.mark.parametrize(
    ("fmt", "value", "reason"),
    [
        ("cmd", "a\nb", "line break"),
        ("cmd", "a\rb", "line break"),
        ("cmd", "", "empty value"),
        ("powershell", "", "empty value"),
        ("tcsh", "a\nb", "line break"),
        ("make", "a\nb", "line break"),
        ("make", "a\rb", "line break"),
    ],
)
def test_unrepresentable_values_name_variable_and_format(fmt: str, value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=f"DOCKER_CERT_PATH for {fmt}: .*{reason}"):
        render_env([("DOCKER_HOST", "x"), ("DOCKER_CERT_PATH", value)], fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_nul_and_bad_names_are_refused(fmt: str) -> None:
    with pytest.raises(ValueError, match=f"DOCKER_HOST for {fmt}: a NUL"):
        render_env([("DOCKER_HOST", "a\0b")], fmt)
    for name in ("1ST", "A-B", "A B", "", "A=B", "A;B"):
        with pytest.raises(ValueError, match="invalid environment variable name"):
            render_env([(name, "v")], fmt, unset=True)


@pytest.mark.parametrize("fmt", FORMATS)
def test_multiline_hint_is_refused(fmt: str) -> None:
    with pytest.raises(ValueError, match="single line"):
        render_env(STANDARD, fmt, hint="cmd\nrm -rf ~")


def test_unknown_format_lists_the_choices() -> None:
    with pytest.raises(ValueError) as raised:
        render_env(STANDARD, "nushell")
    assert str(raised.value) == (
        "unknown shell format 'nushell'; choose one of: "
        "bash, zsh, sh, fish, powershell, cmd, tcsh, emacs, dotenv, make"
    )


# -- detect_format ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "expected"),
    [
        ("/bin/bash", "bash"),
        ("/usr/local/bin/zsh", "zsh"),
        ("/bin/sh", "sh"),
        ("/bin/dash", "sh"),
        ("/bin/ksh", "sh"),
        ("/opt/homebrew/bin/fish", "fish"),
        ("/bin/tcsh", "tcsh"),
        ("/bin/csh", "tcsh"),
        ("/usr/local/bin/pwsh", "powershell"),
        ("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "powershell"),
        ("C:\\Program Files\\PowerShell\\7\\pwsh.exe", "powershell"),
        ("C:\\Windows\\system32\\cmd.exe", "cmd"),
        ("/usr/bin/nu", "bash"),
        ("", "bash"),
    ],
)
def test_detect_format_from_shell_basename(shell: str, expected: str) -> None:
    assert detect_format({"SHELL": shell, "PATH": "/bin"}) == expected


def test_detect_format_without_shell_is_bash() -> None:
    assert detect_format({"PATH": "/bin"}) == "bash"
