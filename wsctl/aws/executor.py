"""Runs a plan as a graph: each step starts once the steps it needs are done, several at
once within a bound; each becomes the AWS calls of ``AwsClient``, reported as it goes.

Ids AWS generates (the API's, integrations') are collected while running, so later steps can
use what earlier steps created. Deleting something already gone counts as done.

A failing step stops new steps from starting; the running ones finish, their outcomes are
kept (``outcomes``), and the first error is raised: every resource is tagged when created, so
the next ``up`` or ``down`` finds and finishes or removes it. Ctrl-C does the same.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol

from wsctl import naming
from wsctl.aws import planner, resources
from wsctl.aws.awsclient import AwsClient, ResourceDoesNotExist, ResourceExists
from wsctl.aws.planner import KIND_BY_NAME, Action, dependencies
from wsctl.aws.remote import RemoteState
from wsctl.config import ServiceSpec, TableSpec
from wsctl.errors import WsctlError

OUTCOMES = {
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "unchanged": "unchanged",
}
ALREADY_GONE = "already gone"
# Steps running at once: enough for the four functions and their roles to overlap the table's
# wait, few enough for IAM's and Lambda's control-plane rates (a few to 15 calls/s).
DEFAULT_CONCURRENCY = 8
# API Gateway serialises the mutations of one API (ConflictException "concurrent
# modification" otherwise; see wsctl.aws.retry): its steps go one at a time.
LANE_LIMITS = {"apigateway": 1}


class Reporter(Protocol):
    """Where progress goes: ``plan`` once with every step, then ``begin`` and ``end`` of each,
    from the threads running them (concurrently)."""

    def plan(self, actions: list[Action]) -> None: ...

    def begin(self, action: Action) -> None: ...

    def end(self, action: Action, outcome: str, seconds: float) -> None: ...


class SilentReporter:
    def plan(self, actions: list[Action]) -> None:
        pass

    def begin(self, action: Action) -> None:
        pass

    def end(self, action: Action, outcome: str, seconds: float) -> None:
        pass


@dataclass
class Outcome:
    action: Action
    outcome: str
    seconds: float


@dataclass
class Executor:
    client: AwsClient
    spec: ServiceSpec
    remote: RemoteState
    code: bytes = b""
    token_digest: str | None = None
    reporter: Reporter = field(default_factory=SilentReporter)
    concurrency: int = DEFAULT_CONCURRENCY

    def __post_init__(self) -> None:
        api = self.remote.api
        self.api_id: str | None = api.api_id if api else None
        self.api_endpoint: str | None = api.endpoint if api else None
        self.integrations = dict(self.remote.integrations)
        found = self.remote.authorizers.get(naming.authorizer_name(self.spec))
        self.authorizer_id: str | None = found.authorizer_id if found else None
        self.tags = naming.stack_tags(self.spec)
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()

    def run(self, actions: list[Action]) -> list[Outcome]:
        """Run ``actions`` in dependency order, ``concurrency`` at most at once; outcomes in
        plan order."""
        self.reporter.plan(actions)
        needs = dependencies(actions)
        results: dict[int, Outcome] = {}
        for index, action in enumerate(actions):
            if action.verb == "unchanged":
                results[index] = Outcome(action, OUTCOMES["unchanged"], 0.0)
                self.reporter.end(action, OUTCOMES["unchanged"], 0.0)
        waiting = [i for i in range(len(actions)) if i not in results]
        running: dict[Future, int] = {}
        lanes: dict[str, int] = {}
        failure: BaseException | None = None
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            try:
                while waiting or running:
                    if failure is None:
                        self._start_ready(pool, actions, needs, results, waiting, running, lanes)
                    if not running:
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        index = running.pop(future)
                        lane = KIND_BY_NAME[actions[index].kind].lane
                        lanes[lane] -= 1
                        try:
                            results[index] = future.result()
                        except BaseException as exc:
                            failure = failure or exc
                    if failure is not None:
                        waiting.clear()
            except BaseException as exc:  # Ctrl-C while waiting: let running steps finish
                failure = failure or exc
                for future, index in list(running.items()):
                    with contextlib.suppress(BaseException):
                        results[index] = future.result()
        self.outcomes = [results[i] for i in sorted(results)]
        if failure is not None:
            raise failure
        if waiting:
            raise AssertionError(f"steps that can never start (a cycle?): {waiting}")
        return self.outcomes

    def _start_ready(self, pool, actions, needs, results, waiting, running, lanes) -> None:
        for index in list(waiting):
            if len(running) >= self.concurrency:
                return
            if not needs[index] <= results.keys():
                continue
            lane = KIND_BY_NAME[actions[index].kind].lane
            if lanes.get(lane, 0) >= LANE_LIMITS.get(lane, self.concurrency):
                continue
            lanes[lane] = lanes.get(lane, 0) + 1
            waiting.remove(index)
            running[pool.submit(self._step, actions[index])] = index

    def _step(self, action: Action) -> Outcome:
        self.reporter.begin(action)
        clock = self.client.clock
        started = clock.now()
        outcome = OUTCOMES[action.verb]
        handler = getattr(self, f"_{action.verb}_{action.kind}")
        try:
            handler(action)
        except ResourceDoesNotExist:
            if action.verb != "delete":
                raise
            outcome = ALREADY_GONE
        except ResourceExists as exc:
            raise WsctlError(
                f"{exc}; it appeared while wsctl was running. Run the command again."
            ) from None
        result = Outcome(action, outcome, clock.now() - started)
        self.reporter.end(action, outcome, result.seconds)
        return result

    # -- helpers -----------------------------------------------------------------------------
    @property
    def place(self) -> resources.Place:
        return self.remote.place

    def _api(self) -> str:
        if self.api_id is None:  # the plan always creates the API before what needs it
            raise WsctlError("The WebSocket API is missing; run 'wsctl up' again")
        return self.api_id

    def _function_name(self, action: Action) -> str:
        return naming.function_name(self.spec, action.function or action.key)

    # -- table -------------------------------------------------------------------------------
    def _table(self, action: Action) -> tuple[str, TableSpec]:
        """The table an action is about: its name in wsctl.toml and its spec."""
        for table, wanted in self.spec.tables.items():
            if naming.table_name(self.spec, table) == action.key:
                return table, wanted
        raise AssertionError(f"no table of the spec is named {action.key}")

    def _create_table(self, action: Action) -> None:
        table, wanted = self._table(action)
        found = self.remote.tables.get(table)
        if found is not None and found.deleting:  # a `down` moments ago: name not free yet
            self.client.wait_table_gone(action.key)
        self.client.create_table(resources.table_definition(self.spec, wanted), self.tags)
        if wanted.ttl is not None:
            self.client.enable_ttl(action.key, wanted.ttl)

    def _update_table(self, action: Action) -> None:
        """Indexes, then TTL, in place. DynamoDB takes one index change per UpdateTable and
        none while another is in progress (UpdateTable's API reference): each is waited for.
        ``up`` refused a key change before any step ran."""
        table, wanted = self._table(action)
        found = self.remote.tables[table]
        if found.billing_mode not in (None, resources.BILLING_MODE):
            self.client.update_table(
                action.key, "Switching to on-demand capacity", BillingMode=resources.BILLING_MODE
            )
            self.client.wait_table_settled(action.key)
        delete, create = planner.index_changes(wanted, found)
        if delete or create:
            self.client.wait_table_settled(action.key)
        for index in delete:
            self.client.update_table(
                action.key,
                f"Deleting index {index}",
                GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": index}}],
            )
            self.client.wait_table_settled(action.key)
        definitions = resources.table_definition(self.spec, wanted)["AttributeDefinitions"]
        for index in create:
            self.client.update_table(
                action.key,
                f"Creating index {index.name}",
                AttributeDefinitions=definitions,
                GlobalSecondaryIndexUpdates=[{"Create": resources.index_definition(index)}],
            )
            self.client.wait_table_settled(action.key)
        # Last: DynamoDB takes one TTL change per table an hour, so moving TTL to another
        # attribute (off, then on: it is never renamed) fails its second half, with a hint.
        if found.ttl_attribute != wanted.ttl:
            if found.ttl_attribute is not None:
                self.client.disable_ttl(action.key, found.ttl_attribute)
            if wanted.ttl is not None:
                self.client.enable_ttl(action.key, wanted.ttl)

    def _delete_table(self, action: Action) -> None:
        # `down` does not wait for DELETING to end (seconds, for nothing): an `up` right
        # after waits for the name to be free before creating the table again.
        self.client.delete_table(action.key)

    # -- API ---------------------------------------------------------------------------------
    def _create_api(self, action: Action) -> None:
        created = self.client.create_api(resources.api_definition(self.spec), self.tags)
        self.api_id, self.api_endpoint = created["ApiId"], created.get("ApiEndpoint")
        self.integrations = {}
        self.authorizer_id = None

    def _update_api(self, action: Action) -> None:
        self.client.update_api(self._api(), resources.api_definition(self.spec))

    def _delete_api(self, action: Action) -> None:
        self.client.delete_api(action.ref or action.key)

    # -- IAM ---------------------------------------------------------------------------------
    def _create_role(self, action: Action) -> None:
        self.client.create_role(
            naming.role_name(self.spec, action.key),
            resources.role_path(self.spec),
            resources.LAMBDA_TRUST_POLICY,
            self.tags,
        )

    def _update_role(self, action: Action) -> None:
        self.client.update_trust_policy(action.name, resources.LAMBDA_TRUST_POLICY)

    def _delete_role(self, action: Action) -> None:
        # DeleteRole answers DeleteConflict while managed policies are attached (IAM API
        # reference, DeleteRole); someone may have attached one by hand.
        for policy_arn in self.client.attached_policy_arns(action.name):
            with contextlib.suppress(ResourceDoesNotExist):
                self.client.detach_role_policy(action.name, policy_arn)
        self.client.delete_role(action.name)

    def _create_role_policy(self, action: Action) -> None:
        document = resources.function_policy(
            self.spec, self.spec.functions[action.key], self.place, self.api_id
        )
        role = naming.role_name(self.spec, action.key)
        self.client.put_role_policy(role, resources.INLINE_POLICY_NAME, document)

    _update_role_policy = _create_role_policy

    def _delete_role_policy(self, action: Action) -> None:
        fn = action.function or action.key
        self.client.delete_role_policy(naming.role_name(self.spec, fn), action.ref or "")

    # -- logs --------------------------------------------------------------------------------
    def _create_log_group(self, action: Action) -> None:
        self.client.create_log_group(action.name, self.tags)
        if self.spec.log_retention_days is not None:
            self.client.put_retention(action.name, self.spec.log_retention_days)

    def _update_log_group(self, action: Action) -> None:
        if self.spec.log_retention_days is not None:
            self.client.put_retention(action.name, self.spec.log_retention_days)

    def _delete_log_group(self, action: Action) -> None:
        self.client.delete_log_group(action.name)

    # -- Lambda ------------------------------------------------------------------------------
    def _configuration(self, fn: str) -> dict:
        return resources.function_configuration(
            self.spec, self.spec.functions[fn], self.place, self.token_digest
        )

    def _create_function(self, action: Action) -> None:
        self.client.create_function(
            action.name,
            self._configuration(action.key),
            self.code,
            self.spec.architecture,
            self.tags,
        )

    def _update_function(self, action: Action) -> None:
        found = self.remote.functions.get(action.key)
        if found is not None and found.busy:  # left mid-update, maybe by an interrupted run
            self.client.wait_function_ready(action.name)
        code_changes = {"code", "architecture"}
        if code_changes & set(action.changes):
            self.client.update_function_code(action.name, self.code, self.spec.architecture)
        if set(action.changes) - code_changes:
            self.client.update_function_configuration(action.name, self._configuration(action.key))

    def _delete_function(self, action: Action) -> None:
        self.client.delete_function(action.name)

    # -- integrations, routes, permissions, stage --------------------------------------------
    def _create_integration(self, action: Action) -> None:
        created = self.client.create_integration(self._api(), action.key)
        with self._lock:
            self.integrations[action.key] = created["IntegrationId"]

    def _update_integration(self, action: Action) -> None:
        self.client.update_integration(self._api(), action.ref or "")

    def _delete_integration(self, action: Action) -> None:
        self.client.delete_integration(self._api(), action.ref or action.key)

    def _route_target(self, action: Action) -> str:
        uri = resources.integration_uri(self.spec, action.function or "", self.place)
        return f"integrations/{self.integrations[uri]}"

    # -- the $connect authorizer ---------------------------------------------------------------
    def _create_authorizer(self, action: Action) -> None:
        definition = resources.authorizer_definition(self.spec, self.place)
        assert definition is not None  # planned only when there is one
        created = self.client.create_authorizer(self._api(), definition)
        self.authorizer_id = created["AuthorizerId"]

    def _update_authorizer(self, action: Action) -> None:
        definition = resources.authorizer_definition(self.spec, self.place)
        assert definition is not None and action.ref is not None
        self.client.update_authorizer(self._api(), action.ref, definition)

    def _delete_authorizer(self, action: Action) -> None:
        self.client.delete_authorizer(self._api(), action.ref or "")

    def _route_authorizer(self, key: str) -> str | None:
        if resources.route_authorization(self.spec, key) != "CUSTOM":
            return None
        if self.authorizer_id is None:  # the plan creates the authorizer before the routes
            raise WsctlError("The $connect authorizer is missing; run 'wsctl up' again")
        return self.authorizer_id

    def _create_route(self, action: Action) -> None:
        created = self.client.create_route(
            self._api(),
            action.key,
            self._route_target(action),
            resources.route_authorization(self.spec, action.key),
            self._route_authorizer(action.key),
            resources.route_response_selection(self.spec, action.key),
        )
        self._converge_route_response(action.key, created["RouteId"], {})

    def _update_route(self, action: Action) -> None:
        self.client.update_route(
            self._api(),
            action.ref or "",
            action.key,
            self._route_target(action),
            resources.route_authorization(self.spec, action.key),
            self._route_authorizer(action.key),
            resources.route_response_selection(self.spec, action.key),
        )
        found = self.remote.routes.get(action.key)
        self._converge_route_response(
            action.key, action.ref or "", found.responses if found else {}
        )

    def _converge_route_response(self, key: str, route_id: str, responses: dict[str, str]) -> None:
        """A two-way route has the $default route response; a one-way route has none."""
        two_way = resources.route_response_selection(self.spec, key) is not None
        if two_way and resources.ROUTE_RESPONSE_KEY not in responses:
            self.client.create_route_response(self._api(), route_id, key)
        if not two_way:
            for response_id in responses.values():
                with contextlib.suppress(ResourceDoesNotExist):
                    self.client.delete_route_response(self._api(), route_id, response_id)

    def _delete_route(self, action: Action) -> None:
        self.client.delete_route(self._api(), action.ref or "", action.key)

    def _create_permission(self, action: Action) -> None:
        name = self._function_name(action)
        if action.key == resources.AUTHORIZER_STATEMENT_ID:
            if self.authorizer_id is None:
                raise WsctlError("The $connect authorizer is missing; run 'wsctl up' again")
            sid = action.key
            source = resources.authorizer_source_arn(self.place, self._api(), self.authorizer_id)
        else:
            sid = resources.PERMISSION_SID
            source = resources.permission_source_arn(self.place, self._api())
        try:
            self.client.add_permission(name, sid, source)
        except ResourceExists:  # 409: the statement id is taken (an earlier, interrupted run)
            self.client.remove_permission(name, sid)
            self.client.add_permission(name, sid, source)

    def _update_permission(self, action: Action) -> None:
        sid = (
            action.key
            if action.key == resources.AUTHORIZER_STATEMENT_ID
            else resources.PERMISSION_SID
        )
        with contextlib.suppress(ResourceDoesNotExist):
            self.client.remove_permission(self._function_name(action), sid)
        self._create_permission(action)

    def _delete_permission(self, action: Action) -> None:
        self.client.remove_permission(self._function_name(action), action.ref or "")

    def _create_stage(self, action: Action) -> None:
        self.client.create_stage(
            self._api(), self.spec.stage, resources.stage_route_settings(), self.tags
        )

    def _update_stage(self, action: Action) -> None:
        self.client.update_stage(self._api(), self.spec.stage, resources.stage_route_settings())

    def _delete_stage(self, action: Action) -> None:
        self.client.delete_stage(action.ref or self._api(), self.spec.stage)
