"""What a function's role allows, as wsctl deploys it: the check the emulator makes on every
AWS call a sandboxed handler makes, failing as AWS fails it. Pure functions of the spec.

Errors follow AWS's: DynamoDB ``AccessDeniedException`` (400), the management API's 403
``ForbiddenException``, Lambda's ``AccessDeniedException`` (403), each with the message AWS
gives for an identity-based policy that does not allow the action.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wsctl import naming
from wsctl.config import INVOKE_FUNCTION, MANAGE_CONNECTIONS, FunctionSpec, ServiceSpec

ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class Denied:
    """A call the function's permissions do not allow: AWS's error, and the fix to print."""

    status: int
    code: str
    message: str
    hint: str


def _principal(spec: ServiceSpec, function: FunctionSpec) -> str:
    role = naming.role_name(spec, function.name)
    return (
        f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/{naming.function_name(spec, function.name)}"
    )


def _not_authorized(spec: ServiceSpec, function: FunctionSpec, action: str, resource: str) -> str:
    return (
        f"User: {_principal(spec, function)} is not authorized to perform: {action} on "
        f"resource: {resource} because no identity-based policy allows the {action} action"
    )


def _hint(function: FunctionSpec, permission: str, extra: str = "") -> str:
    return (
        f"Function {function.name} needs {permission}: add it to permissions in "
        f"[functions.{function.name}] of wsctl.toml{extra}"
    )


def _tables(operation: str, params: Mapping[str, Any]) -> list[str]:
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return sorted((params.get("RequestItems") or {}).keys())
    if operation in ("TransactWriteItems", "TransactGetItems"):
        names = set()
        for item in params.get("TransactItems") or []:
            for body in item.values():
                if isinstance(body, Mapping) and "TableName" in body:
                    names.add(body["TableName"])
        return sorted(names)
    name = params.get("TableName")
    return [name] if isinstance(name, str) else []


def _check_tables(
    spec: ServiceSpec,
    function: FunctionSpec,
    region: str,
    action: str,
    params: Mapping[str, Any],
    operation: str,
) -> Denied | None:
    """DynamoDB actions are granted on the tables the function names (and their indexes,
    which a Query or Scan names with IndexName on the same table), nothing else."""
    own = {naming.table_name(spec, table): table for table in function.tables}
    stack_tables = {naming.table_name(spec, table): table for table in spec.tables}
    for name in _tables(operation, params) or ["*"]:
        if action in function.table_actions and name in own:
            continue
        resource = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"
        if name in own or action not in function.table_actions:
            hint = _hint(function, f'"{action}"')
        elif name in stack_tables:
            hint = (
                f"Function {function.name} does not name table {stack_tables[name]}: add "
                f'"{stack_tables[name]}" to tables in [functions.{function.name}] of wsctl.toml'
            )
        else:
            named = ", ".join(sorted(own)) or "none"
            hint = f"Function {function.name} may use only the tables it names ({named})"
        return Denied(
            400,
            "AccessDeniedException",
            _not_authorized(spec, function, action, resource),
            hint,
        )
    return None


def check(
    spec: ServiceSpec,
    function: FunctionSpec,
    region: str,
    service: str,
    operation: str,
    params: Mapping[str, Any],
    invoked: str | None = None,
) -> Denied | None:
    """None if ``function`` may make this call; else how AWS refuses it.

    ``invoked`` is the stack function an Invoke names (None if it names none of them).
    """
    if service == "dynamodb":
        return _check_tables(spec, function, region, f"dynamodb:{operation}", params, operation)
    if service == "apigatewaymanagementapi":
        if function.manages_connections:
            return None
        return Denied(403, "ForbiddenException", "Forbidden", _hint(function, MANAGE_CONNECTIONS))
    if service == "lambda":
        target_name = invoked or str(params.get("FunctionName", ""))
        granted = INVOKE_FUNCTION in function.permissions and invoked in function.invokes
        if operation == "Invoke" and invoked is not None and granted:
            return None
        action = "lambda:InvokeFunction" if operation == "Invoke" else f"lambda:{operation}"
        resource = (
            f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:"
            f"{naming.function_name(spec, invoked) if invoked else target_name}"
        )
        extra = f' and "{invoked}" to its invokes' if invoked else ""
        return Denied(
            403,
            "AccessDeniedException",
            _not_authorized(spec, function, action, resource),
            _hint(function, f'"{INVOKE_FUNCTION}"', extra),
        )
    return None
