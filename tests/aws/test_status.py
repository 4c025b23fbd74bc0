"""`wsctl status`: each resource with its id and state, the endpoint, stored connections, and a
plain word when the stack is absent or partial (exit 1) or deployed (exit 0)."""

from __future__ import annotations

import json

import boto3


def _status(cli, service, *flags):
    return cli("status", "--config", str(service.config), *flags)


def test_absent_stack_exits_1_and_says_so(cli, service, aws):
    """Nothing deployed: exit 1, 'not deployed', and --json says absent."""
    result = _status(cli, service)
    assert result.exit_code == 1
    assert "Stack demo-test in us-east-1 is not deployed" in result.stdout
    data = json.loads(_status(cli, service, "--json").stdout)
    assert data["state"] == "absent" and data["url"] is None and data["connections"] is None


def test_deployed_stack_lists_every_resource_and_counts_connections(cli, service, aws):
    """After `up`: exit 0, JSON only on stdout with each resource present, the URL, and the
    number of items in the connections table."""
    assert cli("up", "--config", str(service.config)).exit_code == 0
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("demo-test-connections")
    for n in range(3):
        table.put_item(Item={"connectionId": f"c{n}"})
    result = _status(cli, service, "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    (api,) = boto3.client("apigatewayv2", region_name="us-east-1").get_apis()["Items"]
    assert data["state"] == "deployed"
    assert data["connections"] == 3
    assert data["apiId"] == api["ApiId"]
    assert data["url"] == f"wss://{api['ApiEndpoint'].removeprefix('https://')}/test"
    kinds = [r["kind"] for r in data["resources"]]
    assert kinds.count("Lambda function") == 2 and kinds.count("route") == 3
    assert kinds.count("invoke permission") == 2 and kinds.count("stage") == 1
    assert {r["state"] for r in data["resources"]} == {"present"}
    assert all(r["id"] for r in data["resources"])
    human = _status(cli, service)
    assert "is deployed" in human.stdout and "3 stored" in human.stdout


def test_partial_stack_exits_1(cli, service, aws, breaker):
    """An `up` that failed half-way leaves a partial stack, and status says so."""
    breaker.arm(8)
    assert cli("up", "--config", str(service.config)).exit_code == 1
    breaker.disarm()
    result = _status(cli, service)
    assert result.exit_code == 1
    assert "partially deployed" in result.stdout
    data = json.loads(_status(cli, service, "--json").stdout)
    assert data["state"] == "partial"
    assert "missing" in {r["state"] for r in data["resources"]}


def test_local_code_change_shows_out_of_date(cli, service, aws):
    """Code edited since the last `up`: exit 0, and the functions are 'out of date (code)'."""
    assert cli("up", "--config", str(service.config)).exit_code == 0
    service.handler.write_text(service.handler.read_text() + "\n# changed\n")
    data = json.loads(_status(cli, service, "--json").stdout)
    assert data["state"] == "out of date"
    states = {r["name"]: r["state"] for r in data["resources"] if r["kind"] == "Lambda function"}
    assert states == {
        "demo-test-chat": "out of date (code)",
        "demo-test-connect": "out of date (code)",
    }


def test_status_of_the_bundled_stack_reads_well_at_80_columns(cli, aws, tmp_path, monkeypatch):
    """The bundled stack, out of date: every line but the URLs (kept whole, to copy) fits 80
    columns, each resource's name is whole on its row, and the drift is named."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    assert cli("up").exit_code == 0
    import boto3

    boto3.client("lambda", region_name="us-east-1").update_function_configuration(
        FunctionName="wsctl-dev-broadcast", MemorySize=1024
    )
    result = cli("status")
    lines = result.stdout.splitlines()
    table = [line for line in lines if "://" not in line]
    assert all(len(line) <= 80 for line in table), max(table, key=len)
    assert any(line.endswith("/dev/@connections") for line in lines)
    rows = [line for line in lines if "wsctl-dev-broadcast" in line]
    names = {
        "Lambda function": "wsctl-dev-broadcast",
        "log group": "/aws/lambda/wsctl-dev-broadcast",
        "invoke permission": "wsctl-dev-broadcast",
    }
    for kind, name in names.items():
        assert any(line.startswith(kind) and f" {name} " in line for line in rows), kind
    (function,) = [line for line in rows if line.startswith("Lambda function")]
    assert function.rstrip().endswith("out of date (memory)")
