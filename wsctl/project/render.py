"""Pure text for a new service: its stack name and its wsctl.toml, from a ``ServiceSpec``."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable

from wsctl.config import (
    ARCHITECTURES,
    AUTH_MODES,
    CODE_DIR,
    INVOKE_FUNCTION,
    MANAGE_CONNECTIONS,
    MAX_RESOURCE_NAME,
    RUNTIMES,
    IndexSpec,
    KeySpec,
    ServiceSpec,
)

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_FALLBACK_NAME = "service"


def stack_name_for(directory_name: str, stage: str, functions: Iterable[str]) -> str:
    """A valid stack name from a directory name: ASCII letters, digits and '-', short enough.

    'My Chat_App' -> 'my-chat-app'; '2048' -> 'ws-2048'; 'café' -> 'cafe'.
    """
    ascii_name = unicodedata.normalize("NFKD", directory_name).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or _FALLBACK_NAME
    if not name[0].isalpha():
        name = f"ws-{name}"
    longest = max((len(f) for f in functions), default=0)
    budget = MAX_RESOURCE_NAME - len(stage) - longest - 2
    return name[: max(budget, 1)].rstrip("-")


def _string(value: str) -> str:
    # A JSON string is a valid TOML basic string (same escapes, \uXXXX included).
    return json.dumps(value)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _list(values: Iterable[str]) -> str:
    return _list_raw(_string(v) for v in values)


def _list_raw(values: Iterable[str]) -> str:
    """A TOML array of values already written as TOML, on one line if it fits."""
    items = list(values)
    one_line = f"[{', '.join(items)}]"
    if len(one_line) <= 80:
        return one_line
    return "[\n" + "".join(f"    {item},\n" for item in items) + "]"


def _key_value(key: KeySpec) -> str:
    if key.type == "S":
        return _string(key.name)
    return f"{{ name = {_string(key.name)}, type = {_string(key.type)} }}"


def _index_value(index: IndexSpec) -> str:
    sort = f", sort_key = {_key_value(index.sort_key)}" if index.sort_key else ""
    return (
        f"{{ name = {_string(index.name)}, partition_key = {_key_value(index.partition_key)}"
        f"{sort} }}"
    )


def _tables(spec: ServiceSpec) -> list[str]:
    """The stack's tables, then a commented example of one more."""
    lines = [
        "",
        "# DynamoDB tables, deployed as <stack>-<table> (PAY_PER_REQUEST). A key is a string",
        '# attribute ("id") or { name = "at", type = "N" } (S string, N number).',
    ]
    for table in spec.tables.values():
        lines += ["", f"[tables.{_key(table.name)}]"]
        lines.append(f"partition_key = {_key_value(table.partition_key)}")
        if table.sort_key is not None:
            lines.append(f"sort_key = {_key_value(table.sort_key)}")
        if table.ttl is not None:
            lines.append(f"ttl = {_string(table.ttl)}")
        if table.indexes:
            lines.append(f"indexes = {_list_raw(_index_value(i) for i in table.indexes)}")
        if table.retain:
            lines.append("retain = true")
    lines += [
        "",
        "# Another table: name it in a function's tables = [...] and pass its name to the",
        '# code with an environment variable such as MESSAGES_TABLE = "${tables.messages}".',
        "# [tables.messages]",
        '# partition_key = "room"',
        '# sort_key = { name = "at", type = "N" }',
        '# ttl = "expires"                  # optional: items expire at this epoch second',
        '# indexes = [{ name = "by_user", partition_key = "user" }]',
        "# retain = true                    # `down` keeps it (and says so)",
    ]
    return lines


def render_config(spec: ServiceSpec) -> str:
    """wsctl.toml for ``spec``, commented for the person who will edit it."""
    region = (
        f"region = {_string(spec.region)}"
        if spec.region
        else '# region = "eu-west-1"      # default: AWS_REGION, or your profile\'s region'
    )
    lines = [
        f"# The {spec.name} service. Every wsctl command run in this directory reads this file",
        "# (or pass --config PATH); command-line flags override it.",
        "",
        "[stack]",
        f"name = {_string(spec.name)}  # resources are named {spec.name}-<stage>-...",
        f"stage = {_string(spec.stage)}",
        region,
        f"runtime = {_string(spec.runtime)}  # {' | '.join(RUNTIMES)}",
        f"architecture = {_string(spec.architecture)}  # {' | '.join(ARCHITECTURES)}",
        f"auth = {_string(spec.auth)}  # {' | '.join(AUTH_MODES)}",
        "log_retention_days = "
        + (_string("account") if spec.log_retention_days is None else str(spec.log_retention_days)),
    ]
    lines += _tables(spec)
    lines += [
        "",
        f"# One table per Lambda function. Code comes from ./{CODE_DIR}; handler is",
        "# 'module.function'. memory in MB (128-10240), timeout in seconds (1-900).",
        "# permissions: dynamodb:<action> on the tables it names in tables = [...],",
        f"# {MANAGE_CONNECTIONS} for a function that posts to connections, and",
        f"# {INVOKE_FUNCTION} with invokes = [...], the functions of this stack it may invoke.",
    ]
    for function in spec.functions.values():
        lines += [
            "",
            f"[functions.{_key(function.name)}]",
            f"handler = {_string(function.handler)}",
            f"memory = {function.memory}",
            f"timeout = {function.timeout}",
            f"permissions = {_list(function.permissions)}",
        ]
        if function.tables:
            lines.append(f"tables = {_list(function.tables)}")
        if function.invokes:
            lines.append(f"invokes = {_list(function.invokes)}")
    lines += [
        "",
        '# Route key (the "action" a client sends; $connect, $disconnect and $default are',
        "# API Gateway's own) -> the function that handles it.",
        "[routes]",
    ]
    lines += [f"{_key(key)} = {_string(fname)}" for key, fname in spec.routes.items()]
    return "\n".join(lines) + "\n"
