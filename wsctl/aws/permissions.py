"""What the deploying identity needs: every AWS operation wsctl calls, with the IAM actions it
takes and the resources they apply to. ``AwsClient`` refuses an operation missing from this
list, so ``wsctl policy`` (built from it) cannot fall behind the code.

Sources: the Service Authorization Reference (actions, resource types and condition keys of
Lambda, IAM, DynamoDB, CloudWatch Logs and API Gateway). Creating with tags also needs the
service's tag action (lambda:TagResource, iam:TagRole, dynamodb:TagResource,
logs:TagResource, apigateway:POST on /tags), and handing a role to a function needs
iam:PassRole on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wsctl.config import ServiceSpec

POLICY_VERSION = "2012-10-17"

# Resource kinds, filled in per stack by ``resource_patterns``; ANY is for listings, which
# name no resource.
TABLE, API, ROLE, ROLES, LOG_GROUP, FUNCTION, ANY = (
    "table",
    "api",
    "role",
    "roles",
    "log_group",
    "function",
    "any",
)


@dataclass(frozen=True)
class Needs:
    """The IAM actions one operation takes, on which kind of resource."""

    actions: tuple[str, ...]
    resource: str


OPERATIONS: dict[tuple[str, str], Needs] = {
    ("sts", "GetCallerIdentity"): Needs((), ANY),  # needs no permission
    # DynamoDB
    ("dynamodb", "DescribeTable"): Needs(("dynamodb:DescribeTable",), TABLE),
    ("dynamodb", "ListTagsOfResource"): Needs(("dynamodb:ListTagsOfResource",), TABLE),
    ("dynamodb", "DescribeTimeToLive"): Needs(("dynamodb:DescribeTimeToLive",), TABLE),
    ("dynamodb", "CreateTable"): Needs(("dynamodb:CreateTable", "dynamodb:TagResource"), TABLE),
    ("dynamodb", "UpdateTimeToLive"): Needs(("dynamodb:UpdateTimeToLive",), TABLE),
    ("dynamodb", "DeleteTable"): Needs(("dynamodb:DeleteTable",), TABLE),
    ("dynamodb", "UpdateTable"): Needs(("dynamodb:UpdateTable",), TABLE),  # indexes
    # Finds tables removed from wsctl.toml; ListTables takes no resource (DynamoDB's
    # service authorization reference).
    ("dynamodb", "ListTables"): Needs(("dynamodb:ListTables",), ANY),
    ("dynamodb", "Scan"): Needs(("dynamodb:Scan",), TABLE),  # status counts connections
    # API Gateway: HTTP verbs on resource paths
    ("apigatewayv2", "GetApis"): Needs(("apigateway:GET",), API),
    ("apigatewayv2", "CreateApi"): Needs(("apigateway:POST",), API),
    ("apigatewayv2", "UpdateApi"): Needs(("apigateway:PATCH",), API),
    ("apigatewayv2", "DeleteApi"): Needs(("apigateway:DELETE",), API),
    ("apigatewayv2", "GetIntegrations"): Needs(("apigateway:GET",), API),
    ("apigatewayv2", "CreateIntegration"): Needs(("apigateway:POST",), API),
    ("apigatewayv2", "UpdateIntegration"): Needs(("apigateway:PATCH",), API),  # drift
    ("apigatewayv2", "DeleteIntegration"): Needs(("apigateway:DELETE",), API),
    ("apigatewayv2", "GetRoutes"): Needs(("apigateway:GET",), API),
    ("apigatewayv2", "CreateRoute"): Needs(("apigateway:POST",), API),
    ("apigatewayv2", "UpdateRoute"): Needs(("apigateway:PATCH",), API),
    ("apigatewayv2", "DeleteRoute"): Needs(("apigateway:DELETE",), API),
    ("apigatewayv2", "GetAuthorizers"): Needs(("apigateway:GET",), API),
    ("apigatewayv2", "CreateAuthorizer"): Needs(("apigateway:POST",), API),
    ("apigatewayv2", "UpdateAuthorizer"): Needs(("apigateway:PATCH",), API),
    ("apigatewayv2", "DeleteAuthorizer"): Needs(("apigateway:DELETE",), API),
    ("apigatewayv2", "GetRouteResponses"): Needs(("apigateway:GET",), API),
    ("apigatewayv2", "CreateRouteResponse"): Needs(("apigateway:POST",), API),
    ("apigatewayv2", "DeleteRouteResponse"): Needs(("apigateway:DELETE",), API),
    ("apigatewayv2", "GetStage"): Needs(("apigateway:GET",), API),
    ("apigatewayv2", "CreateStage"): Needs(("apigateway:POST",), API),
    ("apigatewayv2", "UpdateStage"): Needs(("apigateway:PATCH",), API),
    ("apigatewayv2", "DeleteStage"): Needs(("apigateway:DELETE",), API),
    # IAM
    ("iam", "ListRoles"): Needs(("iam:ListRoles",), ANY),
    ("iam", "GetRole"): Needs(("iam:GetRole",), ROLES),  # also looks for look-alikes
    ("iam", "CreateRole"): Needs(("iam:CreateRole", "iam:TagRole"), ROLE),
    ("iam", "UpdateAssumeRolePolicy"): Needs(("iam:UpdateAssumeRolePolicy",), ROLE),  # drift
    ("iam", "GetRolePolicy"): Needs(("iam:GetRolePolicy",), ROLE),
    ("iam", "ListRolePolicies"): Needs(("iam:ListRolePolicies",), ROLE),
    ("iam", "PutRolePolicy"): Needs(("iam:PutRolePolicy",), ROLE),
    ("iam", "DeleteRolePolicy"): Needs(("iam:DeleteRolePolicy",), ROLE),
    ("iam", "ListAttachedRolePolicies"): Needs(("iam:ListAttachedRolePolicies",), ROLE),
    ("iam", "DetachRolePolicy"): Needs(("iam:DetachRolePolicy",), ROLE),
    ("iam", "DeleteRole"): Needs(("iam:DeleteRole",), ROLE),
    # CloudWatch Logs
    ("logs", "DescribeLogGroups"): Needs(("logs:DescribeLogGroups",), ANY),
    ("logs", "ListTagsForResource"): Needs(("logs:ListTagsForResource",), LOG_GROUP),
    ("logs", "CreateLogGroup"): Needs(("logs:CreateLogGroup", "logs:TagResource"), LOG_GROUP),
    ("logs", "PutRetentionPolicy"): Needs(("logs:PutRetentionPolicy",), LOG_GROUP),
    ("logs", "DeleteLogGroup"): Needs(("logs:DeleteLogGroup",), LOG_GROUP),
    ("logs", "FilterLogEvents"): Needs(("logs:FilterLogEvents",), LOG_GROUP),
    # Lambda
    ("lambda", "ListFunctions"): Needs(("lambda:ListFunctions",), ANY),
    ("lambda", "GetFunction"): Needs(("lambda:GetFunction",), FUNCTION),
    ("lambda", "GetFunctionConfiguration"): Needs(("lambda:GetFunctionConfiguration",), FUNCTION),
    ("lambda", "ListTags"): Needs(("lambda:ListTags",), FUNCTION),
    ("lambda", "CreateFunction"): Needs(
        ("lambda:CreateFunction", "lambda:TagResource", "iam:PassRole"), FUNCTION
    ),
    ("lambda", "UpdateFunctionCode"): Needs(("lambda:UpdateFunctionCode",), FUNCTION),
    ("lambda", "UpdateFunctionConfiguration"): Needs(
        ("lambda:UpdateFunctionConfiguration", "iam:PassRole"), FUNCTION
    ),
    ("lambda", "DeleteFunction"): Needs(("lambda:DeleteFunction",), FUNCTION),
    ("lambda", "GetPolicy"): Needs(("lambda:GetPolicy",), FUNCTION),
    ("lambda", "AddPermission"): Needs(("lambda:AddPermission",), FUNCTION),
    ("lambda", "RemovePermission"): Needs(("lambda:RemovePermission",), FUNCTION),
}


_SIDS = {
    TABLE: "Table",
    API: "WebSocketApi",
    ROLE: "FunctionRoles",
    ROLES: "FindRoles",
    LOG_GROUP: "LogGroups",
    FUNCTION: "Functions",
    ANY: "List",
}


def iam_actions(service: str, operation: str) -> tuple[str, ...]:
    needs = OPERATIONS.get((service, operation))
    return needs.actions if needs else ()


def resource_patterns(spec: ServiceSpec, partition: str = "aws") -> dict[str, list[str]]:
    """The ARNs each resource kind covers for this stack, in any region and account the
    credentials reach (``*``), so one policy serves every region the stack is deployed to."""
    stack, region, account = spec.stack, spec.region or "*", "*"
    arn = f"arn:{partition}"
    return {
        # Every table of the stack, those removed from wsctl.toml too (``down`` deletes them).
        TABLE: [f"{arn}:dynamodb:{region}:{account}:table/{stack}-*"],
        API: [
            f"{arn}:apigateway:{region}::/apis",
            f"{arn}:apigateway:{region}::/apis/*",
            f"{arn}:apigateway:{region}::/tags/*",
        ],
        ROLE: [f"{arn}:iam::{account}:role/wsctl/{stack}/{stack}-*"],
        ROLES: [f"{arn}:iam::{account}:role/*"],
        LOG_GROUP: [f"{arn}:logs:{region}:{account}:log-group:/aws/lambda/{stack}-*"],
        FUNCTION: [f"{arn}:lambda:{region}:{account}:function:{stack}-*"],
        ANY: ["*"],
    }


def deployer_policy(spec: ServiceSpec) -> dict[str, Any]:
    """The least-privilege policy for ``up``, ``status``, ``logs`` and ``down`` of ``spec``:
    one statement per resource kind, actions sorted, ready for ``aws iam put-user-policy``."""
    patterns = resource_patterns(spec)
    by_resource: dict[str, set[str]] = {}
    for needs in OPERATIONS.values():
        for action in needs.actions:
            # PassRole is granted on the roles, whichever call needs it.
            kind = ROLE if action == "iam:PassRole" else needs.resource
            by_resource.setdefault(kind, set()).add(action)
    statements = []
    for kind in sorted(by_resource):
        statement: dict[str, Any] = {
            "Sid": _SIDS[kind],
            "Effect": "Allow",
            "Action": sorted(by_resource[kind]),
            "Resource": patterns[kind] if len(patterns[kind]) > 1 else patterns[kind][0],
        }
        if kind == ROLE:
            statement_passrole = {
                "Sid": "PassRoleToLambda",
                "Effect": "Allow",
                "Action": ["iam:PassRole"],
                "Resource": patterns[ROLE][0],
                "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
            }
            statement["Action"] = [a for a in statement["Action"] if a != "iam:PassRole"]
            statements.append(statement_passrole)
        statements.append(statement)
    return {"Version": POLICY_VERSION, "Statement": statements}
