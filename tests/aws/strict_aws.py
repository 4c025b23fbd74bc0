"""A strict AWS for the deploy tests: moto, plus what AWS does and moto does not.

Each behaviour is a botocore event hook on every client (the seam moto itself uses), modelled
from AWS's documentation or from what deployers met on real accounts (sources beside each).
Behaviours are counted, not timed, so the suite is deterministic; where a behaviour is about
time (IAM propagation), it reads the deployer's injectable clock (``wsctl.aws.clock``).

Switched on for the whole deploy suite: by ``tests/aws/conftest.py`` for tests/aws (a test
tunes it through the ``strict`` fixture, e.g. ``strict.conflicts = "every"``), and by
``switched_on()`` for the deploy tests elsewhere.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.handlers
import pytest
from moto.apigatewayv2.models import apigatewayv2_backends
from moto.awslambda.models import lambda_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.logs.models import logs_backends

from wsctl.aws import clock as clocks
from wsctl.aws.awsclient import is_mutating
from wsctl.aws.latency import Fabricated, client_error
from wsctl.config import LOG_RETENTION_DAYS

POLICY_SIZE_LIMIT = 20480


def install_hook(patch: pytest.MonkeyPatch, event: str, handler: Any, first: bool = False) -> None:
    """Register ``handler`` on every botocore session created from now on (as moto does)."""
    spec = (event, handler, botocore.handlers.REGISTER_FIRST) if first else (event, handler)
    patch.setattr(
        botocore.handlers, "BUILTIN_HANDLERS", [*botocore.handlers.BUILTIN_HANDLERS, spec]
    )


def install(patch: pytest.MonkeyPatch, layer: StrictAws) -> StrictAws:
    """Put ``layer`` on every botocore session created from now on."""
    install_hook(patch, "before-parameter-build", layer.remember_params)
    install_hook(patch, "before-call", layer.before_call)
    install_hook(patch, "after-call", layer.after_call)
    return layer


@contextlib.contextmanager
def switched_on() -> Iterator[StrictAws]:
    """The strict layer, with the deployer's waits in virtual time, for the block: what a deploy
    test outside tests/aws (which has it from its conftest) wraps its ``mock_aws()`` in."""
    with pytest.MonkeyPatch.context() as patch, clocks.use(clocks.VirtualClock()):
        yield install(patch, StrictAws())


@dataclass
class StrictAws:
    """The knobs of the strict layer; defaults are what a normal run on AWS meets."""

    # API Gateway ConflictException "...concurrent modification. Please try again later."
    # "back-to-back": a mutation right after another one of API Gateway is refused once;
    # "every": every mutation is refused once before it passes; None: off.
    conflicts: str | None = "back-to-back"
    # DescribeTable reports DELETING this many times after DeleteTable.
    deleting_describes: int = 2
    # DescribeTable reports the table UPDATING (CREATING) and the index CREATING or DELETING
    # this many times after an UpdateTable that creates or deletes an index (a CreateTable
    # with indexes); UpdateTable meanwhile is refused.
    index_describes: int = 2
    # GetFunction(Configuration) reports Pending / InProgress this many times after a
    # create / an update, and updates meanwhile are refused.
    settling_reads: int = 1
    # A new role is refused by Lambda for this long (seconds of the deployer's clock).
    propagation_seconds: float = 2.0
    # An organisation's automation that resets every log group's retention (days), or None.
    enforced_retention: int | None = None
    # The deploying identity's IAM policy; None: allowed everything, but GetFunction still
    # leaves Tags out, as for any caller without lambda:ListTags.
    identity_policy: dict[str, Any] | None = None
    seen: dict[str, int] = field(default_factory=dict)  # behaviour -> times it answered
    _last_was_gateway_mutation: bool = False
    _deleting: dict[str, list] = field(default_factory=dict)  # table -> [left, description]
    # table -> [reads left, table status, index name, index status, index description]
    _indexing: dict[str, list] = field(default_factory=dict)
    # One TTL change per table an hour (seconds of the deployer's clock), or None: off.
    ttl_cooldown_seconds: float | None = 3600.0
    _ttl_changed: dict[str, float] = field(default_factory=dict)  # table -> clock time
    _settling: dict[str, list] = field(default_factory=dict)  # function -> [left, state]
    _roles_created: dict[str, float] = field(default_factory=dict)  # role ARN -> clock time

    _paused: bool = False

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Plain moto for a test's own set-up calls (a person at the console retries)."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    def _count(self, behaviour: str) -> None:
        self.seen[behaviour] = self.seen.get(behaviour, 0) + 1

    # -- hooks -----------------------------------------------------------------------------
    def remember_params(self, params, context, **kwargs) -> None:
        context["strict_params"] = dict(params)

    def before_call(self, model, context, **kwargs):
        service, operation = model.service_model.service_name, model.name
        params = context.get("strict_params", {})
        region = context.get("client_region") or "us-east-1"
        if (service, operation) == ("apigatewayv2", "UpdateStage"):
            return self._update_stage(params, region)  # moto lacks it, paused or not
        if self._paused:
            return None
        self._check_identity(service, operation, params, region)
        answer = getattr(self, f"_before_{service}", None)
        return answer(operation, params, region) if answer else None

    def after_call(self, model, parsed, context, http_response=None, **kwargs) -> None:
        if self._paused:
            return
        service, operation = model.service_model.service_name, model.name
        if http_response is not None and getattr(http_response, "status_code", 200) >= 300:
            return
        params = context.get("strict_params", {})
        answer = getattr(self, f"_after_{service}", None)
        if answer:
            answer(operation, params, parsed, context.get("client_region") or "us-east-1")

    # -- API Gateway -----------------------------------------------------------------------
    def _before_apigatewayv2(self, operation, params, region):
        if not is_mutating(operation):
            return None
        if operation == "DeleteApi" and params["ApiId"] not in (
            apigatewayv2_backends[DEFAULT_ACCOUNT_ID][region].apis
        ):
            # API Gateway v2 API reference, DeleteApi: NotFoundException (moto answers 204).
            self._count("DeleteApi NotFound")
            raise client_error(
                operation,
                "NotFoundException",
                f"Invalid API identifier specified {DEFAULT_ACCOUNT_ID}:{params['ApiId']}",
                404,
            )
        # Terraform's provider retries this for apigatewayv2 routes and integrations created
        # one after another (hashicorp/terraform-provider-aws#18018, PR #29735; also
        # go-to-k/cdkd#1607: "the service serializes mutations per API").
        refuse = self.conflicts == "every" or (
            self.conflicts == "back-to-back" and self._last_was_gateway_mutation
        )
        if refuse and not self._just_refused(operation):
            self._refused = operation
            self._last_was_gateway_mutation = False
            self._count("ConflictException")
            raise client_error(
                operation,
                "ConflictException",
                "Unable to complete operation due to concurrent modification. "
                "Please try again later.",
                409,
            )
        self._refused = None
        self._last_was_gateway_mutation = True
        return None

    _refused: str | None = None

    def _update_stage(self, params, region):
        """moto has no UpdateStage (NotImplementedError); AWS sets the fields given (API
        Gateway v2 API reference, UpdateStage). Only what wsctl sends is modelled."""
        if not self._paused:
            self._before_apigatewayv2("UpdateStage", params, region)  # may refuse: conflict
        api = apigatewayv2_backends[DEFAULT_ACCOUNT_ID][region].get_api(params["ApiId"])
        stage = api.get_stage(params["StageName"])
        if "AutoDeploy" in params:
            stage.auto_deploy = params["AutoDeploy"]
        for key, value in (params.get("DefaultRouteSettings") or {}).items():
            stage.default_route_settings[key[0].lower() + key[1:]] = value
        parsed = {
            "StageName": stage.name,
            "AutoDeploy": stage.auto_deploy,
            "DefaultRouteSettings": {
                key[0].upper() + key[1:]: value
                for key, value in stage.default_route_settings.items()
            },
        }
        return Fabricated(), parsed

    def _just_refused(self, operation: str) -> bool:
        """The retry of the call refused last passes (the concurrent change is done)."""
        return self._refused == operation

    # -- DynamoDB --------------------------------------------------------------------------
    def _before_dynamodb(self, operation, params, region):
        self._last_was_gateway_mutation = False
        name = params.get("TableName")
        if operation == "UpdateTable":
            self._check_index_update(params)
        if operation == "UpdateTimeToLive":
            self._check_ttl_cooldown(name)
        deleting = self._deleting.get(name)
        if deleting is None:
            return None
        if operation == "CreateTable":
            # DynamoDB developer guide, DeleteTable: "the table is in the DELETING state
            # until DynamoDB completes the deletion"; the name is taken meanwhile.
            self._count("CreateTable while DELETING")
            raise client_error(
                operation,
                "ResourceInUseException",
                f"Attempt to change a resource which is still in use: Table is being "
                f"deleted: {name}",
            )
        if operation == "DescribeTable":
            deleting[0] -= 1
            if deleting[0] <= 0:
                del self._deleting[name]
            self._count("DescribeTable DELETING")
            return Fabricated(), {"Table": {**deleting[1], "TableStatus": "DELETING"}}
        return None

    def _check_ttl_cooldown(self, name: str) -> None:
        """UpdateTimeToLive's API reference: "It can take up to one hour for the change to
        fully process. Any additional UpdateTimeToLive calls for the same table during this
        one hour duration result in a ValidationException." """
        now = clocks.current().now()
        last = self._ttl_changed.get(name)
        cooldown = self.ttl_cooldown_seconds
        if cooldown and last is not None and now - last < cooldown:
            self._count("UpdateTimeToLive within the hour")
            raise client_error(
                "UpdateTimeToLive",
                "ValidationException",
                "Time to live has been modified multiple times within a fixed interval "
                f"(strict layer: the last change {now - last:.0f} s ago)",
            )

    def _check_index_update(self, params) -> None:
        """UpdateTable's API reference: "You can create or delete only one global secondary
        index per UpdateTable operation", and "While it's UPDATING, you can't issue another
        UpdateTable request" (a new index backfills for minutes on AWS; moto has it at once).
        """
        name = params["TableName"]
        changes = [u for u in params.get("GlobalSecondaryIndexUpdates") or [] if "Update" not in u]
        if len(changes) > 1:
            self._count("UpdateTable several indexes")
            raise client_error(
                "UpdateTable",
                "ValidationException",
                "One or more parameter values were invalid: Only 1 online index operation can "
                "be performed at a time",
            )
        if name in self._indexing:
            self._count("UpdateTable while UPDATING")
            raise client_error(
                "UpdateTable",
                "ResourceInUseException",
                f"Attempt to change a resource which is still in use: Table is being updated: "
                f"{name}",
            )

    def _index_in_progress(self, table: str, table_status: str, index: dict, status: str):
        if self.index_describes > 0:
            self._indexing[table] = [
                self.index_describes,
                table_status,
                index["IndexName"],
                status,
                dict(index),
            ]

    def _after_dynamodb(self, operation, params, parsed, region):
        name = params.get("TableName")
        if operation == "UpdateTable":
            for update in params.get("GlobalSecondaryIndexUpdates") or []:
                for verb, status in (("Create", "CREATING"), ("Delete", "DELETING")):
                    if verb in update:
                        self._index_in_progress(name, "UPDATING", update[verb], status)
        created = params.get("GlobalSecondaryIndexes") or []
        if operation == "CreateTable" and created:
            self._index_in_progress(name, "CREATING", created[0], "CREATING")
        if operation == "DescribeTable" and name in self._indexing:
            left, table_status, index_name, index_status, index = self._indexing[name]
            table = parsed["Table"]
            table["TableStatus"] = table_status
            indexes = [
                i for i in table.get("GlobalSecondaryIndexes") or [] if i["IndexName"] != index_name
            ]
            table["GlobalSecondaryIndexes"] = [*indexes, {**index, "IndexStatus": index_status}]
            self._count(f"DescribeTable index {index_status}")
            if left <= 1:
                del self._indexing[name]
            else:
                self._indexing[name][0] = left - 1
        if operation == "UpdateTimeToLive":
            # Counted once made: a call that never reached DynamoDB (Ctrl-C) changed nothing.
            self._ttl_changed[name] = clocks.current().now()
        if operation in ("CreateTable", "DeleteTable"):
            self._ttl_changed.pop(name, None)  # a table made again under the name is new
        if operation == "DeleteTable" and self.deleting_describes > 0:
            self._deleting[params["TableName"]] = [
                self.deleting_describes,
                dict(parsed.get("TableDescription", {})),
            ]

    # -- Lambda ----------------------------------------------------------------------------
    def _before_lambda(self, operation, params, region):
        self._last_was_gateway_mutation = False
        name = str(params.get("FunctionName", "")).rsplit(":", 1)[-1]
        if operation in ("UpdateFunctionCode", "UpdateFunctionConfiguration"):
            settling = self._settling.get(name)
            if settling is not None:
                # Lambda developer guide, "Lambda function states": no update while the
                # function is Pending or an update is InProgress (ResourceConflictException;
                # ansible-collections/community.aws#830).
                self._count("update while InProgress")
                raise client_error(
                    operation,
                    "ResourceConflictException",
                    "The operation cannot be performed at this time. An update is in "
                    f"progress for resource: arn:aws:lambda:{region}:{DEFAULT_ACCOUNT_ID}:"
                    f"function:{name}",
                    409,
                )
        if operation in ("CreateFunction", "UpdateFunctionConfiguration") and "Role" in params:
            created = self._roles_created.get(params["Role"])
            if created is not None and clocks.current().now() - created < self.propagation_seconds:
                # IAM is eventually consistent; chalice retries this message for up to 150 s
                # (chalice/awsclient.py, _is_iam_role_related_error).
                self._count("role cannot be assumed")
                raise client_error(
                    operation,
                    "InvalidParameterValueException",
                    "The role defined for the function cannot be assumed by Lambda.",
                )
        if operation == "AddPermission":
            return self._add_permission(params, region)
        return None

    def _add_permission(self, params, region):
        backend = lambda_backends[DEFAULT_ACCOUNT_ID][region]
        try:
            policy = json.loads(json.loads(backend.get_policy(params["FunctionName"]))["Policy"])
        except Exception:  # no policy yet
            policy = {"Version": "2012-10-17", "Id": "default", "Statement": []}
        sid = params["StatementId"]
        if any(statement.get("Sid") == sid for statement in policy["Statement"]):
            # Lambda API reference, AddPermission: 409 ResourceConflictException (moto
            # appends a duplicate); message as Terraform users met it (#3312, #4814).
            self._count("AddPermission existing Sid")
            raise client_error(
                "AddPermission",
                "ResourceConflictException",
                f"The statement id ({sid}) provided already exists. Please provide a new "
                "statement id, or remove the existing statement.",
                409,
            )
        statement = {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": params.get("Principal", "")},
            "Action": params.get("Action", ""),
            "Resource": f"arn:aws:lambda:{region}:{DEFAULT_ACCOUNT_ID}:function:"
            f"{params['FunctionName']}",
            "Condition": {"ArnLike": {"AWS:SourceArn": params.get("SourceArn", "")}},
        }
        size = len(json.dumps({**policy, "Statement": [*policy["Statement"], statement]}))
        if size > POLICY_SIZE_LIMIT:
            # Lambda quotas: "Function resource-based policy: 20 KB" (adobe/helix-deploy#24).
            self._count("PolicyLengthExceededException")
            raise client_error(
                "AddPermission",
                "PolicyLengthExceededException",
                f"The final policy size ({size}) is bigger than the limit ({POLICY_SIZE_LIMIT}).",
            )
        return None

    def _after_lambda(self, operation, params, parsed, region):
        name = str(params.get("FunctionName", "")).rsplit(":", 1)[-1]
        if operation == "CreateFunction" and self.settling_reads > 0:
            self._settling[name] = [self.settling_reads, "Pending"]
        elif operation in ("UpdateFunctionCode", "UpdateFunctionConfiguration"):
            if self.settling_reads > 0:
                self._settling[name] = [self.settling_reads, "InProgress"]
            if operation == "UpdateFunctionCode" and params.get("Architectures"):
                # Lambda API reference, UpdateFunctionCode: Architectures applies with the
                # code; moto keeps the old one.
                function = lambda_backends[DEFAULT_ACCOUNT_ID][region].get_function(name)
                function.architectures = list(params["Architectures"])
        elif operation in ("GetFunction", "GetFunctionConfiguration"):
            config = parsed.get("Configuration", parsed)
            settling = self._settling.get(name)
            if settling is not None:
                if settling[1] == "Pending":
                    config["State"] = "Pending"
                else:
                    config["LastUpdateStatus"] = "InProgress"
                settling[0] -= 1
                if settling[0] <= 0:
                    del self._settling[name]
            if operation == "GetFunction" and not self._allows("lambda:ListTags"):
                # Lambda API reference, GetFunction: Tags only "if you have permission for
                # ListTags"; otherwise TagsError.
                if parsed.pop("Tags", None) is not None:
                    self._count("GetFunction without Tags")
                parsed["TagsError"] = {
                    "ErrorCode": "AccessDeniedException",
                    "Message": "not authorized to perform: lambda:ListTags",
                }
        elif operation == "DeleteFunction":
            self._settling.pop(name, None)

    def leave_in_progress(self, function: str, reads: int = 3) -> None:
        """As an interrupted `up` leaves it: an update still being applied."""
        self._settling[function] = [reads, "InProgress"]

    # -- IAM -------------------------------------------------------------------------------
    def _before_iam(self, operation, params, region):
        self._last_was_gateway_mutation = False
        # DeleteRole's DeleteConflict with managed policies attached (IAM API reference,
        # DeleteRole) is modelled by moto itself (moto/iam/models.py, delete_role).
        return None

    def _after_iam(self, operation, params, parsed, region):
        if operation == "CreateRole":
            self._roles_created[parsed["Role"]["Arn"]] = clocks.current().now()

    # -- CloudWatch Logs -------------------------------------------------------------------
    def _before_logs(self, operation, params, region):
        self._last_was_gateway_mutation = False
        if operation == "PutRetentionPolicy" and params.get("retentionInDays") not in (
            LOG_RETENTION_DAYS
        ):
            # CloudWatch Logs API reference, PutRetentionPolicy: an enumerated set of days.
            self._count("PutRetentionPolicy invalid days")
            raise client_error(
                operation,
                "InvalidParameterException",
                f"1 validation error detected: Value '{params.get('retentionInDays')}' at "
                "'retentionInDays' failed to satisfy constraint: Member must satisfy enum "
                f"value set: {list(LOG_RETENTION_DAYS)}",
            )
        return None

    def _after_logs(self, operation, params, parsed, region):
        if self.enforced_retention is None:
            return
        if operation in ("CreateLogGroup", "PutRetentionPolicy"):
            # An organisation's automation (AWS Landing Zone Accelerator's log-group Lambda,
            # awslabs/landing-zone-accelerator-on-aws#670) puts its own retention back.
            group = logs_backends[DEFAULT_ACCOUNT_ID][region].groups[params["logGroupName"]]
            group.set_retention_policy(self.enforced_retention)
            self._count("retention enforced by the account")

    def _before_sts(self, operation, params, region):
        self._last_was_gateway_mutation = False
        return None

    # -- the deploying identity's policy ---------------------------------------------------
    def _allows(self, action: str, resource: str = "*") -> bool:
        if self.identity_policy is None:
            return action != "lambda:ListTags"
        return policy_allows(self.identity_policy, action, resource)

    def _check_identity(self, service, operation, params, region) -> None:
        if self.identity_policy is None:
            return
        for action, resource in required_permissions(service, operation, params, region):
            if not policy_allows(self.identity_policy, action, resource):
                self._count("AccessDenied")
                raise client_error(
                    operation,
                    "AccessDeniedException",
                    f"User: arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user/deployer is not authorized "
                    f"to perform: {action} on resource: {resource}",
                    403,
                )


def _listify(value) -> list:
    return value if isinstance(value, list) else [value]


def policy_allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an Allow statement covers ``action`` on ``resource`` (wildcards as IAM
    matches them; conditions are not evaluated). Deny statements are not used by wsctl."""
    for statement in policy["Statement"]:
        if statement.get("Effect") != "Allow":
            continue
        actions = _listify(statement.get("Action", []))
        resources = _listify(statement.get("Resource", []))
        if any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions) and any(
            fnmatch.fnmatchcase(resource, r) for r in resources
        ):
            return True
    return False


_GATEWAY_VERBS = (
    ("Create", "POST"),
    ("Get", "GET"),
    ("Update", "PATCH"),
    ("Delete", "DELETE"),
)


def required_permissions(
    service: str, operation: str, params: dict[str, Any], region: str
) -> list[tuple[str, str]]:
    """What IAM requires of a call, worked out from the call itself (not from wsctl's own
    list): the action, the resource it names, and the implied tag and PassRole actions."""
    account = DEFAULT_ACCOUNT_ID
    if service == "sts":
        return []
    if service == "apigatewayv2":
        verb = next(v for p, v in _GATEWAY_VERBS if operation.startswith(p))
        path = "/apis" + (f"/{params['ApiId']}" if "ApiId" in params else "")
        needs = [(f"apigateway:{verb}", f"arn:aws:apigateway:{region}::{path}")]
        if params.get("Tags"):
            needs.append(("apigateway:POST", f"arn:aws:apigateway:{region}::/tags/x"))
        return needs
    action = f"{service}:{operation}"
    if service == "lambda":
        name = params.get("FunctionName") or str(params.get("Resource", "")).rsplit(":", 1)[-1]
        resource = f"arn:aws:lambda:{region}:{account}:function:{name}" if name else "*"
        needs = [(action, resource)]
        if operation == "CreateFunction" and params.get("Tags"):
            needs.append(("lambda:TagResource", resource))
        if params.get("Role"):
            needs.append(("iam:PassRole", params["Role"]))
        return needs
    if service == "dynamodb":
        name = params.get("TableName") or str(params.get("ResourceArn", "")).split("/")[-1]
        needs = [(action, f"arn:aws:dynamodb:{region}:{account}:table/{name}")]
        if operation == "CreateTable" and params.get("Tags"):
            needs.append(("dynamodb:TagResource", needs[0][1]))
        return needs
    if service == "logs":
        name = params.get("logGroupName")
        if name is None and "resourceArn" in params:
            name = params["resourceArn"].split(":log-group:", 1)[1].removesuffix(":*")
        resource = f"arn:aws:logs:{region}:{account}:log-group:{name or '*'}"
        needs = [(action, resource)]
        if operation == "CreateLogGroup" and params.get("tags"):
            needs.append(("logs:TagResource", resource))
        return needs
    if service == "iam":
        name = params.get("RoleName")
        path = params.get("Path") or _role_path(name)
        resource = f"arn:aws:iam::{account}:role{path}{name}" if name else "*"
        needs = [(action, resource)]
        if operation == "CreateRole" and params.get("Tags"):
            needs.append(("iam:TagRole", resource))
        return needs
    return [(action, "*")]


def _role_path(name: str | None) -> str:
    """The path of an existing role (GetRole and the rest name roles without it)."""
    from moto.iam.models import iam_backends

    if name is None:
        return "/"
    for role in iam_backends[DEFAULT_ACCOUNT_ID]["aws"].roles.values():
        if role.name == name:
            return role.path
    return "/"
