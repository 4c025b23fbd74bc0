"""``env_file``: KEY=VALUE lines, as the seed's env.yml held a service's settings.

The format is the common ``.env`` one: blank lines and ``#`` comments are skipped, an optional
``export`` prefix is allowed, and a value may be quoted (``'...'`` taken literally, ``"..."``
with ``\\n``, ``\\t``, ``\\"`` and ``\\\\`` escapes). An unquoted value ends at `` #``. Errors
name the file, the line and the key, never the value: values are often secrets.
"""

from __future__ import annotations

import re
from pathlib import Path

from wsctl.errors import ConfigError

_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def read_env_file(path: Path, where: str) -> dict[str, str]:
    """The variables in ``path``; ConfigError (naming ``where``) if it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}: {path}: no such file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: {path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{where}: {path}: cannot read it: {exc.strerror}") from None
    return parse_env(text, f"{where} ({path})")


def parse_env(text: str, where: str) -> dict[str, str]:
    variables: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ConfigError(f"{where} line {number}: expected KEY=VALUE")
        key, rest = match.groups()
        variables[key] = _value(rest, f"{where} line {number} {key}")
    return variables


def _value(rest: str, where: str) -> str:
    if rest.startswith("'"):
        end = rest.find("'", 1)
        if end < 0:
            raise ConfigError(f"{where}: the quote ' is never closed")
        _only_comment_after(rest[end + 1 :], where)
        return rest[1:end]
    if rest.startswith('"'):
        chars: list[str] = []
        index = 1
        while index < len(rest):
            char = rest[index]
            if char == "\\" and index + 1 < len(rest):
                following = rest[index + 1]
                chars.append(_ESCAPES.get(following, "\\" + following))
                index += 2
                continue
            if char == '"':
                _only_comment_after(rest[index + 1 :], where)
                return "".join(chars)
            chars.append(char)
            index += 1
        raise ConfigError(f'{where}: the quote " is never closed')
    comment = re.search(r"\s#", rest)
    return (rest[: comment.start()] if comment else rest).strip()


def _only_comment_after(tail: str, where: str) -> None:
    tail = tail.strip()
    if tail and not tail.startswith("#"):
        raise ConfigError(f"{where}: text after the closing quote")
