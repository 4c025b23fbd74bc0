"""The environment wsctl gives each function: the user's variables, then wsctl's own."""

from __future__ import annotations

import json
from pathlib import Path

from wsctl import naming
from wsctl.config import FunctionSpec, ServiceSpec


def spec(routes: dict[str, str], **env: str) -> ServiceSpec:
    functions = {
        "connect": FunctionSpec("connect", "handler.connect", environment=dict(env)),
        "default": FunctionSpec("default", "handler.default"),
    }
    return ServiceSpec("chat", "dev", Path("/code"), functions, routes)


def test_user_variables_and_wsctls_own_and_the_routes():
    """A function's own variables, the table and stack names, and the custom route keys."""
    service = spec({"$connect": "connect", "$default": "default", "hi": "default"}, LEVEL="x")
    env = naming.function_environment(service, service.functions["connect"])
    assert env["LEVEL"] == "x"
    assert env[naming.TABLE_ENV] == "chat-dev-connections"
    assert json.loads(env[naming.ROUTES_ENV]) == ["hi"]
    assert "LEVEL" not in naming.function_environment(service, service.functions["default"])


def test_the_token_digest_goes_to_the_connect_function_only():
    """WSCTL_TOKEN_SHA256 reaches $connect's function and no other."""
    service = spec({"$connect": "connect", "$default": "default"})
    assert (
        naming.function_environment(service, service.functions["connect"], "d")[
            naming.TOKEN_DIGEST_ENV
        ]
        == "d"
    )
    assert naming.TOKEN_DIGEST_ENV not in naming.function_environment(
        service, service.functions["default"], "d"
    )


def test_too_many_routes_leave_the_routes_variable_out():
    """A route list too long for Lambda's 4 KB is omitted (the service names its own)."""
    routes = {f"route-{i:03d}": "default" for i in range(100)} | {"$default": "default"}
    env = naming.function_environment(spec(routes), spec(routes).functions["default"])
    assert naming.ROUTES_ENV not in env
