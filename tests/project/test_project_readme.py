"""The README that `wsctl init` writes: its examples work as written (a two-way route, a reply
posted through the management API, an environment variable, the example authorizer), and the
generated authorizer test passes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from wsctl.config import CONFIG_FILE, parse_spec_file
from wsctl.local import LocalService


def blocks(readme: str) -> dict[str, str]:
    """The README's fenced blocks, by their first line's '# ...' marker."""
    found = {}
    for body in re.findall(r"```(?:python|toml)\n(.*?)```", readme, re.S):
        first, _, rest = body.partition("\n")
        found[first.lstrip("# ").strip()] = rest
    return found


@pytest.fixture
def service(cli, tmp_path) -> Path:
    target = tmp_path / "chat"
    assert cli("init", str(target)).exit_code == 0
    return target


def apply_readme(service: Path, *, authorizer: bool) -> dict[str, str]:
    """Make the README's edits: hello.py, the functions before [routes], the routes after."""
    examples = blocks((service / "README.md").read_text())
    (service / "lambda_code" / "hello.py").write_text(examples["lambda_code/hello.py"])
    config = service / CONFIG_FILE
    functions = examples["wsctl.toml: functions"]
    if authorizer:
        functions += "\n" + examples["wsctl.toml: authorizer"].split("[authorizer]")[0]
    text = config.read_text().replace("[routes]", functions + "\n[routes]")
    text += examples["wsctl.toml: routes"]
    if authorizer:
        text = text.replace('auth = "none"', 'auth = "custom"\nenv_file = ".env"')
        text += "\n[authorizer]" + examples["wsctl.toml: authorizer"].split("[authorizer]")[1]
        (service / ".env").write_text("AUTH_SECRET=readme-secret\n")
    config.write_text(text)
    return examples


def test_the_readme_replies_both_ways_with_an_environment_variable(service):
    """hello (two-way) answers with its body; hello-later posts GREETING from its environment."""
    apply_readme(service, authorizer=False)
    spec = parse_spec_file(service / CONFIG_FILE)
    with LocalService(spec) as running, connect(running.url, open_timeout=10) as ws:
        ws.send(json.dumps({"action": "hello", "name": "ann"}))
        assert json.loads(ws.recv(timeout=10)) == {"greeting": "hello, ann"}
        ws.send(json.dumps({"action": "hello-later"}))
        assert json.loads(ws.recv(timeout=10)) == {"greeting": "hi there"}


def test_the_readme_authorizer_admits_tokens_it_signed_only(service):
    """With the README's authorizer enabled: no token 401; a token from authorizer.py's own
    command line connects and is served."""
    apply_readme(service, authorizer=True)
    made = subprocess.run(
        [sys.executable, "lambda_code/authorizer.py", "ann"],
        cwd=service,
        env={"AUTH_SECRET": "readme-secret", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = made.stdout.strip()
    with LocalService(parse_spec_file(service / CONFIG_FILE)) as running:
        with pytest.raises(InvalidStatus) as refused:
            connect(running.url, open_timeout=10)
        assert refused.value.response.status_code == 401
        with connect(f"{running.url}?token={token}", open_timeout=10) as ws:
            ws.send(json.dumps({"action": "hello", "name": "ann"}))
            assert json.loads(ws.recv(timeout=10)) == {"greeting": "hello, ann"}


def test_the_generated_authorizer_test_passes(service):
    """tests/test_authorizer.py, as init writes it, passes under pytest."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_authorizer.py",
        ],
        cwd=service,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 passed" in result.stdout
