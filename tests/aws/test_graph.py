"""The plan as a dependency graph: what runs before what (pure, on plans of in-memory
states), the bound on steps at once, and a failure in one branch while others run (on the
strict AWS layer)."""

from __future__ import annotations

import threading

import boto3
import pytest
from aws_testing import assert_account_empty
from botocore.exceptions import ClientError
from test_planner import PLACE, SHA, deployed_state

from wsctl.aws import deploy
from wsctl.aws.awsclient import AwsClient
from wsctl.aws.planner import KIND_BY_NAME, dependencies, plan, plan_teardown
from wsctl.aws.remote import RemoteState
from wsctl.aws.session import open_target


def _named(actions, needs):
    """{(kind, key): {(kind, key) it needs}} for readable assertions."""
    name = [(a.kind, a.key) for a in actions]
    return {name[i]: {name[j] for j in needs[i]} for i in range(len(actions))}


def test_a_fresh_plan_waits_only_for_what_each_step_uses(service):
    """From nothing: the table and API need nothing; a function needs its own role and log
    group (not the table, not other functions); an integration its API and function; a
    route its integration; a permission its function and the API; the stage every route,
    permission and inline policy (then the stack can be called)."""
    spec = service.spec()
    actions = plan(spec, RemoteState(place=PLACE), code_sha256=SHA)
    graph = _named(actions, dependencies(actions))
    table, api = ("table", "demo-test-connections"), ("api", "demo-test")
    assert graph[table] == set() and graph[api] == set()
    assert graph[("function", "chat")] == {("role", "chat"), ("log_group", "chat")}
    assert graph[("role_policy", "chat")] == {("role", "chat"), api}
    uri = next(
        key for kind, key in graph if kind == "integration" and key.endswith("chat/invocations")
    )
    assert graph[("integration", uri)] == {api, ("function", "chat")}
    assert graph[("route", "say")] == {("integration", uri)}
    assert graph[("permission", "chat")] == {("function", "chat"), api}
    before_stage = {(k, key) for k, key in graph if k in ("route", "permission", "role_policy")}
    assert before_stage <= graph[("stage", "test")]


def test_teardown_walks_the_graph_backwards(service):
    """`down`: a role after its function and inline policy; the API and table need nothing
    of the others (their parts go with them)."""
    spec = service.spec()
    actions = plan_teardown(spec, deployed_state(spec))
    graph = _named(actions, dependencies(actions))
    assert {("function", "chat"), ("role_policy", "chat/wsctl")} <= graph[("role", "chat")]
    assert graph[("table", "demo-test-connections")] == set()
    assert ("function", "connect") not in graph[("role", "chat")]


def test_deletions_wait_for_every_create_and_update(service):
    """A route moved off chat: the route update comes before chat's integration and
    permission are deleted (a route never points at a deleted integration)."""
    spec = service.spec()
    moved = spec.with_overrides(routes={key: "connect" for key in spec.routes})
    actions = plan(moved, deployed_state(spec), code_sha256=SHA)
    graph = _named(actions, dependencies(actions))
    deletions = [
        name for name, action in zip(graph, actions, strict=True) if action.verb == "delete"
    ]
    assert deletions
    for deletion in deletions:
        assert {("route", "$default"), ("route", "say")} <= graph[deletion]


def test_unchanged_steps_wait_for_nothing_and_nothing_waits_for_them(service):
    """A deployed stack: no step has work, so the graph is empty."""
    spec = service.spec()
    actions = plan(spec, deployed_state(spec), code_sha256=SHA)
    assert all(needs == set() for needs in dependencies(actions))


class Watcher:
    """A reporter counting steps running at once, overall and in API Gateway's lane."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = self.most = self.gateway = self.most_gateway = 0

    def plan(self, actions):
        pass

    def begin(self, action):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            if KIND_BY_NAME[action.kind].lane == "apigateway":
                self.gateway += 1
                self.most_gateway = max(self.most_gateway, self.gateway)

    def end(self, action, outcome, seconds):
        if action.verb == "unchanged":
            return
        with self.lock:
            self.running -= 1
            if KIND_BY_NAME[action.kind].lane == "apigateway":
                self.gateway -= 1


@pytest.fixture
def client(aws):
    return AwsClient(open_target(profile=None, region="us-east-1", endpoint_url=None))


@pytest.mark.parametrize("bound", [1, 3])
def test_steps_at_once_stay_within_the_bound(client, service, bound):
    """With a bound of 1 or 3, never more steps at once; API Gateway's steps one at a time."""
    watcher = Watcher()
    deploy.up(client, service.spec(), reporter=watcher, concurrency=bound)
    assert watcher.most <= bound and watcher.most_gateway == 1
    down = Watcher()
    deploy.down(client, service.spec(), reporter=down, concurrency=bound)
    assert down.most <= bound
    assert_account_empty()


def test_independent_steps_do_run_together(client, service, install_hook):
    """With the default bound, the two roles are created at once: each CreateRole waits at a
    barrier for the other (one step at a time would break the barrier after 30 s)."""
    both = threading.Barrier(2, timeout=30)

    def meet(model, **kwargs):
        if model.name == "CreateRole":
            both.wait()

    install_hook("before-call", meet)
    fresh = AwsClient(open_target(profile=None, region="us-east-1", endpoint_url=None))
    deploy.up(fresh, service.spec())
    assert not both.broken


def test_a_failure_in_one_branch_lets_the_others_finish_and_down_cleans(
    client, service, install_hook, strict
):
    """chat's CreateFunction fails while connect's branch runs: `up` raises that error, the
    steps already running finish (connect is created), nothing after the failure starts
    (no route, no stage), and `down` leaves the account empty.

    The two CreateFunction calls meet: connect's waits until chat's is failing, so the failure
    happens while connect's step is still running, whatever the order the machine's load
    starts them in (connect's branch once reached its route first, and chat's failure came
    after). Chat's error then leaves its step at once, while connect's call still has moto
    create the function."""
    strict.propagation_seconds = 0
    started_connect = threading.Event()
    chat_failing = threading.Event()

    def fail_chat(model, context, **kwargs):
        params = context.get("strict_params", {})
        if model.name == "CreateFunction":
            if params.get("FunctionName") == "demo-test-connect":
                started_connect.set()
                assert chat_failing.wait(timeout=30)
            elif started_connect.wait(timeout=30):
                chat_failing.set()
                raise ClientError(
                    {"Error": {"Code": "ServiceException", "Message": "injected"}},
                    model.name,
                )

    install_hook("before-call", fail_chat)
    fresh = AwsClient(open_target(profile=None, region="us-east-1", endpoint_url=None))
    with pytest.raises(Exception, match="injected"):
        deploy.up(fresh, service.spec())
    lam = boto3.client("lambda", region_name="us-east-1")
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert names == ["demo-test-connect"]
    gateway = boto3.client("apigatewayv2", region_name="us-east-1")
    (api,) = gateway.get_apis()["Items"]
    assert gateway.get_routes(ApiId=api["ApiId"])["Items"] == []
    deploy.down(fresh, service.spec())
    assert_account_empty()
