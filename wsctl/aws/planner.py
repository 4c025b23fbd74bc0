"""The deploy plan as data: what to create, update, delete or leave, compared against
``RemoteState``. Pure: no AWS call happens here.

``plan`` converges an account to the spec in both directions (a route or function removed
from wsctl.toml is deleted); ``plan_teardown`` deletes everything of the stack. Creates and
updates come first, in the order of DESIGN.md section 3; deletions follow, walking that
order backwards. Routes, integrations and the stage go with their API, and invoke
permissions with their function, so they are only deleted on their own when their parent
stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wsctl import naming
from wsctl.aws import resources
from wsctl.aws.remote import RemoteState
from wsctl.config import ServiceSpec
from wsctl.errors import WsctlError

Verb = Literal["create", "update", "delete", "unchanged"]
KINDS = (
    "table",
    "api",
    "role",
    "role_policy",
    "log_group",
    "function",
    "integration",
    "route",
    "permission",
    "stage",
)
KIND_LABELS = {
    "table": "DynamoDB table",
    "api": "WebSocket API",
    "role": "IAM role",
    "role_policy": "IAM inline policy",
    "log_group": "log group",
    "function": "Lambda function",
    "integration": "integration",
    "route": "route",
    "permission": "invoke permission",
    "stage": "stage",
}


@dataclass(frozen=True)
class Action:
    """One step on one resource. ``key`` identifies it within its kind (a function's name in
    wsctl.toml, a route key, an integration URI...); ``ref`` is its AWS id when it exists."""

    verb: Verb
    kind: str
    key: str
    name: str
    changes: tuple[str, ...] = ()
    ref: str | None = None
    function: str | None = None

    @property
    def label(self) -> str:
        return f"{KIND_LABELS[self.kind]} {self.name}"

    @property
    def mutates(self) -> bool:
        return self.verb != "unchanged"


def refuse_foreign(remote: RemoteState) -> None:
    """Never adopt a resource wsctl did not create: it could be someone else's."""
    if remote.foreign:
        first = remote.foreign[0]
        more = f" (and {len(remote.foreign) - 1} more)" if len(remote.foreign) > 1 else ""
        raise WsctlError(
            f"Refusing to adopt {first.kind} {first.name}{more}: it has the stack's name but "
            f"not the tag {naming.STACK_TAG}, so wsctl did not create it. Delete or rename "
            "it, or deploy with another --name or --stage."
        )


def plan(
    spec: ServiceSpec,
    remote: RemoteState,
    *,
    code_sha256: str,
    token_digest: str | None = None,
) -> list[Action]:
    """The actions that make ``remote`` match ``spec``; every resource appears once."""
    place = remote.place
    api = remote.api
    api_id = api.api_id if api else None
    actions: list[Action] = []

    table_name = naming.table_name(spec)
    if remote.table is None:
        actions.append(Action("create", "table", table_name, table_name))
    elif remote.table.ttl_attribute != resources.TTL_ATTRIBUTE:
        actions.append(Action("update", "table", table_name, table_name, ("ttl",)))
    else:
        actions.append(Action("unchanged", "table", table_name, table_name))

    api_name = naming.api_name(spec)
    if api is None:
        actions.append(Action("create", "api", api_name, api_name))
    else:
        wanted = resources.api_definition(spec)["RouteSelectionExpression"]
        verb: Verb = "update" if api.route_selection_expression != wanted else "unchanged"
        changes = ("route selection",) if verb == "update" else ()
        actions.append(
            Action(verb, "api", api_name, f"{api_name} ({api.api_id})", changes, api.api_id)
        )

    functions = sorted(spec.functions)
    for fn in functions:
        name = naming.role_name(spec, fn)
        verb = "unchanged" if fn in remote.roles else "create"
        actions.append(Action(verb, "role", fn, name, function=fn))
    for fn in functions:
        actions.append(_role_policy_action(spec, remote, fn, api_id))
    for fn in functions:
        name = naming.log_group_name(spec, fn)
        group = remote.log_groups.get(fn)
        if group is None:
            actions.append(Action("create", "log_group", fn, name, function=fn))
        elif group.retention_days != spec.log_retention_days:
            actions.append(Action("update", "log_group", fn, name, ("retention",), function=fn))
        else:
            actions.append(Action("unchanged", "log_group", fn, name, function=fn))
    for fn in functions:
        actions.append(_function_action(spec, remote, fn, code_sha256, token_digest))

    integrations_changing = set()
    for fn in resources.route_functions(spec):
        uri = resources.integration_uri(spec, fn, place)
        integration_id = remote.integrations.get(uri) if api else None
        name = naming.function_name(spec, fn)
        if integration_id is None:
            integrations_changing.add(fn)
            actions.append(Action("create", "integration", uri, name, function=fn))
        else:
            actions.append(
                Action(
                    "unchanged",
                    "integration",
                    uri,
                    f"{name} ({integration_id})",
                    ref=integration_id,
                    function=fn,
                )
            )

    for key in sorted(spec.routes):
        fn = spec.routes[key]
        route = remote.routes.get(key) if api else None
        if route is None:
            actions.append(Action("create", "route", key, key, function=fn))
            continue
        changes = []
        uri = resources.integration_uri(spec, fn, place)
        if (
            fn in integrations_changing
            or route.target != f"integrations/{remote.integrations[uri]}"
        ):
            changes.append("target")
        if route.authorization != resources.route_authorization(spec, key):
            changes.append("authorization")
        verb = "update" if changes else "unchanged"
        actions.append(Action(verb, "route", key, key, tuple(changes), route.route_id, fn))

    for key in sorted(spec.routes):
        fn = spec.routes[key]
        sid = resources.permission_statement_id(key)
        function = remote.functions.get(fn)
        existing = function.permissions.get(sid, "") if function else ""
        name = f"{naming.function_name(spec, fn)} for {key}"
        if api_id is None or function is None or existing == "":
            actions.append(Action("create", "permission", sid, name, function=fn))
        elif existing != resources.permission_source_arn(place, api_id, key):
            actions.append(Action("update", "permission", sid, name, ("source ARN",), function=fn))
        else:
            actions.append(Action("unchanged", "permission", sid, name, function=fn))

    if remote.stage is None or api is None:
        actions.append(Action("create", "stage", spec.stage, spec.stage))
    else:
        wanted_settings = resources.stage_route_settings()
        throttling = ("ThrottlingBurstLimit", "ThrottlingRateLimit")
        differs = not remote.stage.auto_deploy or any(
            remote.stage.route_settings.get(k) != wanted_settings[k] for k in throttling
        )
        verb = "update" if differs else "unchanged"
        changes = ("settings",) if differs else ()
        actions.append(Action(verb, "stage", spec.stage, spec.stage, changes, api.api_id))

    return actions + _deletions(spec, remote, actions)


def plan_teardown(spec: ServiceSpec, remote: RemoteState) -> list[Action]:
    """Delete every resource of the stack that wsctl created, last-created first."""
    return _deletions(spec, remote, [])


def _role_policy_action(
    spec: ServiceSpec, remote: RemoteState, fn: str, api_id: str | None
) -> Action:
    function = spec.functions[fn]
    name = f"{resources.INLINE_POLICY_NAME} of {naming.role_name(spec, fn)}"
    role = remote.roles.get(fn)
    existing = role.policies.get(resources.INLINE_POLICY_NAME) if role else None
    if existing is None:
        return Action("create", "role_policy", fn, name, function=fn)
    if function.manages_connections and api_id is None:
        return Action("update", "role_policy", fn, name, ("new API",), function=fn)
    wanted = resources.function_policy(spec, function, remote.place, api_id)
    if _normalized(existing) != _normalized(wanted):
        return Action("update", "role_policy", fn, name, ("statements",), function=fn)
    return Action("unchanged", "role_policy", fn, name, function=fn)


def _function_action(
    spec: ServiceSpec,
    remote: RemoteState,
    fn: str,
    code_sha256: str,
    token_digest: str | None,
) -> Action:
    name = naming.function_name(spec, fn)
    found = remote.functions.get(fn)
    if found is None:
        return Action("create", "function", fn, name, function=fn)
    changes: list[str] = []
    if found.code_sha256 != code_sha256 or found.architecture != spec.architecture:
        changes.append("code")
    wanted = resources.function_configuration(spec, spec.functions[fn], remote.place, token_digest)
    changes.extend(
        _CONFIG_LABELS[key] for key in wanted if found.configuration.get(key) != wanted[key]
    )
    return Action(
        "update" if changes else "unchanged", "function", fn, name, tuple(changes), found.arn, fn
    )


_CONFIG_LABELS = {
    "Runtime": "runtime",
    "Handler": "handler",
    "MemorySize": "memory",
    "Timeout": "timeout",
    "Role": "role",
    "Environment": "environment",
}


def _deletions(spec: ServiceSpec, remote: RemoteState, kept: list[Action]) -> list[Action]:
    """What exists but is not in ``kept``, in reverse creation order."""
    keep = {(action.kind, action.key) for action in kept}
    deletions: list[Action] = []
    apis_deleted = [api for api in remote.apis if ("api", naming.api_name(spec)) not in keep]
    if remote.apis and ("api", naming.api_name(spec)) in keep:
        apis_deleted = remote.apis[1:]  # duplicates left by an interrupted run
    primary_kept = remote.api is not None and remote.api not in apis_deleted
    functions_deleted = {fn for fn in remote.functions if ("function", fn) not in keep}

    if primary_kept and remote.stage is not None and ("stage", spec.stage) not in keep:
        deletions.append(Action("delete", "stage", spec.stage, spec.stage, ref=remote.api.api_id))
    for fn in sorted(set(remote.functions) - functions_deleted):
        found = remote.functions[fn]
        for sid in sorted(found.permissions):
            if ("permission", sid) not in keep or spec.routes.get(_route_of(spec, sid)) != fn:
                deletions.append(
                    Action("delete", "permission", sid, f"{found.name} {sid}", function=fn)
                )
    if primary_kept:
        for key, route in sorted(remote.routes.items()):
            if ("route", key) not in keep:
                deletions.append(Action("delete", "route", key, key, ref=route.route_id))
        for uri, integration_id in sorted(remote.integrations.items()):
            if ("integration", uri) not in keep:
                deletions.append(
                    Action("delete", "integration", uri, integration_id, ref=integration_id)
                )
        for integration_id in remote.stray_integrations:
            deletions.append(
                Action("delete", "integration", integration_id, integration_id, ref=integration_id)
            )
    for fn in sorted(functions_deleted):
        found = remote.functions[fn]
        deletions.append(Action("delete", "function", fn, found.name, ref=found.arn, function=fn))
    for fn, group in sorted(remote.log_groups.items()):
        if ("log_group", fn) not in keep:
            deletions.append(Action("delete", "log_group", fn, group.name, function=fn))
    for fn, role in sorted(remote.roles.items()):
        role_kept = ("role", fn) in keep
        for policy in sorted(role.policies):
            if not role_kept or policy != resources.INLINE_POLICY_NAME:
                deletions.append(
                    Action(
                        "delete",
                        "role_policy",
                        f"{fn}/{policy}",
                        f"{policy} of {role.name}",
                        ref=policy,
                        function=fn,
                    )
                )
    for fn, role in sorted(remote.roles.items()):
        if ("role", fn) not in keep:
            deletions.append(Action("delete", "role", fn, role.name, function=fn))
    for api in apis_deleted:
        deletions.append(
            Action("delete", "api", api.api_id, f"{api.name} ({api.api_id})", ref=api.api_id)
        )
    if remote.table is not None and ("table", naming.table_name(spec)) not in keep:
        deletions.append(Action("delete", "table", remote.table.name, remote.table.name))
    return deletions


def _route_of(spec: ServiceSpec, statement_id: str) -> str | None:
    for key in spec.routes:
        if resources.permission_statement_id(key) == statement_id:
            return key
    return None


def _normalized(document: dict) -> object:
    """Policy documents compare equal regardless of list order or a lone string action."""

    def norm(value: object) -> object:
        if isinstance(value, dict):
            return tuple(sorted((k, norm(v)) for k, v in value.items()))
        if isinstance(value, list):
            items = [norm(v) for v in value]
            return items[0] if len(items) == 1 else tuple(sorted(items, key=repr))
        return value

    return norm(document)
