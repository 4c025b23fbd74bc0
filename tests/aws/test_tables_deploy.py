"""[tables.NAME] deployed on moto through the CLI: created with the stack's tag, on-demand,
with keys, TTL and indexes; converged in place both ways (TTL, indexes); a key change
refused; `down` keeps retained tables and says so; `status` lists every table; functions'
policies scoped to the tables they name."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.tables_chat import CHAT_HANDLER, CHAT_TOML

REGION = "us-east-1"
TABLES = """
[tables.connections]
partition_key = "connectionId"
ttl = "ttl"

[tables.messages]
partition_key = "room"
sort_key = { name = "at", type = "N" }
ttl = "expires"
indexes = [{ name = "by_user", partition_key = "user" }]

[tables.archive]
partition_key = { name = "day", type = "N" }
retain = true

[functions.connect]"""


def ddb():
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def tables_service(service):
    """The test service with three tables; chat names messages and reads its name from an
    environment variable of its own choosing."""
    service.rewrite("\n[functions.connect]", TABLES)
    service.rewrite(
        'permissions = ["dynamodb:Scan", "dynamodb:DeleteItem", "execute-api:ManageConnections"]',
        'tables = ["messages"]\npermissions = ["dynamodb:Query", "dynamodb:PutItem", '
        '"execute-api:ManageConnections"]\n'
        '[functions.chat.environment]\nmessages_table = "${tables.messages}"',
    )
    return service


def up(cli, service):
    result = cli("up", "--config", str(service.config))
    assert result.exit_code == 0, result.stderr
    return result


def ttl_of(name: str) -> str | None:
    described = ddb().describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    return described.get("AttributeName") if described["TimeToLiveStatus"] == "ENABLED" else None


def test_up_creates_every_table_as_wsctl_toml_declares_it(cli, aws, tables_service):
    """Each table: {stack}-{NAME}, the stack's tag, PAY_PER_REQUEST, its keys and types, TTL,
    its GSI; the function's variable holds the deployed name."""
    up(cli, tables_service)
    assert sorted(ddb().list_tables()["TableNames"]) == [
        "demo-test-archive",
        "demo-test-connections",
        "demo-test-messages",
    ]
    table = ddb().describe_table(TableName="demo-test-messages")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [
        {"AttributeName": "room", "KeyType": "HASH"},
        {"AttributeName": "at", "KeyType": "RANGE"},
    ]
    assert {"AttributeName": "at", "AttributeType": "N"} in table["AttributeDefinitions"]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_user"
    assert index["KeySchema"] == [{"AttributeName": "user", "KeyType": "HASH"}]
    tags = ddb().list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert {"Key": "wsctl:stack", "Value": "demo-test"} in tags
    assert ttl_of("demo-test-messages") == "expires"
    assert ttl_of("demo-test-archive") is None
    lam = boto3.client("lambda", region_name=REGION)
    env = lam.get_function(FunctionName="demo-test-chat")["Configuration"]["Environment"]
    assert env["Variables"]["messages_table"] == "demo-test-messages"


def test_a_function_is_granted_its_own_tables_and_their_indexes_only(cli, aws, tables_service):
    """chat names messages: its role's DynamoDB statement covers that table and its indexes,
    not connections or archive; connect (no tables) keeps the connections table."""
    up(cli, tables_service)
    iam = boto3.client("iam")
    chat = iam.get_role_policy(RoleName="demo-test-chat", PolicyName="wsctl")["PolicyDocument"]
    (table,) = [s for s in chat["Statement"] if s["Sid"] == "Table"]
    arn = f"arn:aws:dynamodb:{REGION}:123456789012:table/demo-test-messages"
    assert table["Resource"] == [arn, f"{arn}/index/*"]
    connect = iam.get_role_policy(RoleName="demo-test-connect", PolicyName="wsctl")
    (table,) = [s for s in connect["PolicyDocument"]["Statement"] if s["Sid"] == "Table"]
    assert table["Resource"].endswith(":table/demo-test-connections")


def test_ttl_and_indexes_converge_in_place_both_ways(cli, aws, tables_service, virtual_clock):
    """Adding an index and moving TTL are applied to the same table (its items stay): the
    move takes two ups an hour apart, as DynamoDB takes one TTL change an hour (the first
    says so in one line); then removing the index and TTL is applied too."""
    up(cli, tables_service)
    ddb().put_item(TableName="demo-test-messages", Item={"room": {"S": "r"}, "at": {"N": "1"}})
    virtual_clock.sleep(3601)  # past the hour (float sums of the clock round)
    tables_service.rewrite(
        'indexes = [{ name = "by_user", partition_key = "user" }]',
        'indexes = [{ name = "by_user", partition_key = "user" },\n'
        '           { name = "by_kind", partition_key = "kind", sort_key = { name = "at" } }]',
    )
    tables_service.rewrite('ttl = "expires"', 'ttl = "gone_at"')
    halfway = cli("up", "--config", str(tables_service.config))
    assert halfway.exit_code == 1
    assert "DynamoDB takes one TTL change per table an hour" in halfway.stderr
    table = ddb().describe_table(TableName="demo-test-messages")["Table"]
    assert sorted(i["IndexName"] for i in table["GlobalSecondaryIndexes"]) == [
        "by_kind",
        "by_user",
    ]
    assert ttl_of("demo-test-messages") is None  # switched off: the first half of the move
    virtual_clock.sleep(3601)  # past the hour (float sums of the clock round)
    up(cli, tables_service)
    assert ttl_of("demo-test-messages") == "gone_at"

    virtual_clock.sleep(3601)  # past the hour (float sums of the clock round)
    tables_service.rewrite(
        'indexes = [{ name = "by_user", partition_key = "user" },\n'
        '           { name = "by_kind", partition_key = "kind", sort_key = { name = "at" } }]',
        "",
    )
    tables_service.rewrite('ttl = "gone_at"\n', "")
    up(cli, tables_service)
    table = ddb().describe_table(TableName="demo-test-messages")["Table"]
    assert not table.get("GlobalSecondaryIndexes")
    assert ttl_of("demo-test-messages") is None
    assert ddb().scan(TableName="demo-test-messages")["Count"] == 1

    again = cli("status", "--config", str(tables_service.config), "--json")
    assert json.loads(again.stdout)["state"] == "deployed"


def test_an_index_whose_key_changed_is_replaced_one_change_at_a_time(
    cli, aws, tables_service, call_log, strict
):
    """by_user keyed on another attribute: deleted, then created, each its own UpdateTable,
    each waited for (the strict layer reports the index DELETING, then CREATING, and would
    refuse an UpdateTable meanwhile)."""
    up(cli, tables_service)
    tables_service.rewrite('partition_key = "user" }', 'partition_key = "author" }')
    call_log.clear()
    up(cli, tables_service)
    assert call_log.calls.count(("dynamodb", "UpdateTable")) == 2
    assert strict.seen.get("DescribeTable index DELETING", 0) >= 1
    assert strict.seen.get("DescribeTable index CREATING", 0) >= 1
    assert "UpdateTable while UPDATING" not in strict.seen
    (index,) = ddb().describe_table(TableName="demo-test-messages")["Table"][
        "GlobalSecondaryIndexes"
    ]
    assert index["KeySchema"] == [{"AttributeName": "author", "KeyType": "HASH"}]


def test_a_key_change_is_refused_in_one_line_and_changes_nothing(cli, aws, tables_service):
    """A new sort key type needs a new table: up says so and exits 1, before any change."""
    up(cli, tables_service)
    tables_service.rewrite('sort_key = { name = "at", type = "N" }', 'sort_key = "at"')
    tables_service.rewrite("memory = 256", "memory = 512")
    refused = cli("up", "--config", str(tables_service.config))
    assert refused.exit_code == 1
    (error,) = [line for line in refused.stderr.splitlines() if line.startswith("Error:")]
    assert "demo-test-messages" in error and "needs a new table" in error
    assert "room (S) + at (N)" in error and "room (S) + at (S)" in error
    lam = boto3.client("lambda", region_name=REGION)
    assert lam.get_function(FunctionName="demo-test-chat")["Configuration"]["MemorySize"] == 256


def test_down_deletes_the_tables_but_keeps_a_retained_one_and_says_so(cli, aws, tables_service):
    """retain = true: down keeps demo-test-archive (and names it); the others are gone."""
    up(cli, tables_service)
    result = cli("down", "--config", str(tables_service.config), "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert "Keeping table demo-test-archive (retain = true" in result.stderr
    assert json.loads(result.stdout)["kept"] == [
        {"kind": "DynamoDB table", "name": "demo-test-archive"}
    ]
    assert ddb().list_tables()["TableNames"] == ["demo-test-archive"]


def test_status_lists_every_table_with_key_items_and_state(cli, aws, tables_service):
    """status --json has each table's deployed name, key, item count and state; a table not
    created yet is 'missing'."""
    up(cli, tables_service)
    tables_service.rewrite(
        "[functions.connect]", '[tables.extra]\npartition_key = "id"\n\n[functions.connect]'
    )
    found = cli("status", "--config", str(tables_service.config), "--json")
    rows = {row["name"]: row for row in json.loads(found.stdout)["tables"]}
    assert rows["demo-test-messages"]["key"] == "room (S) + at (N)"
    assert rows["demo-test-messages"]["state"] == "ACTIVE"
    assert rows["demo-test-messages"]["items"] == 0
    assert rows["demo-test-extra"] == {
        "name": "demo-test-extra",
        "key": "id (S)",
        "items": None,
        "state": "missing",
    }
    plain = cli("status", "--config", str(tables_service.config))
    assert "demo-test-archive" in plain.stdout and "day (N)" in plain.stdout


def test_a_table_removed_from_wsctl_toml_is_kept_by_up_and_deleted_by_down(
    cli, aws, tables_service
):
    """Tables hold data: up leaves a table gone from wsctl.toml (status says so); down,
    which finds it by the stack's tag, deletes it."""
    up(cli, tables_service)
    tables_service.rewrite(
        '[tables.archive]\npartition_key = { name = "day", type = "N" }\nretain = true\n', ""
    )
    up(cli, tables_service)
    assert "demo-test-archive" in ddb().list_tables()["TableNames"]
    found = json.loads(cli("status", "--config", str(tables_service.config), "--json").stdout)
    rows = {row["name"]: row["state"] for row in found["tables"]}
    assert rows["demo-test-archive"] == "ACTIVE (not in wsctl.toml)"
    assert cli("down", "--config", str(tables_service.config), "--yes").exit_code == 0
    assert ddb().list_tables()["TableNames"] == []


def test_the_chat_service_written_for_aws_deploys_unchanged(cli, aws, tmp_path):
    """The chat service the emulator runs (tests/tables_chat.py) deploys on moto as it is:
    its tables, table_name holding the sessions table's deployed name, each role scoped to
    the tables its function names."""
    root = tmp_path / "chat"
    (root / "lambda_code").mkdir(parents=True)
    (root / "wsctl.toml").write_text(CHAT_TOML)
    (root / "lambda_code" / "handler.py").write_text(CHAT_HANDLER)
    result = cli("up", "--config", str(root / "wsctl.toml"), "--region", REGION)
    assert result.exit_code == 0, result.stderr
    assert sorted(ddb().list_tables()["TableNames"]) == ["chat-test-messages", "chat-test-sessions"]
    sessions = ddb().describe_table(TableName="chat-test-sessions")["Table"]
    assert sessions["KeySchema"] == [{"AttributeName": "connection_id", "KeyType": "HASH"}]
    assert ttl_of("chat-test-sessions") == "expires_at"
    lam = boto3.client("lambda", region_name=REGION)
    env = lam.get_function(FunctionName="chat-test-connect")["Configuration"]["Environment"]
    assert env["Variables"]["table_name"] == "chat-test-sessions"
    assert "WSCTL_TABLE" not in env["Variables"]  # the stack has no connections table
    policy = boto3.client("iam").get_role_policy(RoleName="chat-test-history", PolicyName="wsctl")
    (table,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == "Table"]
    arn = f"arn:aws:dynamodb:{REGION}:123456789012:table/chat-test-messages"
    assert table["Resource"] == [arn, f"{arn}/index/*"]
