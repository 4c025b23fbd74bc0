"""What the account holds of a stack now, found by deterministic names and the stack tag.

No local state is read: a stack deployed from another machine is found the same way. A
resource that has one of the stack's names but not its tag is recorded as foreign: ``up``
refuses to adopt it and ``down`` leaves it alone.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from wsctl import naming
from wsctl.aws import resources
from wsctl.aws.awsclient import AwsClient, ResourceDoesNotExist
from wsctl.aws.resources import Place
from wsctl.config import CONNECTIONS_TABLE, ServiceSpec


@dataclass(frozen=True)
class Foreign:
    """A resource named like the stack's that wsctl did not create (no stack tag)."""

    kind: str
    name: str


@dataclass(frozen=True)
class IndexState:
    # (attribute, type, HASH | RANGE) for each key attribute, in key-schema order.
    key: tuple[tuple[str, str, str], ...]
    status: str = "ACTIVE"


@dataclass(frozen=True)
class TableState:
    name: str
    arn: str
    status: str
    ttl_attribute: str | None
    # (attribute, type, HASH | RANGE) for each key attribute; None: not read.
    key: tuple[tuple[str, str, str], ...] | None = None
    indexes: dict[str, IndexState] = field(default_factory=dict)
    item_count: int | None = None  # DynamoDB's figure, refreshed about every six hours
    billing_mode: str | None = None  # None: not read

    @property
    def deleting(self) -> bool:
        """Deleted moments ago: still listed, its name not yet free."""
        return self.status == "DELETING"


@dataclass(frozen=True)
class ApiState:
    api_id: str
    name: str
    endpoint: str
    route_selection_expression: str


@dataclass(frozen=True)
class RoleState:
    name: str
    arn: str
    policies: dict[str, dict[str, Any]]
    trust: dict[str, Any] | None = None  # who may assume it; None where not read


@dataclass(frozen=True)
class LogGroupState:
    name: str
    retention_days: int | None


@dataclass(frozen=True)
class FunctionState:
    name: str
    arn: str
    configuration: dict[str, Any]
    code_sha256: str
    architecture: str
    state: str
    # Statement id -> SourceArn, for the statements wsctl added.
    permissions: dict[str, str | None]
    last_update_status: str = "Successful"

    @property
    def busy(self) -> bool:
        """An earlier update (maybe of an interrupted run) is still being applied."""
        return self.state == "Pending" or self.last_update_status == "InProgress"


@dataclass(frozen=True)
class RouteState:
    route_id: str
    key: str
    target: str | None
    authorization: str
    authorizer_id: str | None = None
    response_selection: str | None = None
    # Route response key -> id (a two-way route has "$default"); read only where it matters.
    responses: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AuthorizerState:
    authorizer_id: str
    name: str
    uri: str
    identity_sources: tuple[str, ...]


@dataclass(frozen=True)
class StageState:
    name: str
    auto_deploy: bool
    route_settings: dict[str, Any]


@dataclass
class RemoteState:
    """Everything of one stack in one account and region. Keys: wsctl's function names
    (``connect``), route keys, and integration URIs."""

    place: Place
    tables: dict[str, TableState] = field(default_factory=dict)  # by name in wsctl.toml
    apis: list[ApiState] = field(default_factory=list)
    roles: dict[str, RoleState] = field(default_factory=dict)
    log_groups: dict[str, LogGroupState] = field(default_factory=dict)
    functions: dict[str, FunctionState] = field(default_factory=dict)
    integrations: dict[str, str] = field(default_factory=dict)  # uri -> integration id
    # uri -> the settings of wsctl's that differ from what it sets (resources.INTEGRATION_SETTINGS)
    integration_drift: dict[str, tuple[str, ...]] = field(default_factory=dict)
    stray_integrations: list[str] = field(default_factory=list)  # ids of duplicates/unknowns
    routes: dict[str, RouteState] = field(default_factory=dict)
    authorizers: dict[str, AuthorizerState] = field(default_factory=dict)  # by name
    stage: StageState | None = None
    foreign: list[Foreign] = field(default_factory=list)

    @property
    def api(self) -> ApiState | None:
        """The stack's API (the oldest, if an interrupted run ever left more than one)."""
        return self.apis[0] if self.apis else None

    @property
    def table(self) -> TableState | None:
        """The connections table, if the stack has one."""
        return self.tables.get(CONNECTIONS_TABLE)

    @table.setter
    def table(self, state: TableState | None) -> None:
        if state is None:
            self.tables.pop(CONNECTIONS_TABLE, None)
        else:
            self.tables[CONNECTIONS_TABLE] = state

    @property
    def is_empty(self) -> bool:
        table = any(not state.deleting for state in self.tables.values())
        return not (table or self.apis or self.roles or self.log_groups or self.functions)


T = TypeVar("T")
R = TypeVar("R")
# Reads at once while discovering: reads are cheap for AWS and this is most of a no-op `up`.
DISCOVERY_CONCURRENCY = 8
_FOREIGN_ORDER = ("DynamoDB table", "API Gateway API", "IAM role", "log group", "Lambda function")


def each(function: Callable[[T], R], items: Iterable[T], concurrency: int) -> list[R]:
    """``function`` of each item, up to ``concurrency`` at once, results in the items' order."""
    items = list(items)
    if concurrency <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items))) as pool:
        return list(pool.map(function, items))


def discover(
    client: AwsClient,
    spec: ServiceSpec,
    place: Place | None = None,
    concurrency: int = DISCOVERY_CONCURRENCY,
) -> RemoteState:
    """Read the stack's resources; only read-only calls, the independent ones at once."""
    remote = RemoteState(place=place or client.whoami())
    tags = naming.stack_tags(spec)
    prefix = f"{spec.stack}-"
    parts = (
        lambda: _discover_tables(client, spec, remote, tags, prefix, concurrency),
        lambda: _discover_api(client, spec, remote, tags, concurrency),
        lambda: _discover_roles(client, spec, remote, tags, prefix, concurrency),
        lambda: _discover_log_groups(client, spec, remote, tags, prefix, concurrency),
        lambda: _discover_functions(client, spec, remote, tags, prefix, concurrency),
    )
    each(lambda part: part(), parts, concurrency)
    # Parts found their look-alikes concurrently: report them in a stable order.
    remote.foreign.sort(key=lambda foreign: _FOREIGN_ORDER.index(foreign.kind))
    return remote


def _ours(found: dict[str, str], tags: dict[str, str]) -> bool:
    return all(found.get(key) == value for key, value in tags.items())


def _function_key(spec: ServiceSpec, resource_name: str) -> str:
    """``wsctl-dev-connect`` -> ``connect`` (the function's or table's name in wsctl.toml)."""
    return resource_name[len(spec.stack) + 1 :]


def _discover_tables(client, spec, remote, tags, prefix, concurrency) -> None:
    """The stack's tables: those wsctl.toml names, and any other tagged with the stack (a
    table removed from wsctl.toml, which ``down`` still deletes)."""
    wanted = set(naming.table_names(spec).values())
    names = wanted | {name for name in client.table_names() if name.startswith(prefix)}
    found = each(lambda name: _read_table(client, name, tags), sorted(names), concurrency)
    for name, state in zip(sorted(names), found, strict=True):
        if state == "foreign":
            if name in wanted:
                remote.foreign.append(Foreign("DynamoDB table", name))
        elif isinstance(state, TableState) and (name in wanted or not state.deleting):
            # (A DELETING table's tag is not read: only the stack's own names count then.)
            remote.tables[_function_key(spec, name)] = state


def _read_table(client, name, tags) -> TableState | str | None:
    try:
        table = client.describe_table(name)
    except ResourceDoesNotExist:
        return None
    if table.get("TableStatus") == "DELETING":
        # On its way out, whoever deleted it: only its name matters, free once it is gone.
        return TableState(name, table["TableArn"], "DELETING", None)
    if not _ours(client.table_tags(table["TableArn"]), tags):
        return "foreign"
    types = {
        d["AttributeName"]: d["AttributeType"] for d in table.get("AttributeDefinitions") or []
    }

    def key_of(schema: list[dict[str, str]]) -> tuple[tuple[str, str, str], ...]:
        return tuple(
            (k["AttributeName"], types.get(k["AttributeName"], "?"), k["KeyType"]) for k in schema
        )

    return TableState(
        name=name,
        arn=table["TableArn"],
        status=table.get("TableStatus", "UNKNOWN"),
        ttl_attribute=client.table_ttl(name),
        key=key_of(table.get("KeySchema") or []),
        indexes={
            index["IndexName"]: IndexState(
                key_of(index.get("KeySchema") or []), index.get("IndexStatus", "ACTIVE")
            )
            for index in table.get("GlobalSecondaryIndexes") or []
        },
        item_count=table.get("ItemCount"),
        # No summary: a table from before on-demand existed, which is provisioned.
        billing_mode=(table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
    )


_SETTING_NAMES = {"IntegrationType": "integration type", "IntegrationMethod": "integration method"}


def _discover_api(client, spec, remote, tags, concurrency) -> None:
    name = naming.api_name(spec)
    apis = sorted(client.apis_named(name), key=lambda api: str(api.get("CreatedDate", "")))
    for api in apis:
        if api.get("ProtocolType") == "WEBSOCKET" and _ours(api.get("Tags") or {}, tags):
            remote.apis.append(
                ApiState(
                    api_id=api["ApiId"],
                    name=name,
                    endpoint=api.get("ApiEndpoint", ""),
                    route_selection_expression=api.get("RouteSelectionExpression", ""),
                )
            )
        else:
            remote.foreign.append(Foreign("API Gateway API", f"{name} ({api['ApiId']})"))
    api = remote.api
    if api is None:
        return
    integrations, routes, stage = each(
        lambda read: read(),
        (
            lambda: client.integrations(api.api_id),
            lambda: client.routes(api.api_id),
            lambda: _stage_or_none(client, api.api_id, spec.stage),
        ),
        concurrency,
    )
    for integration in integrations:
        uri = integration.get("IntegrationUri", "")
        if uri in remote.integrations:
            remote.stray_integrations.append(integration["IntegrationId"])
        else:
            remote.integrations[uri] = integration["IntegrationId"]
            drift = tuple(
                _SETTING_NAMES[setting]
                for setting, wanted in resources.INTEGRATION_SETTINGS.items()
                if integration.get(setting) != wanted
            )
            if drift:
                remote.integration_drift[uri] = drift
    for route in routes:
        key = route["RouteKey"]
        selection = route.get("RouteResponseSelectionExpression") or None
        responses = {}
        # Listed only where the route is or was two-way: one call per such route.
        if selection or key in spec.respond_routes:
            responses = {
                response["RouteResponseKey"]: response["RouteResponseId"]
                for response in client.route_responses(api.api_id, route["RouteId"])
            }
        remote.routes[key] = RouteState(
            route_id=route["RouteId"],
            key=key,
            target=route.get("Target"),
            authorization=route.get("AuthorizationType", "NONE"),
            authorizer_id=route.get("AuthorizerId"),
            response_selection=selection,
            responses=responses,
        )
    connect = remote.routes.get("$connect")
    if resources.has_authorizer(spec) or (connect and connect.authorizer_id):
        for found in client.authorizers(api.api_id):
            remote.authorizers[found.get("Name", found["AuthorizerId"])] = AuthorizerState(
                authorizer_id=found["AuthorizerId"],
                name=found.get("Name", ""),
                uri=found.get("AuthorizerUri", ""),
                identity_sources=tuple(found.get("IdentitySource") or ()),
            )
    if stage is None:
        return
    remote.stage = StageState(
        name=spec.stage,
        auto_deploy=bool(stage.get("AutoDeploy")),
        route_settings=stage.get("DefaultRouteSettings") or {},
    )


def _stage_or_none(client: AwsClient, api_id: str, stage: str) -> dict[str, Any] | None:
    try:
        return client.get_stage(api_id, stage)
    except ResourceDoesNotExist:
        return None


def _discover_roles(client, spec, remote, tags, prefix, concurrency) -> None:
    path = resources.role_path(spec)
    names = set(client.role_names_under(path))
    # A role with one of the stack's names outside its path cannot be ours: find those too.
    names |= {naming.role_name(spec, fn) for fn in spec.functions}
    found = each(
        lambda name: _read_role(client, name, path, tags),
        sorted(name for name in names if name.startswith(prefix)),
        concurrency,
    )
    for name, state in found:
        if state == "foreign":
            remote.foreign.append(Foreign("IAM role", name))
        elif state is not None:
            remote.roles[_function_key(spec, name)] = state


def _read_role(client, name, path, tags) -> tuple[str, RoleState | str | None]:
    try:
        role = client.get_role(name)
    except ResourceDoesNotExist:
        return name, None
    role_tags = {tag["Key"]: tag["Value"] for tag in role.get("Tags") or []}
    if role.get("Path") != path or not _ours(role_tags, tags):
        return name, "foreign"
    # Only now its policies: `wsctl policy` grants reading them on the stack's roles only
    # (under its path), not on a look-alike's.
    policy_names = client.role_policy_names(name)
    documents = each(lambda policy: client.role_policy(name, policy), policy_names, 4)
    policies = dict(zip(policy_names, documents, strict=True))
    return name, RoleState(name, role["Arn"], policies, _document(role["AssumeRolePolicyDocument"]))


def _document(value: str | dict[str, Any]) -> dict[str, Any]:
    """A policy document as IAM returns it: boto3 decodes it, a raw answer is URL-encoded."""
    return value if isinstance(value, dict) else json.loads(urllib.parse.unquote(value))


def _or_none(read: Callable[[], R]) -> R | None:
    try:
        return read()
    except ResourceDoesNotExist:
        return None


def _discover_log_groups(client, spec, remote, tags, prefix, concurrency) -> None:
    wanted = {naming.log_group_name(spec, fn) for fn in spec.functions}
    groups = client.log_groups(f"/aws/lambda/{prefix}")

    def tags_of(group: dict[str, Any]) -> dict[str, str]:
        arn = group.get("logGroupArn") or group.get("arn", "").removesuffix(":*")
        return client.log_group_tags(arn)

    for group, group_tags in zip(groups, each(tags_of, groups, concurrency), strict=True):
        name = group["logGroupName"]
        if not _ours(group_tags, tags):
            if name in wanted:
                remote.foreign.append(Foreign("log group", name))
            continue
        key = _function_key(spec, name.removeprefix("/aws/lambda/"))
        remote.log_groups[key] = LogGroupState(name, group.get("retentionInDays"))


def _discover_functions(client, spec, remote, tags, prefix, concurrency) -> None:
    wanted = {naming.function_name(spec, fn) for fn in spec.functions}
    names = sorted(client.function_names(prefix))
    for name, state in zip(
        names,
        each(lambda n: _read_function(client, remote.place, n, tags), names, concurrency),
        strict=True,
    ):
        if state == "foreign":
            if name in wanted:
                remote.foreign.append(Foreign("Lambda function", name))
        elif state is not None:
            remote.functions[_function_key(spec, name)] = state


def _read_function(client, place, name, tags) -> FunctionState | str | None:
    # GetFunction returns Tags only to callers allowed lambda:ListTags, and then TagsError
    # instead: ask ListTags itself, so a denial is an error, never "foreign". The three reads
    # go at once (the ARN is known from the name).
    arn = f"arn:{place.partition}:lambda:{place.region}:{place.account}:function:{name}"
    found, function_tags, statements = each(
        lambda read: read(),
        (
            lambda: _or_none(lambda: client.get_function(name)),
            lambda: _or_none(lambda: client.function_tags(arn)),
            lambda: client.function_policy_statements(name),
        ),
        3,
    )
    if found is None or function_tags is None:
        return None
    config = found["Configuration"]
    if not _ours(function_tags, tags):
        return "foreign"
    return FunctionState(
        name=name,
        arn=config["FunctionArn"],
        configuration={
            "Runtime": config.get("Runtime"),
            "Handler": config.get("Handler"),
            "MemorySize": config.get("MemorySize"),
            "Timeout": config.get("Timeout"),
            "Role": config.get("Role"),
            "Environment": {"Variables": (config.get("Environment") or {}).get("Variables") or {}},
        },
        code_sha256=config.get("CodeSha256", ""),
        architecture=(config.get("Architectures") or ["x86_64"])[0],
        state=config.get("State", "Active"),
        last_update_status=config.get("LastUpdateStatus", "Successful"),
        permissions={
            statement["Sid"]: _source_arn(statement)
            for statement in statements
            if str(statement.get("Sid", "")).startswith(resources.PERMISSION_PREFIX)
        },
    )


def _source_arn(statement: dict[str, Any]) -> str | None:
    condition = statement.get("Condition") or {}
    for operator in ("ArnLike", "ArnEquals", "StringEquals", "StringLike"):
        value = (condition.get(operator) or {}).get("AWS:SourceArn")
        if value:
            return value
    return None
