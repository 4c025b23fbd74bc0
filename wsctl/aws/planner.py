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
from wsctl.aws.remote import RemoteState, TableState
from wsctl.config import IndexSpec, KeySpec, ServiceSpec, TableSpec
from wsctl.errors import WsctlError

Verb = Literal["create", "update", "delete", "unchanged"]
# How a step finds the steps it needs: the one of the same function, or every one of a kind.
SAME_FUNCTION, EVERY = "same function", "every"


@dataclass(frozen=True)
class Kind:
    """A kind of resource: its label, what it needs before it can be created or updated
    (``(kind, how)`` pairs; deleting walks these backwards), and its lane (steps of a lane
    with a limit of its own, e.g. API Gateway's, which serialises mutations of one API)."""

    name: str
    label: str
    needs: tuple[tuple[str, str], ...] = ()
    lane: str = "default"


# In DESIGN.md section 3's order. A new kind of resource is one more row here, a ``_X_action``
# in ``plan`` and ``_create_X``/``_update_X``/``_delete_X`` in the executor.
KIND_TABLE = (
    Kind("table", "DynamoDB table"),
    Kind("api", "WebSocket API", lane="apigateway"),
    Kind("role", "IAM role"),
    # A function that posts to connections is granted them on the API's id.
    Kind("role_policy", "IAM inline policy", (("role", SAME_FUNCTION), ("api", EVERY))),
    Kind("log_group", "log group"),
    # Its role's inline policy matters only once it is invoked: the stage waits for it.
    Kind("function", "Lambda function", (("role", SAME_FUNCTION), ("log_group", SAME_FUNCTION))),
    Kind(
        "integration",
        "integration",
        (("api", EVERY), ("function", SAME_FUNCTION)),
        lane="apigateway",
    ),
    # The $connect authorizer invokes its function by URI.
    Kind(
        "authorizer",
        "authorizer",
        (("api", EVERY), ("function", SAME_FUNCTION)),
        lane="apigateway",
    ),
    Kind(
        "route",
        "route",
        (("integration", SAME_FUNCTION), ("authorizer", EVERY)),
        lane="apigateway",
    ),
    Kind(
        "permission",
        "invoke permission",
        (("function", SAME_FUNCTION), ("api", EVERY), ("authorizer", EVERY)),
    ),
    # The stage makes the routes callable: everything a call needs is in place before it.
    Kind(
        "stage",
        "stage",
        (("route", EVERY), ("permission", EVERY), ("role_policy", EVERY)),
        lane="apigateway",
    ),
)
KINDS = tuple(kind.name for kind in KIND_TABLE)
KIND_LABELS = {kind.name: kind.label for kind in KIND_TABLE}
KIND_BY_NAME = {kind.name: kind for kind in KIND_TABLE}


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
    functions = sorted(spec.functions)
    actions = [_table_action(spec, remote, table) for table in sorted(spec.tables)]
    actions += _tables_kept(spec, remote)
    actions.append(_api_action(spec, remote))
    actions += [_role_action(spec, remote, fn) for fn in functions]
    actions += [_role_policy_action(spec, remote, fn) for fn in functions]
    actions += [_log_group_action(spec, remote, fn) for fn in functions]
    actions += [_function_action(spec, remote, fn, code_sha256, token_digest) for fn in functions]
    integrations = _integration_actions(spec, remote)
    actions += integrations
    created = {a.function for a in integrations if a.verb == "create"}
    authorizer = _authorizer_action(spec, remote)
    if authorizer is not None:
        actions.append(authorizer)
        if authorizer.verb == "create":
            created.add(AUTHORIZER_CREATED)
    actions += [_route_action(spec, remote, key, created) for key in sorted(spec.routes)]
    actions += [_permission_action(spec, remote, fn) for fn in resources.route_functions(spec)]
    if authorizer is not None:
        actions.append(_authorizer_permission_action(spec, remote, authorizer))
    actions.append(_stage_action(spec, remote))
    return actions + _deletions(spec, remote, actions)


def _table_action(spec: ServiceSpec, remote: RemoteState, table: str) -> Action:
    name = naming.table_name(spec, table)
    found = remote.tables.get(table)
    if found is None:
        return Action("create", "table", name, name)
    if found.deleting:
        return Action("create", "table", name, name, ("still being deleted",))
    wanted = spec.tables[table]
    changes = []
    if found.key is not None and found.key != key_of(wanted.partition_key, wanted.sort_key):
        changes.append(KEY_CHANGE)
    if found.billing_mode not in (None, resources.BILLING_MODE):
        changes.append("billing mode")
    if found.ttl_attribute != wanted.ttl:
        changes.append("ttl")
    if any(index_changes(wanted, found)):
        changes.append("indexes")
    verb: Verb = "update" if changes else "unchanged"
    return Action(verb, "table", name, name, tuple(changes))


# A table's key cannot change (DynamoDB's UpdateTable takes no KeySchema): ``up`` refuses it.
KEY_CHANGE = "key"


def key_of(partition: KeySpec, sort: KeySpec | None) -> tuple[tuple[str, str, str], ...]:
    """A key as discovery reads it: (attribute, type, HASH | RANGE) in key-schema order."""
    key = [(partition.name, partition.type, "HASH")]
    if sort is not None:
        key.append((sort.name, sort.type, "RANGE"))
    return tuple(key)


def index_changes(wanted: TableSpec, found: TableState) -> tuple[list[str], list[IndexSpec]]:
    """The indexes to delete (gone from wsctl.toml, or their key changed) and to create."""
    wanted_keys = {i.name: key_of(i.partition_key, i.sort_key) for i in wanted.indexes}
    delete = sorted(
        name for name, index in found.indexes.items() if wanted_keys.get(name) != index.key
    )
    create = [
        index for index in wanted.indexes if index.name not in found.indexes or index.name in delete
    ]
    return delete, create


def _tables_kept(spec: ServiceSpec, remote: RemoteState) -> list[Action]:
    """Tables of the stack no longer in wsctl.toml: ``up`` leaves them (they hold data; a
    renamed table would lose it); ``down`` deletes them."""
    return [
        Action("unchanged", "table", found.name, f"{found.name} (not in wsctl.toml: kept)")
        for table, found in sorted(remote.tables.items())
        if table not in spec.tables and not found.deleting
    ]


def refuse_key_changes(spec: ServiceSpec, remote: RemoteState) -> None:
    """A table whose key differs from wsctl.toml's needs a new table: refuse, change nothing."""
    for table, wanted in sorted(spec.tables.items()):
        found = remote.tables.get(table)
        key = key_of(wanted.partition_key, wanted.sort_key)
        if found is None or found.deleting or found.key is None or found.key == key:
            continue
        raise WsctlError(
            f"Table {found.name}: its key is {describe_key(found.key)} but wsctl.toml says "
            f"{describe_key(key)}; DynamoDB cannot change a table's key, it needs a new "
            f"table: give [tables.{table}] another name (a new, empty table), or put the key "
            "back"
        )


def describe_key(key: tuple[tuple[str, str, str], ...]) -> str:
    """``room (S) + at (N)``."""
    return " + ".join(f"{name} ({kind})" for name, kind, _ in key)


def _api_action(spec: ServiceSpec, remote: RemoteState) -> Action:
    name = naming.api_name(spec)
    api = remote.api
    if api is None:
        return Action("create", "api", name, name)
    wanted = resources.api_definition(spec)["RouteSelectionExpression"]
    label = f"{name} ({api.api_id})"
    if api.route_selection_expression != wanted:
        return Action("update", "api", name, label, ("route selection",), api.api_id)
    return Action("unchanged", "api", name, label, ref=api.api_id)


def _role_action(spec: ServiceSpec, remote: RemoteState, fn: str) -> Action:
    name = naming.role_name(spec, fn)
    found = remote.roles.get(fn)
    if found is None:
        return Action("create", "role", fn, name, function=fn)
    if found.trust is not None and _normalized(found.trust) != _normalized(
        resources.LAMBDA_TRUST_POLICY
    ):
        return Action("update", "role", fn, name, ("trust policy",), function=fn)
    return Action("unchanged", "role", fn, name, function=fn)


def _log_group_action(spec: ServiceSpec, remote: RemoteState, fn: str) -> Action:
    name = naming.log_group_name(spec, fn)
    group = remote.log_groups.get(fn)
    if group is None:
        return Action("create", "log_group", fn, name, function=fn)
    if spec.log_retention_days is not None and group.retention_days != spec.log_retention_days:
        return Action("update", "log_group", fn, name, ("retention",), function=fn)
    return Action("unchanged", "log_group", fn, name, function=fn)


def _integration_actions(spec: ServiceSpec, remote: RemoteState) -> list[Action]:
    """One AWS_PROXY integration per function that some route calls."""
    actions = []
    for fn in resources.route_functions(spec):
        uri = resources.integration_uri(spec, fn, remote.place)
        integration_id = remote.integrations.get(uri) if remote.api else None
        name = naming.function_name(spec, fn)
        if integration_id is None:
            actions.append(Action("create", "integration", uri, name, function=fn))
        else:
            label = f"{name} ({integration_id})"
            drift = remote.integration_drift.get(uri, ())
            verb: Verb = "update" if drift else "unchanged"
            actions.append(
                Action(verb, "integration", uri, label, drift, ref=integration_id, function=fn)
            )
    return actions


# In the set of things created by this plan: the authorizer (routes then point at its new id).
AUTHORIZER_CREATED = "(authorizer)"


def _authorizer_action(spec: ServiceSpec, remote: RemoteState) -> Action | None:
    """The $connect authorizer (``auth = "custom"``, or ``token``'s built-in one)."""
    wanted = resources.authorizer_definition(spec, remote.place)
    if wanted is None:
        return None
    name, fn = wanted["Name"], spec.authorizer.function if spec.authorizer else None
    found = remote.authorizers.get(name) if remote.api else None
    if found is None:
        return Action("create", "authorizer", name, name, function=fn)
    changes = []
    if found.uri != wanted["AuthorizerUri"]:
        changes.append("function")
    if list(found.identity_sources) != wanted["IdentitySource"]:
        changes.append("identity sources")
    verb: Verb = "update" if changes else "unchanged"
    return Action(verb, "authorizer", name, name, tuple(changes), found.authorizer_id, fn)


def _authorizer_permission_action(
    spec: ServiceSpec, remote: RemoteState, authorizer: Action
) -> Action:
    """API Gateway may invoke the authorizer function, scoped to that authorizer's ARN."""
    fn = authorizer.function or ""
    sid = resources.AUTHORIZER_STATEMENT_ID
    function = remote.functions.get(fn)
    existing = function.permissions.get(sid, "") if function else ""
    name = f"{naming.function_name(spec, fn)} for the authorizer"
    if not existing:
        return Action("create", "permission", sid, name, function=fn)
    # A statement for another (or a recreated) authorizer is replaced: AddPermission with an
    # existing statement id is a 409 ResourceConflictException on AWS (DESIGN.md section 3).
    if remote.api is None or authorizer.ref is None:
        return Action("update", "permission", sid, name, ("source ARN",), function=fn)
    wanted = resources.authorizer_source_arn(remote.place, remote.api.api_id, authorizer.ref)
    if existing != wanted:
        return Action("update", "permission", sid, name, ("source ARN",), function=fn)
    return Action("unchanged", "permission", sid, name, function=fn)


def _route_action(
    spec: ServiceSpec, remote: RemoteState, key: str, new_integrations: set[str | None]
) -> Action:
    fn = spec.routes[key]
    route = remote.routes.get(key) if remote.api else None
    if route is None:
        return Action("create", "route", key, key, function=fn)
    changes = []
    uri = resources.integration_uri(spec, fn, remote.place)
    if fn in new_integrations or route.target != f"integrations/{remote.integrations[uri]}":
        changes.append("target")
    if route.authorization != resources.route_authorization(spec, key):
        changes.append("authorization")
    elif resources.route_authorization(spec, key) == "CUSTOM":
        definition = resources.authorizer_definition(spec, remote.place) or {}
        current = remote.authorizers.get(definition.get("Name", ""))
        new_authorizer = AUTHORIZER_CREATED in new_integrations or current is None
        if new_authorizer or route.authorizer_id != current.authorizer_id:
            changes.append("authorizer")
    # Two-way: the expression and the $default route response. One-way: no route response
    # (API Gateway passes nothing back without one, whatever the expression says).
    wanted_selection = resources.route_response_selection(spec, key)
    if wanted_selection is not None:
        missing_response = resources.ROUTE_RESPONSE_KEY not in route.responses
        if route.response_selection != wanted_selection or missing_response:
            changes.append("response")
    elif route.responses:
        changes.append("response")
    verb: Verb = "update" if changes else "unchanged"
    return Action(verb, "route", key, key, tuple(changes), route.route_id, fn)


def _permission_action(spec: ServiceSpec, remote: RemoteState, fn: str) -> Action:
    """API Gateway's right to invoke ``fn``: one statement, scoped to the API."""
    sid = resources.PERMISSION_SID
    function = remote.functions.get(fn)
    existing = function.permissions.get(sid, "") if function else ""
    name = naming.function_name(spec, fn)
    if existing == "":
        return Action("create", "permission", fn, name, function=fn)
    # The statement id exists (AddPermission would answer 409): replace it when its API is
    # gone (deleted out of band) or it names another one.
    if remote.api is None:
        return Action("update", "permission", fn, name, ("new API",), function=fn)
    if existing != resources.permission_source_arn(remote.place, remote.api.api_id):
        return Action("update", "permission", fn, name, ("source ARN",), function=fn)
    return Action("unchanged", "permission", fn, name, function=fn)


def _stage_action(spec: ServiceSpec, remote: RemoteState) -> Action:
    if remote.stage is None or remote.api is None:
        return Action("create", "stage", spec.stage, spec.stage)
    wanted = resources.stage_settings()
    changes = []
    if remote.stage.auto_deploy != wanted["AutoDeploy"]:
        changes.append("auto deploy")
    routes = wanted["DefaultRouteSettings"]
    changes += [
        _STAGE_LABELS[key] for key in routes if remote.stage.route_settings.get(key) != routes[key]
    ]
    if changes:
        return Action("update", "stage", spec.stage, spec.stage, tuple(changes), remote.api.api_id)
    return Action("unchanged", "stage", spec.stage, spec.stage, ref=remote.api.api_id)


_STAGE_LABELS = {
    "ThrottlingBurstLimit": "throttling burst",
    "ThrottlingRateLimit": "throttling rate",
    "DataTraceEnabled": "data trace",
    "DetailedMetricsEnabled": "detailed metrics",
}


def plan_teardown(spec: ServiceSpec, remote: RemoteState) -> list[Action]:
    """Delete every resource of the stack that wsctl created, last-created first."""
    return _deletions(spec, remote, [], teardown=True)


def _role_policy_action(spec: ServiceSpec, remote: RemoteState, fn: str) -> Action:
    function = spec.functions[fn]
    api_id = remote.api.api_id if remote.api else None
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
    if found.code_sha256 != code_sha256:
        changes.append("code")
    if found.architecture != spec.architecture:
        changes.append("architecture")
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


def _deletions(
    spec: ServiceSpec, remote: RemoteState, kept: list[Action], teardown: bool = False
) -> list[Action]:
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
            if sid == resources.AUTHORIZER_STATEMENT_ID:
                owner = spec.authorizer.function if spec.authorizer else None
                stays = ("permission", sid) in keep and owner == fn
            else:
                # One statement per function; older wsctl versions' per-route ones go too.
                stays = sid == resources.PERMISSION_SID and ("permission", fn) in keep
            if not stays:
                key = fn if sid == resources.PERMISSION_SID else sid
                deletions.append(
                    Action("delete", "permission", key, f"{found.name} {sid}", ref=sid, function=fn)
                )
    if primary_kept:
        for key, route in sorted(remote.routes.items()):
            if ("route", key) not in keep:
                deletions.append(Action("delete", "route", key, key, ref=route.route_id))
        for name, found_authorizer in sorted(remote.authorizers.items()):
            if ("authorizer", name) not in keep:
                deletions.append(
                    Action(
                        "delete",
                        "authorizer",
                        name,
                        name,
                        ref=found_authorizer.authorizer_id,
                    )
                )
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
    # A table already DELETING is on its way out: nothing left to do for `down`. A table
    # with retain = true stays (``down`` says so); only ``down`` deletes the others.
    if teardown:
        for table, found in sorted(remote.tables.items()):
            retained = table in spec.tables and spec.tables[table].retain
            if not found.deleting and not retained:
                deletions.append(Action("delete", "table", found.name, found.name))
    return deletions


def retained_tables(spec: ServiceSpec, remote: RemoteState) -> list[str]:
    """The tables ``down`` keeps (``retain = true``), by their deployed names."""
    return [
        found.name
        for table, found in sorted(remote.tables.items())
        if not found.deleting and table in spec.tables and spec.tables[table].retain
    ]


def dependencies(actions: list[Action]) -> list[set[int]]:
    """For each action (by index), the indexes of the actions that must finish first.

    Creates and updates follow ``KIND_TABLE``'s needs; deletions come after every create and
    update (a route is retargeted before the integration it left is deleted) and walk the
    needs backwards (a function's permissions before it, a role after its function, the API
    after its routes, integrations and stage). Unchanged steps have no work; nothing waits on
    them."""
    working = [i for i, action in enumerate(actions) if action.verb != "unchanged"]
    building = [i for i in working if actions[i].verb != "delete"]
    deleting = [i for i in working if actions[i].verb == "delete"]
    needs: list[set[int]] = [set() for _ in actions]
    for i in building:
        needs[i] = {j for j in building if j != i and _needs(actions[i], actions[j])}
    for i in deleting:
        needed_by = {j for j in deleting if j != i and _needs(actions[j], actions[i])}
        needs[i] = set(building) | needed_by
    return needs


def _needs(action: Action, other: Action) -> bool:
    """Whether ``action`` needs ``other`` (by the kinds' table)."""
    for kind, how in KIND_BY_NAME[action.kind].needs:
        if other.kind == kind and (how == EVERY or other.function == action.function):
            return True
    return False


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
