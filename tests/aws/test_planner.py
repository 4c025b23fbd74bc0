"""The plan as data, compared against an in-memory remote state: no AWS involved."""

from __future__ import annotations

import pytest

from wsctl import naming
from wsctl.aws import resources
from wsctl.aws.planner import KINDS, plan, plan_teardown, refuse_foreign
from wsctl.aws.remote import (
    ApiState,
    Foreign,
    FunctionState,
    LogGroupState,
    RemoteState,
    RoleState,
    RouteState,
    StageState,
    TableState,
)
from wsctl.aws.resources import Place
from wsctl.errors import WsctlError

PLACE = Place("aws", "123456789012", "us-east-1")
SHA = "c2hh"
API = "api123"


def deployed_state(spec, *, code_sha256: str = SHA) -> RemoteState:
    """A remote state exactly as `up` would leave it for ``spec`` (the in-memory account)."""
    remote = RemoteState(place=PLACE)
    remote.table = TableState(naming.table_name(spec), "arn:table", "ACTIVE", "ttl")
    remote.apis = [ApiState(API, naming.api_name(spec), "https://x", "$request.body.action")]
    for fn, function in spec.functions.items():
        policy = resources.function_policy(spec, function, PLACE, API)
        remote.roles[fn] = RoleState(naming.role_name(spec, fn), "arn:role", {"wsctl": policy})
        remote.log_groups[fn] = LogGroupState(naming.log_group_name(spec, fn), 14)
        remote.functions[fn] = FunctionState(
            name=naming.function_name(spec, fn),
            arn=resources.function_arn(spec, fn, PLACE),
            configuration=resources.function_configuration(spec, function, PLACE, None),
            code_sha256=code_sha256,
            architecture=spec.architecture,
            state="Active",
            permissions={resources.PERMISSION_SID: resources.permission_source_arn(PLACE, API)}
            if fn in resources.route_functions(spec)
            else {},
        )
    for index, fn in enumerate(resources.route_functions(spec)):
        remote.integrations[resources.integration_uri(spec, fn, PLACE)] = f"int{index}"
    for key, fn in spec.routes.items():
        integration = remote.integrations[resources.integration_uri(spec, fn, PLACE)]
        remote.routes[key] = RouteState(
            f"route-{key}",
            key,
            f"integrations/{integration}",
            resources.route_authorization(spec, key),
        )
    settings = resources.stage_route_settings()
    remote.stage = StageState(spec.stage, True, settings)
    return remote


def _changes(actions):
    return [(a.verb, a.kind, a.key) for a in actions if a.verb != "unchanged"]


def test_empty_account_creates_everything_in_order(service):
    """From nothing: every resource is created, kinds in DESIGN.md's order."""
    spec = service.spec()
    actions = plan(spec, RemoteState(place=PLACE), code_sha256=SHA)
    assert {a.verb for a in actions} == {"create"}
    kinds = [a.kind for a in actions]
    assert kinds == sorted(kinds, key=KINDS.index)
    assert kinds.count("function") == 2 and kinds.count("route") == 3
    assert kinds.count("integration") == 2 and kinds.count("permission") == 2


def test_deployed_stack_is_all_unchanged(service):
    """A remote state matching the spec plans no change at all."""
    spec = service.spec()
    assert _changes(plan(spec, deployed_state(spec), code_sha256=SHA)) == []


def test_new_code_updates_only_the_functions_code(service):
    """A different package hash: each function updated for 'code', nothing else."""
    spec = service.spec()
    actions = plan(spec, deployed_state(spec, code_sha256="old"), code_sha256=SHA)
    changed = [a for a in actions if a.verb != "unchanged"]
    assert [(a.kind, a.changes) for a in changed] == [("function", ("code",))] * 2


def test_removed_route_deletes_route_permission_and_integration(service):
    """A route dropped from wsctl.toml: its route goes; once no route calls a function, its
    invoke permission and integration go too; deletions come after creates and updates."""
    spec = service.spec()
    remote = deployed_state(spec)
    smaller = spec.with_overrides(routes={"$connect": "connect", "$default": "chat"})
    # The functions' WSCTL_ROUTES (the stack's route keys, for unknown_action) changes too.
    assert _changes(plan(smaller, remote, code_sha256=SHA)) == [
        ("update", "function", "chat"),
        ("update", "function", "connect"),
        ("delete", "route", "say"),
    ]
    only_connect = spec.with_overrides(routes={"$connect": "connect"})
    changes = _changes(plan(only_connect, remote, code_sha256=SHA))
    assert ("delete", "integration", resources.integration_uri(spec, "chat", PLACE)) in changes
    assert ("delete", "route", "$default") in changes
    assert ("delete", "permission", "chat") in changes


def test_removed_function_is_deleted_with_role_and_log_group(service):
    """A function dropped from [functions]: function, log group, inline policy, role deleted,
    in that order; its permissions go with it and are not deleted one by one."""
    spec = service.spec()
    remote = deployed_state(spec)
    smaller = spec.with_overrides(
        functions={"connect": spec.functions["connect"]}, routes={"$connect": "connect"}
    )
    deletions = [
        (a.kind, a.key) for a in plan(smaller, remote, code_sha256=SHA) if a.verb == "delete"
    ]
    chat = [d for d in deletions if d[1] in ("chat", "chat/wsctl")]
    assert chat == [
        ("function", "chat"),
        ("log_group", "chat"),
        ("role_policy", "chat/wsctl"),
        ("role", "chat"),
    ]
    assert not any(kind == "permission" for kind, _ in deletions)


def test_new_api_rewrites_connection_policies(service):
    """Without an API yet, the policy of a function that posts must be (re)written."""
    spec = service.spec()
    remote = deployed_state(spec)
    remote.apis = []
    actions = {(a.kind, a.key): a.verb for a in plan(spec, remote, code_sha256=SHA)}
    assert actions[("role_policy", "chat")] == "update"
    assert actions[("role_policy", "connect")] == "unchanged"
    assert actions[("api", naming.api_name(spec))] == "create"
    assert actions[("stage", spec.stage)] == "create"


def test_teardown_walks_backwards_and_lets_parents_take_children(service):
    """`down` deletes functions, log groups, policies, roles, the API, then the table; routes,
    integrations, stage and permissions go with their API or function."""
    spec = service.spec()
    actions = plan_teardown(spec, deployed_state(spec))
    kinds = [a.kind for a in actions]
    assert {a.verb for a in actions} == {"delete"}
    order = ["function", "log_group", "role_policy", "role", "api", "table"]
    assert sorted(set(kinds), key=order.index) == order
    assert kinds == sorted(kinds, key=order.index)
    assert plan_teardown(spec, RemoteState(place=PLACE)) == []


def test_duplicate_api_is_deleted(service):
    """Two tagged APIs (an interrupted old run): keep the first, delete the other."""
    spec = service.spec()
    remote = deployed_state(spec)
    remote.apis.append(ApiState("dup", naming.api_name(spec), "https://y", "$request.body.action"))
    assert _changes(plan(spec, remote, code_sha256=SHA)) == [("delete", "api", "dup")]


def test_zero_throttling_on_stage_is_updated(service):
    """A stage whose route settings lost their throttling values is corrected."""
    spec = service.spec()
    remote = deployed_state(spec)
    remote.stage = StageState(spec.stage, True, {})
    assert _changes(plan(spec, remote, code_sha256=SHA)) == [("update", "stage", spec.stage)]


def test_foreign_resources_are_refused():
    """Any foreign look-alike stops `up` with a message naming it and the tag."""
    remote = RemoteState(place=PLACE, foreign=[Foreign("Lambda function", "demo-test-chat")])
    with pytest.raises(WsctlError, match="Refusing to adopt Lambda function demo-test-chat"):
        refuse_foreign(remote)
    refuse_foreign(RemoteState(place=PLACE))


def test_route_moved_to_another_function(service):
    """Every chat route moved to connect: the routes are retargeted to connect's integration,
    and chat, called by no route now, loses its invoke permission and integration."""
    spec = service.spec()
    remote = deployed_state(spec)
    moved = spec.with_overrides(routes={key: "connect" for key in spec.routes})
    changes = [
        (a.verb, a.kind, a.key, a.function)
        for a in plan(moved, remote, code_sha256=SHA)
        if a.verb != "unchanged"
    ]
    assert changes == [
        ("update", "route", "$default", "connect"),
        ("update", "route", "say", "connect"),
        ("delete", "permission", "chat", "chat"),
        ("delete", "integration", resources.integration_uri(spec, "chat", PLACE), None),
    ]


def test_permission_left_by_a_deleted_api_is_replaced_not_added(service):
    """The API deleted out of band: the functions still hold wsctl's statement id, so the
    plan replaces it (AddPermission would answer 409) instead of adding it again."""
    spec = service.spec()
    remote = deployed_state(spec)
    remote.apis, remote.routes, remote.integrations, remote.stage = [], {}, {}, None
    verbs = {
        a.key: (a.verb, a.changes)
        for a in plan(spec, remote, code_sha256=SHA)
        if a.kind == "permission"
    }
    assert verbs == {"chat": ("update", ("new API",)), "connect": ("update", ("new API",))}


def test_stage_drift_names_each_setting(service):
    """AutoDeploy off and data trace on: the stage is updated, naming both settings."""
    spec = service.spec()
    remote = deployed_state(spec)
    settings = {**resources.stage_route_settings(), "DataTraceEnabled": True}
    remote.stage = StageState(spec.stage, False, settings)
    (stage,) = [a for a in plan(spec, remote, code_sha256=SHA) if a.kind == "stage"]
    assert (stage.verb, stage.changes) == ("update", ("auto deploy", "data trace"))


def test_architecture_and_memory_drift_are_both_planned(service):
    """A function on another architecture with other memory: one update naming both, so
    the executor applies both (code with the architecture, then the configuration)."""
    spec = service.spec()
    remote = deployed_state(spec)
    chat = remote.functions["chat"]
    configuration = {**chat.configuration, "MemorySize": 1024}
    remote.functions["chat"] = FunctionState(
        chat.name, chat.arn, configuration, SHA, "arm64", "Active", chat.permissions
    )
    (action,) = [a for a in plan(spec, remote, code_sha256=SHA) if a.verb != "unchanged"]
    assert (action.kind, action.changes) == ("function", ("architecture", "memory"))


def test_deleting_table_is_planned_as_created(service):
    """A table still DELETING (a `down` moments ago) is not "present": it is created again
    once its name is free."""
    spec = service.spec()
    remote = deployed_state(spec)
    remote.table = TableState(naming.table_name(spec), "arn:table", "DELETING", None)
    (action,) = [a for a in plan(spec, remote, code_sha256=SHA) if a.kind == "table"]
    assert (action.verb, action.changes) == ("create", ("still being deleted",))


def test_account_retention_is_neither_set_nor_compared(service):
    """log_retention_days = "account": whatever retention the log group has is left alone."""
    service.rewrite('auth = "none"', 'auth = "none"\nlog_retention_days = "account"')
    spec = service.spec()
    assert spec.log_retention_days is None
    remote = deployed_state(spec)
    for fn, group in list(remote.log_groups.items()):
        remote.log_groups[fn] = LogGroupState(group.name, 90)
    assert _changes(plan(spec, remote, code_sha256=SHA)) == []
    default = spec.with_overrides(log_retention_days=14)
    assert _changes(plan(default, remote, code_sha256=SHA)) == [
        ("update", "log_group", "chat"),
        ("update", "log_group", "connect"),
    ]
