"""`wsctl up --local --json` and `wsctl status --local` (issue 13): the local stack described
for scripts and people, found from another process, through the CLI."""

from __future__ import annotations

import json

from local_process import up_local

from wsctl.config import CONFIG_FILE, bundled_service_dir, parse_spec_file

STACK = parse_spec_file(bundled_service_dir() / CONFIG_FILE).stack


def test_status_local_without_an_emulator_says_so_and_exits_1(cli):
    """Nothing running here: exit 1 and a line saying how to start it; --json says running
    false; no AWS region is needed."""
    result = cli("status", "--local")
    assert result.exit_code == 1
    assert "is not running on this machine: run 'wsctl up --local'" in result.stdout
    facts = cli("status", "--local", "--json")
    assert (facts.exit_code, json.loads(facts.stdout)) == (1, {"stack": STACK, "running": False})


def test_up_local_json_and_status_local_describe_the_running_emulator(cli, tmp_path):
    """`up --local --json` prints one JSON object once it serves; `status --local` (text and
    --json) in another process finds the same URLs; all keys camelCase."""
    with up_local(STACK, tmp_path, "--json") as running:
        first_line = running.wait_for_output("}\n").splitlines()[0]
        announced = json.loads(first_line)
        text = cli("status", "--local")
        facts = cli("status", "--local", "--json")
    assert announced["url"] == running.record.url
    assert announced["managementUrl"] == running.record.management_url
    assert text.exit_code == 0 and f"WebSocket URL:   {running.record.url}" in text.stdout
    assert facts.exit_code == 0
    status = json.loads(facts.stdout)
    assert (status["running"], status["url"], status["pid"]) == (
        True,
        running.record.url,
        running.record.pid,
    )
    for keys in (announced, status):
        assert not [key for key in keys if "_" in key]


def test_status_without_aws_points_at_status_local_when_the_emulator_runs(
    cli, monkeypatch, tmp_path
):
    """Only the emulator running and no AWS region: `wsctl status` is still a usage error (no
    AWS call is made), and says that `status --local` describes the stack running here."""
    with up_local(STACK, tmp_path):
        monkeypatch.delenv("AWS_DEFAULT_REGION")
        result = cli("status")
    assert result.exit_code == 2
    assert "No AWS region" in result.stderr and "`wsctl status --local`" in result.stderr
    assert result.stderr.count("\n") == 1
