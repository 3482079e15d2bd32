"""The boot2docker profile (`/var/lib/boot2docker/profile`): read its assignments without a shell."""

from __future__ import annotations

from collections.abc import Iterator


def parse_profile(text: str) -> dict[str, str]:
    """Variables assigned in a boot2docker profile (a shell fragment), without running it.

    Handles what docker-machine writes: plain and `export` assignments, single- and
    double-quoted values spanning lines, backslash escapes and comments. `$` expansions are
    kept literally; the last assignment wins, as in the shell.

    Not shlex: it cuts `A=a#b` at `#`, joins a commented line to the next and keeps `\\<newline>`.
    """
    values: dict[str, str] = {}
    for words in _shell_commands(text):
        if words and words[0] == "export":
            words = words[1:]
        for word in words:
            name, sep, value = word.partition("=")
            if not sep or not _is_name(name):
                break
            values[name] = value
    return values


def _is_name(text: str) -> bool:
    """True for a shell variable name (`[A-Za-z_][A-Za-z0-9_]*`)."""
    return text.isascii() and text.isidentifier()


def _shell_commands(text: str) -> Iterator[list[str]]:
    """Split shell text into simple commands of unquoted words (a tiny POSIX sh lexer)."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "'":
            end = text.find("'", i + 1)
            end = n if end < 0 else end
            word.append(text[i + 1 : end])
            in_word, i = True, end + 1
        elif char == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n and text[i + 1] in '$`"\\\n':
                    word.append("" if text[i + 1] == "\n" else text[i + 1])
                    i += 2
                else:
                    word.append(text[i])
                    i += 1
            in_word, i = True, i + 1
        elif char == "\\":
            if i + 1 < n and text[i + 1] != "\n":
                word.append(text[i + 1])
                in_word = True
            i += 2
        elif char == "#" and not in_word:
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif char in " \t\r\n;&|":
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
            if char not in " \t\r" and words:
                yield words
                words = []
            i += 1
        else:
            word.append(char)
            in_word, i = True, i + 1
    if in_word:
        words.append("".join(word))
    if words:
        yield words
