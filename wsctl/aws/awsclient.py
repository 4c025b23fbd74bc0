"""One typed method per AWS operation wsctl uses, with errors translated right there.

- Not found becomes ``ResourceDoesNotExist`` (callers decide: absent, or "already gone").
- AccessDenied becomes a ``WsctlError`` naming the step, the IAM action and what to do.
- Rejected credentials become a ``ConfigError``.
- IAM propagation, throttling, API Gateway's concurrent-modification conflicts and Lambda's
  update-in-progress conflicts are retried by ``retry.call_with_retries``; when retries run
  out the error names the resource and the cause.
- Waits (table ACTIVE or gone, function Active or updated) poll through the injectable
  ``Clock``, never botocore's waiters (they sleep for real), so tests and the latency model
  run them in virtual time.
- Every operation must be listed in ``wsctl.aws.permissions.OPERATIONS``: that list is what
  ``wsctl policy`` grants, so a call missing from it fails at once instead of on AWS.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from wsctl import naming
from wsctl.aws import clock as clocks
from wsctl.aws import retry
from wsctl.aws.permissions import OPERATIONS
from wsctl.aws.resources import INTEGRATION_SETTINGS, Place
from wsctl.aws.session import Target, botocore_config
from wsctl.errors import ConfigError, WsctlError

NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "NotFoundException", "NoSuchEntity"})
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)
BAD_CREDENTIALS_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
    }
)
# API Gateway's IAM actions are HTTP verbs on resource paths (apigateway:POST ...).
_HTTP_VERB = (
    ("Create", "POST"),
    ("Get", "GET"),
    ("Update", "PATCH"),
    ("Delete", "DELETE"),
    ("Tag", "POST"),
    ("Untag", "DELETE"),
)
# Operations that change an account, by name: what a converging `up` must not repeat.
MUTATING_PREFIXES = (
    "Create",
    "Update",
    "Put",
    "Delete",
    "Tag",
    "Untag",
    "Add",
    "Remove",
    "Attach",
    "Detach",
)
ALREADY_EXISTS_CODES = frozenset(
    {"ResourceInUseException", "EntityAlreadyExists", "ResourceAlreadyExistsException"}
)
# Conflicts that mean "exists" only when they say so: API Gateway's conflicts are mostly
# "concurrent modification" (retried), Lambda's mostly "update in progress" (retried).
CONFLICT_CODES = frozenset({"ConflictException", "ResourceConflictException"})
IAM_PERMISSIONS_HINT = "see README, 'IAM permissions for wsctl'"


class ResourceDoesNotExist(Exception):
    """The resource a call named is not there."""


class ResourceExists(Exception):
    """A create call found a resource of that name already there."""


def is_mutating(operation: str) -> bool:
    return operation.startswith(MUTATING_PREFIXES)


def iam_action(service: str, operation: str) -> str:
    if service == "apigatewayv2":
        verb = next((v for p, v in _HTTP_VERB if operation.startswith(p)), "GET")
        return f"apigateway:{verb} ({operation})"
    return f"{service}:{operation}"


def translate(exc: Exception, service: str, operation: str, what: str) -> Exception:
    """The error a user can act on, for ``exc`` raised while ``what`` (e.g. "Creating ...")."""
    if isinstance(exc, retry.RetriesExhausted):
        return WsctlError(f"{what} failed: {exc}")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Unknown"), error.get("Message", "")
        if code in NOT_FOUND_CODES:
            return ResourceDoesNotExist(f"{what}: {message or code}")
        exists = code in ALREADY_EXISTS_CODES or (
            code in CONFLICT_CODES and "exist" in message.lower()
        )
        if exists and operation.startswith(("Create", "Add")):
            return ResourceExists(f"{what}: {message or code}")
        if code in ACCESS_DENIED_CODES:
            return WsctlError(
                f"{what} failed: AccessDenied on {iam_action(service, operation)}. "
                f"Your credentials need that permission; {IAM_PERMISSIONS_HINT}."
            )
        if code in BAD_CREDENTIALS_CODES:
            return ConfigError(
                f"AWS rejected the credentials ({code}) while {what[0].lower()}{what[1:]}: "
                "check AWS_PROFILE / AWS_ACCESS_KEY_ID, or refresh an expired session"
            )
        return WsctlError(f"{what} failed: {code}: {message}".rstrip(": "))
    if isinstance(exc, BotoCoreError):
        return WsctlError(f"{what} failed: {exc}")
    return exc


class AwsClient:
    """The AWS operations of a wsctl stack; one botocore client per service, made on first use."""

    def __init__(
        self,
        target: Target,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: clocks.Clock | None = None,
        config: Config | None = None,
        retry_attempts: int = 8,
        iam_propagation_seconds: float = retry.IAM_PROPAGATION_SECONDS,
    ) -> None:
        self.target = target
        self.region = target.region
        self.clock = clock or (clocks.SleepOnly(sleep) if sleep else clocks.current())
        self._iam_propagation_seconds = iam_propagation_seconds
        self._config = config or botocore_config()
        self._retry_attempts = retry_attempts
        self._clients: dict[str, Any] = {}
        # botocore clients are thread-safe once made; sessions making them are not.
        self._clients_lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self.target.session.client(
                    service, endpoint_url=self.target.endpoint_url, config=self._config
                )
            return self._clients[service]

    def _call(
        self,
        service: str,
        operation: str,
        what: str,
        *,
        retry_if: Callable[[Exception], str | None] = retry.transient,
        waits_for_iam: bool = False,
        **params: Any,
    ) -> dict[str, Any]:
        if (service, operation) not in OPERATIONS:
            raise AssertionError(f"{service}:{operation} is not in wsctl.aws.permissions")
        method = getattr(self.client(service), xform_name(operation))
        try:
            return retry.call_with_retries(
                lambda: method(**params),
                should_retry=retry_if,
                attempts=None if waits_for_iam else self._retry_attempts,
                budget_seconds=self._iam_propagation_seconds if waits_for_iam else None,
                clock=self.clock,
            )
        except (ClientError, BotoCoreError, retry.RetriesExhausted) as exc:
            raise translate(exc, service, operation, what) from exc

    def _pages(
        self, service: str, operation: str, what: str, key: str, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """Items of a listing, following NextToken/Marker the way each service spells it."""
        token_in, token_out = _PAGING[service, operation]
        while True:
            page = self._call(service, operation, what, **params)
            yield from page.get(key, [])
            token = page.get(token_out)
            if not token:
                return
            params[token_in] = token

    def _poll(
        self,
        what: str,
        read: Callable[[], Any],
        done: Callable[[Any], bool],
        failed: Callable[[Any], str | None] = lambda _: None,
        timeout: float = 900.0,
    ) -> Any:
        """``read()`` until ``done`` holds (at once under moto), every second after a quick
        first look (tables and functions are usually ready in 1-10 s; a read is cheap);
        ``failed`` names a state that will never get there."""
        started, delay = self.clock.now(), 0.25
        while True:
            value = read()
            if done(value):
                return value
            reason = failed(value)
            if reason:
                raise WsctlError(f"{what} failed: {reason}")
            if self.clock.now() - started > timeout:
                raise WsctlError(f"{what} failed: still not ready after {timeout:.0f} s")
            self.clock.sleep(delay)
            delay = min(1.0, delay * 2)

    # -- STS ---------------------------------------------------------------------------------
    def whoami(self) -> Place:
        identity = self._call("sts", "GetCallerIdentity", "Checking the AWS account")
        partition = identity["Arn"].split(":")[1]
        return Place(partition=partition, account=identity["Account"], region=self.region)

    # -- DynamoDB ----------------------------------------------------------------------------
    def describe_table(self, name: str) -> dict[str, Any]:
        return self._call("dynamodb", "DescribeTable", f"Reading table {name}", TableName=name)[
            "Table"
        ]

    def table_names(self) -> list[str]:
        """Every table of the region (ListTables has no name filter)."""
        names: list[str] = []
        params: dict[str, Any] = {}
        while True:
            page = self._call("dynamodb", "ListTables", "Listing DynamoDB tables", **params)
            names += page.get("TableNames", [])
            if not page.get("LastEvaluatedTableName"):
                return names
            params["ExclusiveStartTableName"] = page["LastEvaluatedTableName"]

    def update_table(self, name: str, what: str, **changes: Any) -> None:
        self._call("dynamodb", "UpdateTable", f"{what} on table {name}", TableName=name, **changes)

    def wait_table_settled(self, name: str) -> None:
        """The table and every index ACTIVE: DynamoDB takes one index change at a time (a
        new index backfills for minutes; UpdateTable meanwhile is ResourceInUseException;
        DynamoDB developer guide, "Managing global secondary indexes")."""
        self._poll(
            f"Waiting for table {name} and its indexes",
            lambda: self.describe_table(name),
            lambda table: (
                table.get("TableStatus") == "ACTIVE"
                and all(
                    index.get("IndexStatus") == "ACTIVE"
                    for index in table.get("GlobalSecondaryIndexes") or []
                )
            ),
        )

    def table_tags(self, arn: str) -> dict[str, str]:
        tags = self._call(
            "dynamodb", "ListTagsOfResource", f"Reading tags of {arn}", ResourceArn=arn
        ).get("Tags", [])
        return {tag["Key"]: tag["Value"] for tag in tags}

    def table_ttl(self, name: str) -> str | None:
        """The TTL attribute if TTL is enabled (or being enabled), else None."""
        described = self._call(
            "dynamodb", "DescribeTimeToLive", f"Reading TTL of table {name}", TableName=name
        )["TimeToLiveDescription"]
        if described.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            return described.get("AttributeName")
        return None

    def create_table(self, definition: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
        name = definition["TableName"]
        created = self._call(
            "dynamodb",
            "CreateTable",
            f"Creating DynamoDB table {name}",
            Tags=_tag_list(tags),
            **definition,
        )["TableDescription"]
        self.wait_table_settled(name)  # indexes created with the table backfill too
        return created

    def wait_table_gone(self, name: str) -> None:
        """DeleteTable returns while the table is still DELETING; its name is free only when
        DescribeTable no longer finds it (DynamoDB developer guide, "Deleting a table")."""

        def read() -> bool:
            try:
                self.describe_table(name)
            except ResourceDoesNotExist:
                return True
            return False

        self._poll(f"Waiting for table {name} to be deleted", read, bool)

    def enable_ttl(self, name: str, attribute: str) -> None:
        self._update_ttl(name, attribute, True)

    def disable_ttl(self, name: str, attribute: str) -> None:
        self._update_ttl(name, attribute, False)

    def _update_ttl(self, name: str, attribute: str, enabled: bool) -> None:
        """DynamoDB takes one TTL change per table an hour: "Any additional UpdateTimeToLive
        calls for the same table during this one hour duration result in a
        ValidationException" (UpdateTimeToLive's API reference)."""
        what = f"{'Enabling' if enabled else 'Disabling'} TTL on {attribute!r} of table {name}"
        try:
            self._call(
                "dynamodb",
                "UpdateTimeToLive",
                what,
                TableName=name,
                TimeToLiveSpecification={"Enabled": enabled, "AttributeName": attribute},
            )
        except WsctlError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and (
                cause.response.get("Error", {}).get("Code") == "ValidationException"
            ):
                raise WsctlError(
                    f"{what} failed: DynamoDB takes one TTL change per table an hour (the last "
                    "one was less than an hour ago); run 'wsctl up' again later to finish"
                ) from None
            raise

    def delete_table(self, name: str) -> None:
        self._call("dynamodb", "DeleteTable", f"Deleting DynamoDB table {name}", TableName=name)

    def count_items(self, name: str) -> int:
        what = f"Counting items in table {name}"
        params: dict[str, Any] = {
            "TableName": name,
            "Select": "COUNT",
            "FilterExpression": naming.CONNECTIONS_ONLY_FILTER,
            "ExpressionAttributeValues": naming.connection_scan_values(),
        }
        total = 0
        while True:
            page = self._call("dynamodb", "Scan", what, **params)
            total += page.get("Count", 0)
            if not page.get("LastEvaluatedKey"):
                return total
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- API Gateway v2 ----------------------------------------------------------------------
    def apis_named(self, name: str) -> list[dict[str, Any]]:
        apis = self._pages("apigatewayv2", "GetApis", "Listing WebSocket APIs", "Items")
        return [api for api in apis if api.get("Name") == name]

    def create_api(self, definition: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
        return self._call(
            "apigatewayv2",
            "CreateApi",
            f"Creating WebSocket API {definition['Name']}",
            Tags=tags,
            **definition,
        )

    def update_api(self, api_id: str, definition: dict[str, Any]) -> None:
        fields = {k: v for k, v in definition.items() if k != "ProtocolType"}
        self._call(
            "apigatewayv2", "UpdateApi", f"Updating WebSocket API {api_id}", ApiId=api_id, **fields
        )

    def delete_api(self, api_id: str) -> None:
        self._call("apigatewayv2", "DeleteApi", f"Deleting WebSocket API {api_id}", ApiId=api_id)

    def integrations(self, api_id: str) -> list[dict[str, Any]]:
        return list(
            self._pages(
                "apigatewayv2",
                "GetIntegrations",
                f"Listing integrations of API {api_id}",
                "Items",
                ApiId=api_id,
            )
        )

    def create_integration(self, api_id: str, uri: str) -> dict[str, Any]:
        return self._call(
            "apigatewayv2",
            "CreateIntegration",
            f"Creating integration for {uri.rsplit(':', 1)[-1].split('/')[0]}",
            ApiId=api_id,
            IntegrationUri=uri,
            **INTEGRATION_SETTINGS,
        )

    def update_integration(self, api_id: str, integration_id: str) -> None:
        self._call(
            "apigatewayv2",
            "UpdateIntegration",
            f"Updating integration {integration_id}",
            ApiId=api_id,
            IntegrationId=integration_id,
            **INTEGRATION_SETTINGS,
        )

    def delete_integration(self, api_id: str, integration_id: str) -> None:
        self._call(
            "apigatewayv2",
            "DeleteIntegration",
            f"Deleting integration {integration_id}",
            ApiId=api_id,
            IntegrationId=integration_id,
        )

    def routes(self, api_id: str) -> list[dict[str, Any]]:
        return list(
            self._pages(
                "apigatewayv2",
                "GetRoutes",
                f"Listing routes of API {api_id}",
                "Items",
                ApiId=api_id,
            )
        )

    def create_route(
        self,
        api_id: str,
        key: str,
        target: str,
        authorization: str,
        authorizer_id: str | None = None,
        response_selection: str | None = None,
    ) -> dict:
        extra: dict[str, Any] = {}
        if authorizer_id is not None:
            extra["AuthorizerId"] = authorizer_id
        if response_selection is not None:
            extra["RouteResponseSelectionExpression"] = response_selection
        return self._call(
            "apigatewayv2",
            "CreateRoute",
            f"Creating route {key}",
            ApiId=api_id,
            RouteKey=key,
            Target=target,
            AuthorizationType=authorization,
            **extra,
        )

    def update_route(
        self,
        api_id: str,
        route_id: str,
        key: str,
        target: str,
        auth: str,
        authorizer_id: str | None = None,
        response_selection: str | None = None,
    ) -> None:
        extra: dict[str, Any] = {}
        if authorizer_id is not None:
            extra["AuthorizerId"] = authorizer_id
        # Set only, never cleared (the API documents no empty value): a route without a route
        # response is one-way whatever its expression says.
        if response_selection is not None:
            extra["RouteResponseSelectionExpression"] = response_selection
        self._call(
            "apigatewayv2",
            "UpdateRoute",
            f"Updating route {key}",
            ApiId=api_id,
            RouteId=route_id,
            Target=target,
            AuthorizationType=auth,
            **extra,
        )

    def route_responses(self, api_id: str, route_id: str) -> list[dict[str, Any]]:
        return list(
            self._pages(
                "apigatewayv2",
                "GetRouteResponses",
                f"Listing route responses of route {route_id}",
                "Items",
                ApiId=api_id,
                RouteId=route_id,
            )
        )

    def create_route_response(self, api_id: str, route_id: str, key: str) -> None:
        self._call(
            "apigatewayv2",
            "CreateRouteResponse",
            f"Creating the route response of {key}",
            ApiId=api_id,
            RouteId=route_id,
            RouteResponseKey="$default",  # the only key WebSocket APIs take
        )

    def delete_route_response(self, api_id: str, route_id: str, response_id: str) -> None:
        self._call(
            "apigatewayv2",
            "DeleteRouteResponse",
            f"Deleting route response {response_id}",
            ApiId=api_id,
            RouteId=route_id,
            RouteResponseId=response_id,
        )

    def authorizers(self, api_id: str) -> list[dict[str, Any]]:
        return list(
            self._pages(
                "apigatewayv2",
                "GetAuthorizers",
                f"Listing authorizers of API {api_id}",
                "Items",
                ApiId=api_id,
            )
        )

    def create_authorizer(self, api_id: str, definition: dict[str, Any]) -> dict[str, Any]:
        return self._call(
            "apigatewayv2",
            "CreateAuthorizer",
            f"Creating authorizer {definition['Name']}",
            ApiId=api_id,
            **definition,
        )

    def update_authorizer(
        self, api_id: str, authorizer_id: str, definition: dict[str, Any]
    ) -> None:
        self._call(
            "apigatewayv2",
            "UpdateAuthorizer",
            f"Updating authorizer {definition['Name']}",
            ApiId=api_id,
            AuthorizerId=authorizer_id,
            **definition,
        )

    def delete_authorizer(self, api_id: str, authorizer_id: str) -> None:
        self._call(
            "apigatewayv2",
            "DeleteAuthorizer",
            f"Deleting authorizer {authorizer_id}",
            retry_if=retry.any_of(retry.transient, retry.authorizer_still_referenced),
            ApiId=api_id,
            AuthorizerId=authorizer_id,
        )

    def delete_route(self, api_id: str, route_id: str, key: str) -> None:
        self._call(
            "apigatewayv2",
            "DeleteRoute",
            f"Deleting route {key}",
            ApiId=api_id,
            RouteId=route_id,
        )

    def get_stage(self, api_id: str, stage: str) -> dict[str, Any]:
        return self._call(
            "apigatewayv2", "GetStage", f"Reading stage {stage}", ApiId=api_id, StageName=stage
        )

    def create_stage(
        self, api_id: str, stage: str, settings: dict[str, Any], tags: dict[str, str]
    ) -> None:
        self._call(
            "apigatewayv2",
            "CreateStage",
            f"Creating stage {stage}",
            ApiId=api_id,
            StageName=stage,
            AutoDeploy=True,
            DefaultRouteSettings=settings,
            Tags=tags,
        )

    def update_stage(self, api_id: str, stage: str, settings: dict[str, Any]) -> None:
        """AutoDeploy and the route settings wsctl owns, sent whole every time."""
        self._call(
            "apigatewayv2",
            "UpdateStage",
            f"Updating stage {stage}",
            ApiId=api_id,
            StageName=stage,
            AutoDeploy=True,
            DefaultRouteSettings=settings,
        )

    def delete_stage(self, api_id: str, stage: str) -> None:
        self._call(
            "apigatewayv2",
            "DeleteStage",
            f"Deleting stage {stage}",
            ApiId=api_id,
            StageName=stage,
        )

    # -- IAM ---------------------------------------------------------------------------------
    def role_names_under(self, path: str) -> list[str]:
        roles = self._pages(
            "iam", "ListRoles", f"Listing IAM roles under {path}", "Roles", PathPrefix=path
        )
        return [role["RoleName"] for role in roles if role.get("Path") == path]

    def get_role(self, name: str) -> dict[str, Any]:
        return self._call("iam", "GetRole", f"Reading IAM role {name}", RoleName=name)["Role"]

    def create_role(
        self, name: str, path: str, trust: dict[str, Any], tags: dict[str, str]
    ) -> dict[str, Any]:
        return self._call(
            "iam",
            "CreateRole",
            f"Creating IAM role {name}",
            RoleName=name,
            Path=path,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description="Execution role of a wsctl function",
            Tags=_tag_list(tags),
        )["Role"]

    def update_trust_policy(self, name: str, trust: dict[str, Any]) -> None:
        self._call(
            "iam",
            "UpdateAssumeRolePolicy",
            f"Updating who may assume IAM role {name}",
            RoleName=name,
            PolicyDocument=json.dumps(trust),
        )

    def role_policy(self, role: str, policy: str) -> dict[str, Any]:
        document = self._call(
            "iam",
            "GetRolePolicy",
            f"Reading policy {policy} of IAM role {role}",
            RoleName=role,
            PolicyName=policy,
        )["PolicyDocument"]
        return json.loads(document) if isinstance(document, str) else document

    def role_policy_names(self, role: str) -> list[str]:
        return list(
            self._pages(
                "iam",
                "ListRolePolicies",
                f"Listing policies of IAM role {role}",
                "PolicyNames",
                RoleName=role,
            )
        )

    def put_role_policy(self, role: str, policy: str, document: dict[str, Any]) -> None:
        self._call(
            "iam",
            "PutRolePolicy",
            f"Writing policy {policy} of IAM role {role}",
            RoleName=role,
            PolicyName=policy,
            PolicyDocument=json.dumps(document),
        )

    def delete_role_policy(self, role: str, policy: str) -> None:
        self._call(
            "iam",
            "DeleteRolePolicy",
            f"Deleting policy {policy} of IAM role {role}",
            RoleName=role,
            PolicyName=policy,
        )

    def attached_policy_arns(self, role: str) -> list[str]:
        policies = self._pages(
            "iam",
            "ListAttachedRolePolicies",
            f"Listing managed policies of IAM role {role}",
            "AttachedPolicies",
            RoleName=role,
        )
        return [policy["PolicyArn"] for policy in policies]

    def detach_role_policy(self, role: str, policy_arn: str) -> None:
        self._call(
            "iam",
            "DetachRolePolicy",
            f"Detaching {policy_arn} from IAM role {role}",
            RoleName=role,
            PolicyArn=policy_arn,
        )

    def delete_role(self, name: str) -> None:
        self._call("iam", "DeleteRole", f"Deleting IAM role {name}", RoleName=name)

    # -- CloudWatch Logs ---------------------------------------------------------------------
    def log_groups(self, prefix: str) -> list[dict[str, Any]]:
        return list(
            self._pages(
                "logs",
                "DescribeLogGroups",
                f"Listing log groups {prefix}*",
                "logGroups",
                logGroupNamePrefix=prefix,
            )
        )

    def log_group_tags(self, arn: str) -> dict[str, str]:
        return self._call(
            "logs", "ListTagsForResource", f"Reading tags of {arn}", resourceArn=arn
        ).get("tags", {})

    def create_log_group(self, name: str, tags: dict[str, str]) -> None:
        self._call(
            "logs", "CreateLogGroup", f"Creating log group {name}", logGroupName=name, tags=tags
        )

    def put_retention(self, name: str, days: int) -> None:
        self._call(
            "logs",
            "PutRetentionPolicy",
            f"Setting retention of log group {name}",
            logGroupName=name,
            retentionInDays=days,
        )

    def delete_log_group(self, name: str) -> None:
        self._call("logs", "DeleteLogGroup", f"Deleting log group {name}", logGroupName=name)

    def log_events(
        self, group: str, start_ms: int, end_ms: int | None = None
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
        if end_ms is not None:
            params["endTime"] = end_ms
        return list(
            self._pages("logs", "FilterLogEvents", f"Reading log group {group}", "events", **params)
        )

    # -- Lambda ------------------------------------------------------------------------------
    def function_names(self, prefix: str) -> list[str]:
        functions = self._pages("lambda", "ListFunctions", "Listing Lambda functions", "Functions")
        return [f["FunctionName"] for f in functions if f["FunctionName"].startswith(prefix)]

    def get_function(self, name: str) -> dict[str, Any]:
        """``Configuration`` and ``Tags`` of a function."""
        return self._call(
            "lambda", "GetFunction", f"Reading Lambda function {name}", FunctionName=name
        )

    def function_tags(self, arn: str) -> dict[str, str]:
        """Tags by ListTags: GetFunction leaves them out (``TagsError``) unless the caller may
        lambda:ListTags anyway (Lambda API reference, GetFunction)."""
        return self._call("lambda", "ListTags", f"Reading tags of {arn}", Resource=arn).get(
            "Tags", {}
        )

    def create_function(
        self,
        name: str,
        configuration: dict[str, Any],
        code: bytes,
        architecture: str,
        tags: dict[str, str],
    ) -> dict[str, Any]:
        created = self._call(
            "lambda",
            "CreateFunction",
            f"Creating Lambda function {name}",
            retry_if=retry.any_of(retry.role_not_yet_assumable, retry.transient),
            waits_for_iam=True,
            FunctionName=name,
            Code={"ZipFile": code},
            Architectures=[architecture],
            PackageType="Zip",
            Tags=tags,
            **configuration,
        )
        self.wait_function_ready(name)
        return created

    def wait_function_ready(self, name: str) -> None:
        """Until the function is Active and no update is in progress: Lambda refuses updates
        before then (Lambda developer guide, "Lambda function states")."""

        def failed(config: dict[str, Any]) -> str | None:
            if config.get("State") == "Failed" or config.get("LastUpdateStatus") == "Failed":
                return config.get("StateReason") or config.get("LastUpdateStatusReason") or "failed"
            return None

        self._poll(
            f"Waiting for function {name}",
            lambda: self._call(
                "lambda",
                "GetFunctionConfiguration",
                f"Reading Lambda function {name}",
                FunctionName=name,
            ),
            lambda config: (
                config.get("State", "Active") == "Active"
                and config.get("LastUpdateStatus", "Successful") != "InProgress"
            ),
            failed,
        )

    def update_function_code(self, name: str, code: bytes, architecture: str) -> None:
        self._call(
            "lambda",
            "UpdateFunctionCode",
            f"Updating code of Lambda function {name}",
            retry_if=retry.any_of(retry.update_in_progress, retry.transient),
            FunctionName=name,
            ZipFile=code,
            Architectures=[architecture],
        )
        self.wait_function_ready(name)

    def update_function_configuration(self, name: str, configuration: dict[str, Any]) -> None:
        self._call(
            "lambda",
            "UpdateFunctionConfiguration",
            f"Updating configuration of Lambda function {name}",
            retry_if=retry.any_of(
                retry.role_not_yet_assumable, retry.update_in_progress, retry.transient
            ),
            waits_for_iam=True,
            FunctionName=name,
            **configuration,
        )
        self.wait_function_ready(name)

    def delete_function(self, name: str) -> None:
        self._call(
            "lambda", "DeleteFunction", f"Deleting Lambda function {name}", FunctionName=name
        )

    def function_policy_statements(self, name: str) -> list[dict[str, Any]]:
        """The resource policy's statements; none when the function has no policy yet."""
        try:
            policy = self._call(
                "lambda", "GetPolicy", f"Reading permissions of {name}", FunctionName=name
            )["Policy"]
        except ResourceDoesNotExist:
            return []
        return json.loads(policy).get("Statement", [])

    def add_permission(self, name: str, statement_id: str, source_arn: str) -> None:
        self._call(
            "lambda",
            "AddPermission",
            f"Allowing API Gateway to invoke {name}",
            FunctionName=name,
            StatementId=statement_id,
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=source_arn,
        )

    def remove_permission(self, name: str, statement_id: str) -> None:
        self._call(
            "lambda",
            "RemovePermission",
            f"Removing permission {statement_id} of {name}",
            FunctionName=name,
            StatementId=statement_id,
        )


_PAGING = {
    ("apigatewayv2", "GetApis"): ("NextToken", "NextToken"),
    ("apigatewayv2", "GetIntegrations"): ("NextToken", "NextToken"),
    ("apigatewayv2", "GetAuthorizers"): ("NextToken", "NextToken"),
    ("apigatewayv2", "GetRouteResponses"): ("NextToken", "NextToken"),
    ("apigatewayv2", "GetRoutes"): ("NextToken", "NextToken"),
    ("iam", "ListRoles"): ("Marker", "Marker"),
    ("iam", "ListRolePolicies"): ("Marker", "Marker"),
    ("iam", "ListAttachedRolePolicies"): ("Marker", "Marker"),
    ("logs", "DescribeLogGroups"): ("nextToken", "nextToken"),
    ("logs", "FilterLogEvents"): ("nextToken", "nextToken"),
    ("lambda", "ListFunctions"): ("Marker", "NextMarker"),
}


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]
