"""A service of one's own, deployed on moto: Lambda environment variables converge (drift
detected and repaired), and their values never reach wsctl's output."""

from __future__ import annotations

import json

import boto3

REGION = "us-east-1"
SECRET = "value-that-must-never-print"


def variables(function: str) -> dict[str, str]:
    lam = boto3.client("lambda", region_name=REGION)
    configuration = lam.get_function(FunctionName=function)["Configuration"]
    return configuration.get("Environment", {}).get("Variables", {})


def test_environment_is_deployed_per_function_and_converges(cli, aws, service):
    """[stack.environment], env_file and [functions.X.environment] become each function's
    variables; a changed value, and a value changed behind wsctl's back, are converged."""
    (service.root / ".env").write_text(f"API_KEY={SECRET}\n")
    service.rewrite(
        'auth = "none"',
        'auth = "none"\nenv_file = ".env"\n\n[stack.environment]\nLOG_LEVEL = "info"',
    )
    service.rewrite("[routes]", '[functions.chat.environment]\nLOG_LEVEL = "debug"\n\n[routes]')
    first = cli("up", "--config", str(service.config))
    assert first.exit_code == 0, first.stderr
    connect, chat = variables("demo-test-connect"), variables("demo-test-chat")
    assert (connect["API_KEY"], connect["LOG_LEVEL"]) == (SECRET, "info")
    assert (chat["API_KEY"], chat["LOG_LEVEL"]) == (SECRET, "debug")
    assert connect["WSCTL_TABLE"] == "demo-test-connections"  # wsctl's own stay
    assert json.loads(connect["WSCTL_ROUTES"]) == ["say"]

    service.rewrite('LOG_LEVEL = "info"', 'LOG_LEVEL = "warning"')
    changed = cli("up", "--config", str(service.config))
    assert changed.exit_code == 0, changed.stderr
    assert variables("demo-test-connect")["LOG_LEVEL"] == "warning"

    # Someone edits the function by hand: the next up puts wsctl.toml's values back.
    boto3.client("lambda", region_name=REGION).update_function_configuration(
        FunctionName="demo-test-chat", Environment={"Variables": {"LOG_LEVEL": "hacked"}}
    )
    repaired = cli("up", "--config", str(service.config))
    assert repaired.exit_code == 0, repaired.stderr
    assert "environment" in repaired.stdout + repaired.stderr  # the drift is reported
    assert variables("demo-test-chat")["LOG_LEVEL"] == "debug"
    assert variables("demo-test-chat")["API_KEY"] == SECRET

    status = cli("status", "--config", str(service.config), "--json")
    for result in (first, changed, repaired, status):
        assert SECRET not in result.stdout + result.stderr
