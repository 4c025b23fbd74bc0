"""The service description: wsctl.toml parsed and checked into a ``ServiceSpec``.

Routes and functions are data. Nothing else in wsctl names a route or a function of the
bundled service: the deployer and the emulator both work from a ``ServiceSpec``. Every problem
is one ``ConfigError`` line naming the key and what is allowed.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from wsctl.envfile import read_env_file
from wsctl.errors import ConfigError

CONFIG_FILE = "wsctl.toml"
CODE_DIR = "lambda_code"
PREDEFINED_ROUTES = ("$connect", "$disconnect", "$default")
ROUTE_SELECTION_EXPRESSION = "$request.body.action"
AUTH_MODES = ("none", "token", "iam", "custom")
RUNTIMES = ("python3.11", "python3.12", "python3.13")
ARCHITECTURES = ("x86_64", "arm64")

# Resources whose ARN wsctl knows, so a function may be granted actions on them and nothing else.
TABLE_ACTIONS = frozenset(
    "dynamodb:" + action
    for action in (
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "ConditionCheckItem",
    )
)
MANAGE_CONNECTIONS = "execute-api:ManageConnections"
# Granted only on the stack's own functions a function lists in ``invokes``.
INVOKE_FUNCTION = "lambda:InvokeFunction"
ALLOWED_PERMISSIONS = TABLE_ACTIONS | {MANAGE_CONNECTIONS, INVOKE_FUNCTION}

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*\Z")
_STAGE = re.compile(r"^[A-Za-z0-9_-]{1,128}\Z")
_FUNCTION = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*\Z")
_HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+\Z")
_CUSTOM_ROUTE = re.compile(r"^[\x21-\x7e]{1,128}\Z")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}\Z")
# Lambda sets these itself and refuses them in a function's configuration (Lambda developer
# guide, "Defined runtime environment variables"); WSCTL_ names are wsctl's own.
RESERVED_ENV = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "TZ",
    }
)
RESERVED_ENV_PREFIXES = ("AWS_LAMBDA_", "WSCTL_")
# Lambda's EnvironmentVariableName pattern (botocore's lambda model): a letter, then letters,
# digits and '_'.
_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]+\Z")
# Lambda allows 4 KB of variables per function; wsctl keeps some for its own (WSCTL_*).
MAX_USER_ENV_BYTES = 4096 - 768
IDENTITY_SOURCE_PREFIXES = ("route.request.header.", "route.request.querystring.")
_IDENTITY_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+\Z")
# The function wsctl deploys for auth = "token": its built-in REQUEST authorizer.
BUILTIN_AUTHORIZER = "wsctl-auth"
BUILTIN_AUTHORIZER_HANDLER = "wsctl_authorizer.handler"
# API Gateway's default quota of routes per WebSocket API.
MAX_ROUTES = 300
# Lambda function and IAM role names are at most 64 characters: "{name}-{stage}-{function}".
MAX_RESOURCE_NAME = 64
# The table a stack has when wsctl.toml declares none (DESIGN.md section 6, "Defaults"), and
# the one a function's DynamoDB permissions apply to when it names no tables.
CONNECTIONS_TABLE = "connections"
# Key attribute types wsctl declares (DESIGN.md section 6): S (string) and N (number).
KEY_TYPES = ("S", "N")
# A table's name in wsctl.toml: DynamoDB's table-name characters (its deployed name is
# "{stack}-{NAME}", at most 255); an index's name follows DynamoDB's IndexName pattern.
_TABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}\Z")
_INDEX = re.compile(r"^[A-Za-z0-9_.-]{3,255}\Z")
# DynamoDB's default quota of global secondary indexes per table.
MAX_INDEXES = 20
# "${tables.NAME}" in an environment value: the deployed (or emulated) table's name.
TABLE_REFERENCE = re.compile(r"\$\{tables\.([^}]*)\}")


@dataclass(frozen=True)
class KeySpec:
    """A key attribute: its name and DynamoDB type (S or N)."""

    name: str
    type: str = "S"


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index (all attributes projected)."""

    name: str
    partition_key: KeySpec
    sort_key: KeySpec | None = None


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table of the stack (``[tables.NAME]``), deployed as ``{stack}-{NAME}``."""

    name: str
    partition_key: KeySpec
    sort_key: KeySpec | None = None
    ttl: str | None = None
    indexes: tuple[IndexSpec, ...] = ()
    retain: bool = False

    @property
    def attributes(self) -> dict[str, str]:
        """Every key attribute of the table and its indexes -> its type."""
        keys = [self.partition_key, self.sort_key]
        for index in self.indexes:
            keys += [index.partition_key, index.sort_key]
        return {key.name: key.type for key in keys if key is not None}


# The table of a stack whose wsctl.toml has no [tables]: the connections table as ever.
DEFAULT_TABLES = {
    CONNECTIONS_TABLE: TableSpec(CONNECTIONS_TABLE, KeySpec("connectionId"), ttl="ttl")
}


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: its code entry point, size and what it may touch."""

    name: str
    handler: str
    memory: int = 128
    timeout: int = 29
    permissions: tuple[str, ...] = ()
    # Values may be secrets: never in a repr, an error or any output (names may be shown).
    environment: Mapping[str, str] = field(default_factory=dict, repr=False, hash=False)
    # The stack's functions (names in wsctl.toml) this one may invoke.
    invokes: tuple[str, ...] = ()
    # The stack's tables (names in wsctl.toml) its DynamoDB permissions apply to.
    tables: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    @property
    def table_actions(self) -> tuple[str, ...]:
        return tuple(sorted(p for p in self.permissions if p in TABLE_ACTIONS))

    @property
    def manages_connections(self) -> bool:
        return MANAGE_CONNECTIONS in self.permissions


@dataclass(frozen=True)
class AuthorizerSpec:
    """A Lambda REQUEST authorizer on $connect: the function, and what must be present."""

    function: str
    identity_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class LocalSettings:
    """``[local]``: how ``up --local`` runs (command-line flags win). Unset: AWS's values.

    Timers and quotas may be made shorter or smaller than API Gateway's, never longer or
    larger: what works locally must work on AWS.
    """

    port: int | None = None
    idle_timeout: float | None = None
    max_lifetime: float | None = None
    integration_timeout: float | None = None
    frame_bytes: int | None = None
    message_bytes: int | None = None
    allow_origins: tuple[str, ...] = ()


# [local] key -> API Gateway's value, the most it may be set to.
LOCAL_LIMITS = {
    "idle_timeout": 600.0,
    "max_lifetime": 7200.0,
    "integration_timeout": 29.0,
    "frame_bytes": 32 * 1024,
    "message_bytes": 128 * 1024,
}


@dataclass(frozen=True)
class ServiceSpec:
    """What to deploy or emulate: the stack's identity, its functions and its routes."""

    name: str
    stage: str
    code_dir: Path
    functions: Mapping[str, FunctionSpec]
    routes: Mapping[str, str]
    region: str | None = None
    runtime: str = "python3.12"
    architecture: str = "x86_64"
    auth: Literal["none", "token", "iam", "custom"] = "none"
    log_retention_days: int | None = 14  # None: the account's own retention rules
    source: Path | None = field(default=None, compare=False)
    # Two-way routes: the handler's response body goes back to the caller as one frame.
    respond_routes: frozenset[str] = frozenset()
    authorizer: AuthorizerSpec | None = None
    local: LocalSettings = field(default_factory=LocalSettings)
    # Read into each function's environment; kept so `up --local` can watch it for edits.
    env_file: Path | None = field(default=None, compare=False)
    tables: Mapping[str, TableSpec] = field(default_factory=lambda: dict(DEFAULT_TABLES))

    @property
    def stack(self) -> str:
        return f"{self.name}-{self.stage}"

    @property
    def requirements_file(self) -> Path:
        return self.code_dir / "requirements.txt"

    def function_for_route(self, route_key: str) -> FunctionSpec:
        return self.functions[self.routes[route_key]]

    def with_overrides(self, **overrides: Any) -> ServiceSpec:
        """This spec with the given fields replaced, skipping ``None`` (an unset flag)."""
        changes = {key: value for key, value in overrides.items() if value is not None}
        if not changes:
            return self
        if changes.get("auth", "custom") != "custom":
            changes["authorizer"] = None  # --auth token|iam|none: [authorizer] is not used
        spec = replace(self, **changes)
        _check_identity(spec.name, spec.stage, spec.functions, spec.source, spec.auth)
        _check_region(spec.region, "--region")
        if spec.auth not in AUTH_MODES:
            raise ConfigError(f"auth must be one of {', '.join(AUTH_MODES)}, not {spec.auth!r}")
        _check_auth_has_connect(spec.auth, spec.routes, "--auth")
        _check_authorizer_mode(spec.auth, spec.authorizer, "--auth")
        return spec


def bundled_service_dir() -> Path:
    """Where the bundled service lives: inside the wheel, or at the top of a source checkout."""
    package = Path(__file__).resolve().parent
    installed = package / "bundled"
    if (installed / CONFIG_FILE).is_file():
        return installed
    return package.parent


def load_spec(config: Path | None = None, cwd: Path | None = None) -> ServiceSpec:
    """The service to work on: ``config``, else ./wsctl.toml, else the bundled service."""
    if config is not None:
        if not config.is_file():
            raise ConfigError(f"{config}: no such file (given with --config)")
        return parse_spec_file(config)
    local = (cwd or Path.cwd()) / CONFIG_FILE
    if local.is_file():
        return parse_spec_file(local)
    return parse_spec_file(bundled_service_dir() / CONFIG_FILE)


def parse_spec_file(path: Path) -> ServiceSpec:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror}") from None
    return parse_spec(data, path)


def parse_spec(data: Mapping[str, Any], source: Path) -> ServiceSpec:
    """Check a parsed wsctl.toml; the code lives in ``lambda_code/`` beside it."""
    where = str(source)
    _only_keys(data, {"stack", "functions", "routes", "authorizer", "local", "tables"}, where)
    stack = _table(data, "stack", where)
    _only_keys(
        stack,
        {
            "name",
            "stage",
            "region",
            "runtime",
            "architecture",
            "auth",
            "log_retention_days",
            "environment",
            "env_file",
        },
        f"{where} [stack]",
    )
    name = _string(stack, "name", "stack", where, default="wsctl")
    stage = _string(stack, "stage", "stack", where, default="dev")
    region = _string(stack, "region", "stack", where, default=None)
    _check_region(region, f"{where} [stack]")
    runtime = _choice(stack, "runtime", RUNTIMES, where, default="python3.12")
    architecture = _choice(stack, "architecture", ARCHITECTURES, where, default="x86_64")
    auth = _choice(stack, "auth", AUTH_MODES, where, default="none")
    retention = _retention(stack, where)

    shared_env = _stack_environment(stack, source, where)

    # Absolute, so the spec still points at the code if the process changes directory.
    code_dir = source.resolve().parent / CODE_DIR
    functions = {
        fname: _function(fname, body, code_dir, where, shared_env)
        for fname, body in _table(data, "functions", where).items()
    }
    if not functions:
        raise ConfigError(f"{where}: [functions] is empty; define at least one function")

    routes, respond_routes = _routes(_table(data, "routes", where), functions, where)
    authorizer = _authorizer(data, functions, where)
    _check_invokes(functions, where)
    tables = _tables(data, where) if "tables" in data else dict(DEFAULT_TABLES)
    functions = {fname: _with_tables(f, tables, where) for fname, f in functions.items()}
    _check_identity(name, stage, functions, source, auth)
    _check_auth_has_connect(auth, routes, f"{where} [stack] auth")
    _check_authorizer_mode(auth, authorizer, f"{where} [stack] auth")
    return ServiceSpec(
        name=name,
        stage=stage,
        code_dir=code_dir,
        functions=functions,
        routes=routes,
        region=region,
        runtime=runtime,
        architecture=architecture,
        auth=auth,
        log_retention_days=retention,
        source=source,
        respond_routes=frozenset(respond_routes),
        authorizer=authorizer,
        env_file=_env_file_path(stack, source),
        local=_local(_table(data, "local", where), where),
        tables=tables,
    )


def _tables(data: Mapping[str, Any], where: str) -> dict[str, TableSpec]:
    """``[tables.NAME]``: each table's keys, TTL attribute, indexes and retention."""
    tables = {}
    for tname, body in _table(data, "tables", where).items():
        here = f"{where} [tables.{tname}]"
        if not _TABLE.match(tname):
            raise ConfigError(
                f"{here}: a table name uses letters, digits, '_', '-' and '.', starting with "
                "a letter (at most 128)"
            )
        if not isinstance(body, dict):
            raise ConfigError(f"{here}: must be a table")
        _only_keys(body, {"partition_key", "sort_key", "ttl", "indexes", "retain"}, here)
        if "partition_key" not in body:
            raise ConfigError(f'{here}: needs partition_key (e.g. partition_key = "id")')
        declared: dict[str, str] = {}
        partition = _key_attribute(body["partition_key"], f"{here} partition_key", declared)
        sort = None
        if "sort_key" in body:
            sort = _key_attribute(body["sort_key"], f"{here} sort_key", declared)
        ttl = body.get("ttl")
        if ttl is not None and (not isinstance(ttl, str) or not ttl):
            raise ConfigError(f"{here} ttl: must be the name of the TTL attribute (a string)")
        retain = body.get("retain", False)
        if not isinstance(retain, bool):
            raise ConfigError(f"{here} retain: must be true or false")
        indexes = _indexes(body.get("indexes", []), here, declared)
        tables[tname] = TableSpec(tname, partition, sort, ttl, indexes, retain)
    return tables


def _indexes(value: Any, here: str, declared: dict[str, str]) -> tuple[IndexSpec, ...]:
    if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
        raise ConfigError(
            f'{here} indexes: must be a list of {{ name = "...", partition_key = "..." }}'
        )
    if len(value) > MAX_INDEXES:
        raise ConfigError(f"{here} indexes: {len(value)}; DynamoDB allows {MAX_INDEXES} a table")
    indexes: list[IndexSpec] = []
    for item in value:
        iname = item.get("name")
        if not isinstance(iname, str) or not _INDEX.match(iname):
            raise ConfigError(
                f"{here} indexes: each needs a name of 3 to 255 letters, digits, '_', '-', '.'"
            )
        where = f"{here} index {iname!r}"
        _only_keys(item, {"name", "partition_key", "sort_key"}, where)
        if iname in (index.name for index in indexes):
            raise ConfigError(f"{where}: declared twice")
        if "partition_key" not in item:
            raise ConfigError(f"{where}: needs partition_key")
        partition = _key_attribute(item["partition_key"], f"{where} partition_key", declared)
        sort = None
        if "sort_key" in item:
            sort = _key_attribute(item["sort_key"], f"{where} sort_key", declared)
        indexes.append(IndexSpec(iname, partition, sort))
    return tuple(indexes)


def _key_attribute(value: Any, where: str, declared: dict[str, str]) -> KeySpec:
    """A key: "name" (a string key), or { name = "...", type = "S" | "N" }. An index key given
    without its type takes the type declared for that attribute by another key of the table;
    DynamoDB needs every key attribute defined with one type."""
    if isinstance(value, str):
        value = {"name": value, "type": "S"}
    if not isinstance(value, dict):
        raise ConfigError(f'{where}: must be "name" or {{ name = "...", type = "S" | "N" }}')
    _only_keys(value, {"name", "type"}, where)
    name = value.get("name")
    if not isinstance(name, str) or not 1 <= len(name.encode()) <= 255:
        raise ConfigError(f"{where}: name must be an attribute name (1 to 255 bytes)")
    kind = value.get("type", declared.get(name))
    if kind is None:
        raise ConfigError(
            f"{where} {name!r}: no attribute definition; give its type "
            f'{{ name = "{name}", type = "S" }} (S string, N number)'
        )
    if kind not in KEY_TYPES:
        raise ConfigError(
            f"{where} {name!r}: key type {kind!r} is not supported; use S (string) or N (number)"
        )
    if declared.get(name, kind) != kind:
        raise ConfigError(
            f"{where} {name!r}: declared as {declared[name]} elsewhere in this table; "
            "an attribute has one type"
        )
    declared[name] = kind
    return KeySpec(name, kind)


def _with_tables(
    function: FunctionSpec, tables: Mapping[str, TableSpec], where: str
) -> FunctionSpec:
    """The function's tables checked; without ``tables``, the connections table (if any)."""
    section = f"{where} [functions.{function.name}]"
    named = function.tables
    for tname in named:
        if tname not in tables:
            declared = ", ".join(sorted(tables)) or "none"
            raise ConfigError(
                f"{section} tables: {tname!r} is not a table in [tables] (declared: {declared})"
            )
    if not named and CONNECTIONS_TABLE in tables:
        named = (CONNECTIONS_TABLE,)
    if function.table_actions and not named:
        raise ConfigError(
            f"{section} tables: its dynamodb permissions need the tables they apply to "
            '(tables = ["..."])'
        )
    for variable in sorted(function.environment):
        for reference in TABLE_REFERENCE.findall(function.environment[variable]):
            if reference not in tables:
                # The value itself is never echoed (it may hold a secret): only the reference.
                raise ConfigError(
                    f"{section} environment {variable}: ${{tables.{reference}}} names no "
                    f"table in [tables] (declared: {', '.join(sorted(tables)) or 'none'})"
                )
    return replace(function, tables=named)


def _local(table: Mapping[str, Any], where: str) -> LocalSettings:
    """``[local]``: a port, timers and quotas no larger than AWS's, and allowed origins."""
    _only_keys(table, {"port", "allow_origins", *LOCAL_LIMITS}, f"{where} [local]")
    values: dict[str, Any] = {}
    if "port" in table:
        values["port"] = _integer(table, "port", "local", where, 0, 65535, default=0)
    for key, limit in LOCAL_LIMITS.items():
        if key not in table:
            continue
        value = table[key]
        whole = isinstance(limit, int)
        allowed = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed) or not 0 < value <= limit:
            unit = "bytes" if whole else "seconds"
            raise ConfigError(
                f"{where} [local] {key}: must be a number of {unit} above 0 and at most "
                f"{limit:g} (API Gateway's value: what works locally must work on AWS)"
            )
        values[key] = value
    origins = table.get("allow_origins", [])
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise ConfigError(f"{where} [local] allow_origins: must be a list of origins")
    return LocalSettings(**values, allow_origins=tuple(origins))


def _env_file_path(stack: Mapping[str, Any], source: Path) -> Path | None:
    """``env_file`` relative to wsctl.toml, so every command finds it from any directory."""
    env_file = stack.get("env_file")
    return source.resolve().parent / env_file if isinstance(env_file, str) else None


def _stack_environment(stack: Mapping[str, Any], source: Path, where: str) -> dict[str, str]:
    """What every function gets: ``env_file``'s variables, then ``[stack.environment]``'s."""
    env: dict[str, str] = {}
    _string(stack, "env_file", "stack", where, default=None)
    path = _env_file_path(stack, source)
    if path is not None:
        from_file = read_env_file(path, f"{where} [stack] env_file")
        env.update(_environment(from_file, f"{where} [stack] env_file"))
    env.update(_environment(stack.get("environment", {}), f"{where} [stack.environment]"))
    return env


def _environment(table: Any, where: str) -> dict[str, str]:
    """Checked variables: names as Lambda accepts them, none reserved, string values."""
    if not isinstance(table, dict):
        raise ConfigError(f'{where}: must be a table of NAME = "value"')
    for key, value in table.items():
        if key in RESERVED_ENV or key.startswith(RESERVED_ENV_PREFIXES):
            owner = "wsctl" if key.startswith("WSCTL_") else "Lambda"
            raise ConfigError(f"{where} {key}: reserved ({owner} sets it); use another name")
        if not _ENV_NAME.match(key):
            raise ConfigError(
                f"{where} {key!r}: a variable name is a letter, then letters, digits and '_'"
            )
        if not isinstance(value, str):
            # The value itself is never echoed: it may be a secret.
            raise ConfigError(f'{where} {key}: must be a string (quote it: {key} = "...")')
    return dict(table)


def _function(
    fname: str, body: Any, code_dir: Path, where: str, shared_env: Mapping[str, str]
) -> FunctionSpec:
    section = f"[functions.{fname}]"
    if fname == BUILTIN_AUTHORIZER:
        raise ConfigError(f"{where} {section}: the name is wsctl's (auth = 'token'); rename it")
    if not _FUNCTION.match(fname):
        raise ConfigError(
            f"{where} {section}: a function name uses letters, digits, '-' and '_', "
            "starting with a letter"
        )
    if not isinstance(body, dict):
        raise ConfigError(f"{where} {section}: must be a table")
    _only_keys(
        body,
        {"handler", "memory", "timeout", "permissions", "environment", "invokes", "tables"},
        f"{where} {section}",
    )
    handler = body.get("handler")
    if not isinstance(handler, str) or not _HANDLER.match(handler):
        raise ConfigError(
            f"{where} {section} handler: must be 'module.function' (e.g. 'handler.{fname}')"
        )
    memory = _integer(body, "memory", f"functions.{fname}", where, 128, 10240, default=128)
    timeout = _integer(body, "timeout", f"functions.{fname}", where, 1, 900, default=29)
    permissions = body.get("permissions", [])
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        raise ConfigError(f"{where} {section} permissions: must be a list of strings")
    for permission in permissions:
        if permission not in ALLOWED_PERMISSIONS:
            raise ConfigError(
                f"{where} {section} permissions: {permission!r} is not allowed; use "
                f"{MANAGE_CONNECTIONS}, {INVOKE_FUNCTION} (with invokes) or dynamodb:<action> "
                f"on its tables "
                f"({', '.join(sorted(a.split(':')[1] for a in TABLE_ACTIONS))})"
            )
    own_env = _environment(body.get("environment", {}), f"{where} [functions.{fname}.environment]")
    environment = {**shared_env, **own_env}
    size = sum(len(k.encode()) + len(v.encode()) for k, v in environment.items())
    if size > MAX_USER_ENV_BYTES:
        raise ConfigError(
            f"{where} [functions.{fname}.environment]: its variables (with the stack's) take "
            f"{size} bytes; Lambda allows 4 KB per function and wsctl keeps 768 for its own"
        )
    invokes = body.get("invokes", [])
    if not isinstance(invokes, list) or not all(isinstance(i, str) for i in invokes):
        raise ConfigError(f"{where} {section} invokes: must be a list of function names")
    tables = body.get("tables", [])
    if not isinstance(tables, list) or not all(isinstance(t, str) for t in tables):
        raise ConfigError(f"{where} {section} tables: must be a list of table names")
    spec = FunctionSpec(
        name=fname,
        handler=handler,
        memory=memory,
        timeout=timeout,
        permissions=tuple(sorted(set(permissions))),
        environment=environment,
        invokes=tuple(sorted(set(invokes))),
        tables=tuple(sorted(set(tables))),
    )
    _check_handler_defined(spec, code_dir, f"{where} {section} handler")
    return spec


def _check_invokes(functions: Mapping[str, FunctionSpec], where: str) -> None:
    """``invokes`` names functions of this stack, and goes with the permission that uses it."""
    for function in functions.values():
        section = f"{where} [functions.{function.name}]"
        for target in function.invokes:
            if target not in functions:
                raise ConfigError(f"{section} invokes: {target!r} is not a function in [functions]")
        granted = INVOKE_FUNCTION in function.permissions
        if function.invokes and not granted:
            raise ConfigError(f"{section} invokes: add {INVOKE_FUNCTION!r} to its permissions")
        if granted and not function.invokes:
            raise ConfigError(
                f"{section} permissions: {INVOKE_FUNCTION} needs invokes = [...], the "
                "functions of this stack it may invoke"
            )


def _check_handler_defined(function: FunctionSpec, code_dir: Path, where: str) -> None:
    """The handler's module exists under lambda_code/ and binds the function at top level.

    Checked by reading the source, never by importing it: importing user code runs it.
    """
    module_path = code_dir.joinpath(*function.module.split("."))
    candidates = (module_path.with_suffix(".py"), module_path / "__init__.py")
    module_file = next((c for c in candidates if c.is_file()), None)
    if module_file is None:
        raise ConfigError(
            f"{where}: {function.handler!r} cannot be imported: "
            f"no {candidates[0].relative_to(code_dir.parent)}"
        )
    try:
        tree = ast.parse(module_file.read_text(encoding="utf-8"), filename=str(module_file))
    except UnicodeDecodeError:
        raise ConfigError(
            f"{where}: {function.handler!r} cannot be imported: {module_file.name} is not UTF-8"
        ) from None
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes in the source
        line = f" line {exc.lineno}" if isinstance(exc, SyntaxError) else ""
        raise ConfigError(
            f"{where}: {function.handler!r} cannot be imported: "
            f"syntax error in {module_file.name}{line}"
        ) from None
    names, star_import = _top_level_names(tree.body)
    if function.attribute not in names and not star_import:
        raise ConfigError(
            f"{where}: {function.handler!r} cannot be imported: "
            f"{module_file.name} defines no {function.attribute}()"
        )


def _top_level_names(body: list[ast.stmt]) -> tuple[set[str], bool]:
    """Names a module binds when imported, and whether a ``*`` import may bind more."""
    names: set[str] = set()
    star = False
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    star = True
                else:
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.For | ast.While):
            blocks = [node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])]
            blocks += [handler.body for handler in getattr(node, "handlers", [])]
            for block in blocks:
                inner, inner_star = _top_level_names(block)
                names |= inner
                star = star or inner_star
    return names, star


def _routes(
    table: Mapping[str, Any], functions: Mapping[str, FunctionSpec], where: str
) -> tuple[dict[str, str], set[str]]:
    """Route key -> function, and the two-way routes (``{ function = ..., respond = true }``)."""
    routes: dict[str, str] = {}
    respond: set[str] = set()
    for key, fname in table.items():
        if key.startswith("$") and key not in PREDEFINED_ROUTES:
            # API Gateway answers BadRequestException "The provided route key is not
            # formatted properly" for any other '$' key.
            raise ConfigError(
                f"{where} [routes] {key!r}: API Gateway reserves '$' for "
                f"{', '.join(PREDEFINED_ROUTES)}"
            )
        if not key.startswith("$") and not _CUSTOM_ROUTE.match(key):
            raise ConfigError(
                f"{where} [routes] {key!r}: a route key is 1 to 128 printable ASCII "
                "characters without spaces"
            )
        if isinstance(fname, dict):
            fname = _route_table(key, fname, respond, functions, where)
        if not isinstance(fname, str):
            raise ConfigError(
                f"{where} [routes] {key!r}: must be a function name (a string), one of "
                f"{', '.join(sorted(functions))}"
            )
        if fname not in functions:
            raise ConfigError(
                f"{where} [routes] {key!r}: names function {fname!r}, which is not defined; "
                f"defined: {', '.join(sorted(functions))}"
            )
        routes[key] = fname
    if not routes:
        raise ConfigError(f"{where}: [routes] is empty; map at least '$default' to a function")
    if len(routes) > MAX_ROUTES:
        raise ConfigError(
            f"{where}: [routes] has {len(routes)} routes; API Gateway allows {MAX_ROUTES} "
            "per API by default (a quota you can ask AWS to raise)"
        )
    return routes, respond


def _route_table(
    key: str, table: Mapping[str, Any], respond: set[str], functions: Mapping, where: str
) -> Any:
    """``{ function = "f", respond = true }``: the function's name, noting a two-way route."""
    here = f"{where} [routes] {key!r}"
    if "function" not in table:
        if len(table) == 1 and isinstance(next(iter(table.values())), str | dict):
            # [routes] a.b = "x" is TOML for a nested table: most likely an unquoted dotted key.
            raise ConfigError(
                f"{here}: must be a function name; quote a key that contains dots "
                f'(e.g. "{key}.{next(iter(table))}" = "default"), or use a route table '
                "{ function = ..., respond = true }"
            )
        raise ConfigError(f"{here}: a route table needs 'function' (one of {', '.join(functions)})")
    _only_keys(table, {"function", "respond"}, here)
    wants_reply = table.get("respond", False)
    if not isinstance(wants_reply, bool):
        raise ConfigError(f"{here} respond: must be true or false")
    if wants_reply and key == "$disconnect":
        # API Gateway refuses a route response on $disconnect: the client is already gone.
        raise ConfigError(f"{here} respond: $disconnect cannot respond (the client is gone)")
    if wants_reply:
        respond.add(key)
    return table["function"]


def _authorizer(
    data: Mapping[str, Any], functions: Mapping[str, FunctionSpec], where: str
) -> AuthorizerSpec | None:
    if "authorizer" not in data:
        return None
    table = _table(data, "authorizer", where)
    here = f"{where} [authorizer]"
    _only_keys(table, {"function", "identity_sources"}, here)
    function = table.get("function")
    if not isinstance(function, str):
        raise ConfigError(f"{here} function: must name a function of [functions]")
    if function not in functions:
        raise ConfigError(
            f"{here} function: {function!r} is not defined; defined: {', '.join(sorted(functions))}"
        )
    sources = table.get("identity_sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise ConfigError(f"{here} identity_sources: must be a list of strings")
    for source in sources:
        prefix = next((p for p in IDENTITY_SOURCE_PREFIXES if source.startswith(p)), None)
        if prefix is None or not _IDENTITY_NAME.match(source[len(prefix) :]):
            raise ConfigError(
                f"{here} identity_sources: {source!r} is not supported; use "
                "route.request.header.NAME or route.request.querystring.NAME"
            )
    return AuthorizerSpec(function=function, identity_sources=tuple(sources))


def _check_authorizer_mode(auth: str, authorizer: AuthorizerSpec | None, where: str) -> None:
    if auth == "custom" and authorizer is None:
        raise ConfigError(f"{where} 'custom': needs an [authorizer] table naming its function")
    if auth != "custom" and authorizer is not None:
        raise ConfigError(
            f"{where} {auth!r}: [authorizer] is used only with auth = 'custom'; "
            "set it, or remove [authorizer]"
        )


def _check_auth_has_connect(auth: str, routes: Mapping[str, str], where: str) -> None:
    """Authorization happens on $connect (IAM on the route, the token in its function): without
    that route, anyone could connect."""
    if auth != "none" and "$connect" not in routes:
        raise ConfigError(
            f"{where} {auth!r}: needs a '$connect' route, where connections are authorized; "
            "add one to [routes] or use auth = 'none'"
        )


def _check_region(region: str | None, where: str) -> None:
    if region is not None and not _REGION.match(region):
        raise ConfigError(
            f"{where} region {region!r}: not an AWS region name; use one like 'eu-west-1'"
        )


def _check_identity(
    name: str,
    stage: str,
    functions: Mapping[str, FunctionSpec],
    source: Path | None,
    auth: str = "none",
) -> None:
    where = f"{source} [stack]" if source else "[stack]"
    if not _NAME.match(name):
        raise ConfigError(
            f"{where} name {name!r}: use letters, digits and '-', starting with a letter"
        )
    if not _STAGE.match(stage):
        raise ConfigError(
            f"{where} stage {stage!r}: use letters, digits, '-' and '_' (at most 128)"
        )
    # With auth = "token", wsctl deploys its built-in authorizer function too.
    names = [*functions, *([BUILTIN_AUTHORIZER] if auth == "token" else [])]
    longest = max(names, key=len)
    resource = f"{name}-{stage}-{longest}"
    if len(resource) > MAX_RESOURCE_NAME:
        raise ConfigError(
            f"{where}: resource name {resource!r} is {len(resource)} characters; "
            f"AWS allows {MAX_RESOURCE_NAME}: shorten the name, stage or function name"
        )


def _only_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
        )


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where} [{key}]: must be a table")
    return value


def _string(table: Mapping, key: str, section: str, where: str, default: Any) -> Any:
    value = table.get(key, default)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where} [{section}] {key}: must be a string")
    return value


def _choice(table: Mapping, key: str, choices: tuple[str, ...], where: str, default: str) -> Any:
    value = table.get(key, default)
    if value not in choices:
        raise ConfigError(
            f"{where} [stack] {key}: {value!r} is not allowed; use one of {', '.join(choices)}"
        )
    return value


# The only values CloudWatch Logs' PutRetentionPolicy accepts (its API reference).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096)
LOG_RETENTION_DAYS += (1827, 2192, 2557, 2922, 3288, 3653)
# Left to the account: where an organisation's automation enforces its own retention on
# every log group (e.g. AWS Landing Zone Accelerator), wsctl neither sets nor compares it.
ACCOUNT_RETENTION = "account"


def _retention(stack: Mapping, where: str) -> int | None:
    value = stack.get("log_retention_days", 14)
    if value == ACCOUNT_RETENTION:
        return None
    if isinstance(value, bool) or value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(days) for days in LOG_RETENTION_DAYS)
        raise ConfigError(
            f"{where} [stack] log_retention_days: must be one of CloudWatch's values "
            f'({allowed}) or "{ACCOUNT_RETENTION}" to leave it to the account'
        )
    return value


def _integer(
    table: Mapping, key: str, section: str, where: str, low: int, high: int, default: int
) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where} [{section}] {key}: must be a whole number from {low} to {high}")
    return value
