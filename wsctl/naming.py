"""How a stack's resources are named and configured: one place, shared by `up`, `down`,
`status` and the local emulator, so they can never disagree. Pure functions of the spec."""

from __future__ import annotations

import json

from wsctl.config import (
    BUILTIN_AUTHORIZER,
    CONNECTIONS_TABLE,
    TABLE_REFERENCE,
    FunctionSpec,
    ServiceSpec,
)

STACK_TAG = "wsctl:stack"
TABLE_ENV = "WSCTL_TABLE"
STACK_ENV = "WSCTL_STACK"
TOKEN_DIGEST_ENV = "WSCTL_TOKEN_SHA256"
# Keys of the service's own records in the connections table (a segmented broadcast's
# counters: lambda_code/connection_store.py RESERVED_PREFIX); counts of connections skip them.
RESERVED_KEY_PREFIX = "wsctl#"
# A Scan filter that keeps connection records only (with ``connection_scan_values``).
CONNECTIONS_ONLY_FILTER = "NOT begins_with(connectionId, :reserved)"


def connection_scan_values() -> dict[str, dict[str, str]]:
    return {":reserved": {"S": RESERVED_KEY_PREFIX}}


# The stack's own route keys (a JSON list), so the service can name them in unknown_action.
ROUTES_ENV = "WSCTL_ROUTES"
# Past this, the list is left out (the service then names its own actions): Lambda allows
# 4 KB of variables per function, and the user's own come first.
MAX_ROUTES_ENV_BYTES = 400


def table_name(spec: ServiceSpec, table: str = CONNECTIONS_TABLE) -> str:
    """A table's deployed name: ``{stack}-{NAME}`` (the connections table's as ever)."""
    return f"{spec.stack}-{table}"


def table_names(spec: ServiceSpec) -> dict[str, str]:
    """Each table of the stack (its name in wsctl.toml) -> its deployed name."""
    return {table: table_name(spec, table) for table in spec.tables}


def resolve_tables(spec: ServiceSpec, value: str) -> str:
    """``value`` with each ``${tables.NAME}`` replaced by that table's deployed name (the
    config checked every reference names a table)."""
    return TABLE_REFERENCE.sub(lambda match: table_name(spec, match.group(1)), value)


def api_name(spec: ServiceSpec) -> str:
    return spec.stack


def function_name(spec: ServiceSpec, function: str) -> str:
    return f"{spec.stack}-{function}"


def role_name(spec: ServiceSpec, function: str) -> str:
    return f"{spec.stack}-{function}"


def authorizer_name(spec: ServiceSpec) -> str:
    return f"{spec.stack}-authorizer"


def log_group_name(spec: ServiceSpec, function: str) -> str:
    return f"/aws/lambda/{function_name(spec, function)}"


def stack_tags(spec: ServiceSpec) -> dict[str, str]:
    return {STACK_TAG: spec.stack}


def function_environment(
    spec: ServiceSpec, function: FunctionSpec, token_digest: str | None = None
) -> dict[str, str]:
    """The environment variables a function runs with, on Lambda and in the emulator alike:
    its own from wsctl.toml (the stack's, env_file's; ``${tables.NAME}`` resolved), then
    wsctl's (the connections table's name in WSCTL_TABLE, when the stack has one).

    Only the function behind ``$connect`` gets the token's digest (never the token itself).
    """
    env = {key: resolve_tables(spec, value) for key, value in function.environment.items()}
    if CONNECTIONS_TABLE in spec.tables:
        env[TABLE_ENV] = table_name(spec)
    env[STACK_ENV] = spec.stack
    routes = json.dumps(sorted(key for key in spec.routes if not key.startswith("$")))
    if len(routes) <= MAX_ROUTES_ENV_BYTES:
        env[ROUTES_ENV] = routes
    checks_token = function.name in (spec.routes.get("$connect"), BUILTIN_AUTHORIZER)
    if token_digest and checks_token:
        env[TOKEN_DIGEST_ENV] = token_digest
    return env
