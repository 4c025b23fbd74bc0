"""[tables.NAME] in wsctl.toml: keys, TTL, indexes, retain, functions' tables, ${tables.NAME},
the defaults without [tables], and one line (exit 2) for each mistake."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from wsctl import naming
from wsctl.aws import resources
from wsctl.aws.permissions import deployer_policy
from wsctl.config import IndexSpec, KeySpec, load_spec, parse_spec
from wsctl.errors import ConfigError

HANDLER = """\
def connect(event, context):
    return {"statusCode": 200}


def history(event, context):
    return {"statusCode": 200}
"""

BASE = """\
[stack]
name = "chat"
stage = "dev"

[functions.connect]
handler = "handler.connect"
permissions = ["dynamodb:PutItem"]

[functions.history]
handler = "handler.history"
permissions = ["dynamodb:Query", "dynamodb:PutItem"]
{history}

[routes]
"$connect" = "connect"
"$default" = "history"
"""

TABLES = """\
[tables.connections]
partition_key = "connectionId"
ttl = "ttl"

[tables.messages]
partition_key = "room"
sort_key = { name = "at", type = "N" }
ttl = "expires"
indexes = [{ name = "by_user", partition_key = "user", sort_key = { name = "at" } }]
retain = true
"""

HISTORY = """\
tables = ["messages"]
[functions.history.environment]
MESSAGES_TABLE = "${tables.messages}"
BOTH = "${tables.messages},${tables.connections}"
"""

PLACE = resources.Place("aws", "123456789012", "eu-west-1")


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "lambda_code").mkdir(exist_ok=True)
    (tmp_path / "lambda_code" / "handler.py").write_text(HANDLER)
    (tmp_path / "wsctl.toml").write_text(text)
    return tmp_path / "wsctl.toml"


def spec_of(tmp_path: Path, tables: str = TABLES, history: str = HISTORY, base: str = BASE):
    source = write(tmp_path, tables + base.format(history=history))
    return parse_spec(tomllib.loads(source.read_text()), source)


def error_of(tmp_path: Path, tables: str = TABLES, history: str = HISTORY) -> str:
    with pytest.raises(ConfigError) as caught:
        spec_of(tmp_path, tables, history)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_tables_become_specs_with_keys_ttl_indexes_and_retain(tmp_path):
    """Partition and sort keys with their types, TTL, a GSI and retain land in the spec."""
    messages = spec_of(tmp_path).tables["messages"]
    assert messages.partition_key == KeySpec("room", "S")
    assert messages.sort_key == KeySpec("at", "N")
    assert messages.ttl == "expires" and messages.retain is True
    # The index's sort key without a type takes the type the table declares for "at".
    assert messages.indexes == (IndexSpec("by_user", KeySpec("user", "S"), KeySpec("at", "N")),)
    assert messages.attributes == {"room": "S", "at": "N", "user": "S"}


def test_without_tables_the_stack_has_the_connections_table_as_ever(tmp_path):
    """No [tables]: {stack}-connections keyed connectionId with TTL ttl, in WSCTL_TABLE, and
    every function's dynamodb permissions on it."""
    spec = spec_of(tmp_path, tables="", history="")
    (table,) = spec.tables.values()
    assert (table.name, table.partition_key, table.ttl) == (
        "connections",
        KeySpec("connectionId", "S"),
        "ttl",
    )
    assert all(f.tables == ("connections",) for f in spec.functions.values())
    env = naming.function_environment(spec, spec.functions["history"])
    assert env["WSCTL_TABLE"] == "chat-dev-connections"
    statement = resources.function_policy(spec, spec.functions["history"], PLACE, None)
    table_statement = next(s for s in statement["Statement"] if s["Sid"] == "Table")
    assert table_statement["Resource"] == (
        "arn:aws:dynamodb:eu-west-1:123456789012:table/chat-dev-connections"
    )


def test_the_bundled_service_declares_its_connections_table_as_the_default_is():
    """The bundled wsctl.toml's [tables.connections] is exactly the default table."""
    from wsctl.config import DEFAULT_TABLES

    spec = load_spec(cwd=Path("/nonexistent"))
    assert dict(spec.tables) == DEFAULT_TABLES
    assert all(f.tables == ("connections",) for f in spec.functions.values())


def test_table_references_resolve_to_deployed_names_and_follow_the_stage(tmp_path):
    """${tables.NAME} becomes {stack}-{NAME}, also after --stage changes the stack."""
    spec = spec_of(tmp_path)
    env = naming.function_environment(spec, spec.functions["history"])
    assert env["MESSAGES_TABLE"] == "chat-dev-messages"
    assert env["BOTH"] == "chat-dev-messages,chat-dev-connections"
    prod = spec.with_overrides(stage="prod")
    assert naming.function_environment(prod, prod.functions["history"])["MESSAGES_TABLE"] == (
        "chat-prod-messages"
    )


def test_a_stack_without_a_connections_table_sets_no_wsctl_table(tmp_path):
    """[tables] without connections: no WSCTL_TABLE, and a function must name its tables."""
    messages_only = "[tables.messages]" + TABLES.split("[tables.messages]")[1]
    message = error_of(tmp_path, tables=messages_only, history='tables = ["messages"]')
    assert "[functions.connect] tables: its dynamodb permissions need the tables" in message
    named = BASE.replace('"dynamodb:PutItem"]\n', '"dynamodb:PutItem"]\ntables = ["messages"]\n', 1)
    spec = spec_of(tmp_path, messages_only, 'tables = ["messages"]', base=named)
    assert "WSCTL_TABLE" not in naming.function_environment(spec, spec.functions["history"])


def test_permissions_apply_to_the_named_tables_and_their_indexes_only(tmp_path):
    """history names messages: its DynamoDB actions on that table and its indexes, not on
    connections; connect (no tables) keeps the connections table, without index ARNs."""
    spec = spec_of(tmp_path)
    policy = resources.function_policy(spec, spec.functions["history"], PLACE, None)
    statement = next(s for s in policy["Statement"] if s["Sid"] == "Table")
    arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/chat-dev-messages"
    assert statement["Resource"] == [arn, f"{arn}/index/*"]
    assert statement["Action"] == ["dynamodb:PutItem", "dynamodb:Query"]
    connect = resources.function_policy(spec, spec.functions["connect"], PLACE, None)
    table = next(s for s in connect["Statement"] if s["Sid"] == "Table")
    assert table["Resource"].endswith(":table/chat-dev-connections")


def test_the_deployer_policy_covers_every_table(tmp_path):
    """`wsctl policy` grants its table calls on the stack's tables (by their prefix: those
    removed from wsctl.toml too), and index changes."""
    spec = spec_of(tmp_path)
    statement = next(s for s in deployer_policy(spec)["Statement"] if s["Sid"] == "Table")
    assert statement["Resource"] == "arn:aws:dynamodb:*:*:table/chat-dev-*"
    assert "dynamodb:UpdateTable" in statement["Action"]


@pytest.mark.parametrize(
    ("tables", "history", "expected"),
    [
        (
            TABLES.replace('type = "N"', 'type = "X"'),
            HISTORY,
            "[tables.messages] sort_key 'at': key type 'X' is not supported; use S (string) "
            "or N (number)",
        ),
        (
            TABLES.replace('partition_key = "user"', 'partition_key = { name = "user" }'),
            HISTORY,
            "index 'by_user' partition_key 'user': no attribute definition; give its type",
        ),
        (
            TABLES.replace('sort_key = { name = "at" }', 'sort_key = { name = "at", type = "S" }'),
            HISTORY,
            "sort_key 'at': declared as N elsewhere in this table",
        ),
        (TABLES, 'tables = ["nope"]', "tables: 'nope' is not a table in [tables]"),
        (
            TABLES,
            HISTORY.replace('${tables.messages}"', '${tables.nope}"'),
            "environment MESSAGES_TABLE: ${tables.nope} names no table in [tables]",
        ),
        (TABLES.replace('partition_key = "room"\n', ""), HISTORY, "needs partition_key"),
        (TABLES.replace("retain = true", 'retain = "yes"'), HISTORY, "retain: must be true"),
        (TABLES.replace("retain = true", "stream = true"), HISTORY, "unknown key 'stream'"),
        (TABLES.replace('name = "by_user"', 'name = "x"'), HISTORY, "indexes: each needs a name"),
    ],
)
def test_a_table_mistake_is_one_line(tmp_path, tables, history, expected):
    """Unknown key types, an index key without a definition, conflicting types, a missing
    table, ${tables.nope}...: one line naming the key."""
    assert expected in error_of(tmp_path, tables, history)


def test_a_reference_error_never_shows_the_rest_of_the_value(tmp_path):
    """The error names the reference, not the value around it (values may be secrets)."""
    history = HISTORY.replace('"${tables.messages}"', '"s3cr3t-${tables.nope}"')
    assert "s3cr3t" not in error_of(tmp_path, TABLES, history)


def test_bad_tables_are_a_usage_error_through_the_cli(tmp_path, cli):
    """`wsctl policy --config` with ${tables.nope}: one line on stderr, exit 2."""
    source = write(
        tmp_path,
        TABLES + BASE.format(history='[functions.history.environment]\nXY = "${tables.nope}"'),
    )
    result = cli("policy", "--config", str(source))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "${tables.nope}" in result.stderr
    good = write(tmp_path, TABLES + BASE.format(history=HISTORY))
    assert json.loads(cli("policy", "--config", str(good)).stdout)["Statement"]
