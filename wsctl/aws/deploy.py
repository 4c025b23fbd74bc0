"""``up``, ``down`` and ``status`` of a stack on AWS, built from discover -> plan -> execute."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wsctl import naming
from wsctl.aws import resources
from wsctl.aws.awsclient import AwsClient
from wsctl.aws.executor import DEFAULT_CONCURRENCY, Executor, Outcome, Reporter, SilentReporter
from wsctl.aws.planner import (
    KIND_LABELS,
    Action,
    describe_key,
    key_of,
    plan,
    plan_teardown,
    refuse_foreign,
    refuse_key_changes,
)
from wsctl.aws.remote import Foreign, RemoteState, discover
from wsctl.config import ServiceSpec
from wsctl.errors import WsctlError
from wsctl.packaging import build_package


@dataclass(frozen=True)
class Endpoint:
    """Where clients reach a deployed stack."""

    stack: str
    region: str
    api_id: str
    stage: str
    url: str
    management_url: str

    def facts(self, auth: str) -> dict[str, Any]:
        """What ``state.save_deployed`` keeps for the client commands (never the token)."""
        return {
            "stack": self.stack,
            "region": self.region,
            "api_id": self.api_id,
            "stage": self.stage,
            "url": self.url,
            "management_url": self.management_url,
            "auth": auth,
        }


@dataclass
class UpResult:
    endpoint: Endpoint
    outcomes: list[Outcome]

    @property
    def changed(self) -> int:
        return sum(1 for o in self.outcomes if o.action.mutates)


def up(
    client: AwsClient,
    spec: ServiceSpec,
    *,
    token_digest: str | None = None,
    reporter: Reporter | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> UpResult:
    """Converge the account to ``spec``: create what is missing, update what differs, delete
    what the spec no longer has. Refuses before any change if a resource is foreign.
    ``concurrency`` 1 runs one step at a time (the baseline the benchmark compares with)."""
    spec = resources.deployable(spec)
    package = build_package(spec)
    remote = discover(client, spec, concurrency=concurrency)
    refuse_foreign(remote)
    refuse_key_changes(spec, remote)
    actions = plan(spec, remote, code_sha256=package.sha256, token_digest=token_digest)
    executor = Executor(
        client,
        spec,
        remote,
        code=package.data,
        token_digest=token_digest,
        reporter=reporter or SilentReporter(),
        concurrency=concurrency,
    )
    outcomes = executor.run(actions)
    if executor.api_id is None or not executor.api_endpoint:
        raise WsctlError("The WebSocket API has no endpoint after deploying; run 'wsctl up' again")
    return UpResult(
        endpoint=endpoint_of(spec, remote.place.region, executor.api_id, executor.api_endpoint),
        outcomes=outcomes,
    )


def endpoint_of(spec: ServiceSpec, region: str, api_id: str, api_endpoint: str) -> Endpoint:
    return Endpoint(
        stack=spec.stack,
        region=region,
        api_id=api_id,
        stage=spec.stage,
        url=resources.wss_url(api_endpoint, spec.stage),
        management_url=resources.management_url(api_endpoint, spec.stage),
    )


@dataclass
class DownResult:
    outcomes: list[Outcome]
    skipped: list[Foreign]


def down(
    client: AwsClient,
    spec: ServiceSpec,
    *,
    remote: RemoteState | None = None,
    reporter: Reporter | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> DownResult:
    """Delete every resource of the stack wsctl created; foreign look-alikes are left alone.
    ``remote`` is what ``find`` returned, if the caller already looked (to ask first)."""
    spec = resources.deployable(spec)
    remote = remote if remote is not None else discover(client, spec, concurrency=concurrency)
    executor = Executor(
        client, spec, remote, reporter=reporter or SilentReporter(), concurrency=concurrency
    )
    return DownResult(executor.run(plan_teardown(spec, remote)), list(remote.foreign))


def find(client: AwsClient, spec: ServiceSpec) -> tuple[RemoteState, list[Action]]:
    """The stack as found in the account, and what ``down`` would delete of it."""
    spec = resources.deployable(spec)
    remote = discover(client, spec)
    return remote, plan_teardown(spec, remote)


# -- status ----------------------------------------------------------------------------------
RESOURCE_STATES = {
    "unchanged": "present",
    "update": "out of date",
    "create": "missing",
    "delete": "not in wsctl.toml",
}


@dataclass(frozen=True)
class ResourceStatus:
    kind: str
    name: str
    id: str | None
    state: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "id": self.id, "state": self.state}


@dataclass
class TableStatus:
    """One table of the stack: its key, DynamoDB's item count (refreshed about every six
    hours, DescribeTable's reference), and its state (ACTIVE, CREATING... or missing)."""

    name: str
    key: str
    items: int | None
    state: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "key": self.key, "items": self.items, "state": self.state}


def table_statuses(spec: ServiceSpec, remote: RemoteState) -> list[TableStatus]:
    rows = []
    for table in sorted(set(spec.tables) | set(remote.tables)):
        found, wanted = remote.tables.get(table), spec.tables.get(table)
        if found is not None and found.key:
            key = describe_key(found.key)
        else:
            key = describe_key(key_of(wanted.partition_key, wanted.sort_key)) if wanted else ""
        name = found.name if found else naming.table_name(spec, table)
        state = found.status if found else "missing"
        if wanted is None:
            state += " (not in wsctl.toml)"
        rows.append(TableStatus(name, key, found.item_count if found else None, state))
    return rows


@dataclass
class StackStatus:
    stack: str
    region: str
    state: str  # deployed | out of date | partial | absent
    endpoint: Endpoint | None
    connections: int | None
    resources: list[ResourceStatus] = field(default_factory=list)
    tables: list[TableStatus] = field(default_factory=list)

    @property
    def present(self) -> bool:
        return self.state in ("deployed", "out of date")

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "state": self.state,
            "url": self.endpoint.url if self.endpoint else None,
            "managementUrl": self.endpoint.management_url if self.endpoint else None,
            "apiId": self.endpoint.api_id if self.endpoint else None,
            "connections": self.connections,
            "resources": [r.as_dict() for r in self.resources],
            "tables": [t.as_dict() for t in self.tables],
        }


def status(client: AwsClient, spec: ServiceSpec, *, token_digest: str | None = None) -> StackStatus:
    """Every resource of the stack with its id and state, compared against the spec."""
    spec = resources.deployable(spec)
    remote = discover(client, spec)
    actions = plan(spec, remote, code_sha256=build_package(spec).sha256, token_digest=token_digest)
    rows = [_resource_status(spec, remote, action) for action in actions]
    rows += [ResourceStatus(f.kind, f.name, None, "not created by wsctl") for f in remote.foreign]
    verbs = {action.verb for action in actions}
    if remote.is_empty:
        state = "absent"
    elif "create" in verbs:
        state = "partial"
    elif verbs & {"update", "delete"}:
        state = "out of date"
    else:
        state = "deployed"
    api, endpoint = remote.api, None
    if api is not None and remote.stage is not None and api.endpoint:
        endpoint = endpoint_of(spec, remote.place.region, api.api_id, api.endpoint)
    connections = None
    if remote.table is not None and not remote.table.deleting:
        connections = client.count_items(remote.table.name)
    return StackStatus(
        spec.stack,
        remote.place.region,
        state,
        endpoint,
        connections,
        rows,
        table_statuses(spec, remote),
    )


def _resource_status(spec: ServiceSpec, remote: RemoteState, action: Action) -> ResourceStatus:
    state = RESOURCE_STATES[action.verb]
    if action.verb == "update" and action.changes:
        state = f"{state} ({', '.join(action.changes)})"
    return ResourceStatus(
        KIND_LABELS[action.kind], action.name, _resource_id(spec, remote, action), state
    )


def _resource_id(spec: ServiceSpec, remote: RemoteState, action: Action) -> str | None:
    if action.verb == "create":
        return None
    fn = action.function or action.key
    if action.kind == "table":
        return next((t.arn for t in remote.tables.values() if t.name == action.key), None)
    if action.kind in ("role", "role_policy") and fn in remote.roles:
        return remote.roles[fn].arn
    if action.kind == "function" and fn in remote.functions:
        return remote.functions[fn].arn
    if action.kind == "log_group":
        return naming.log_group_name(spec, fn)
    if action.kind == "permission":
        return action.key
    if action.kind == "stage":
        return spec.stage
    return action.ref
