"""What wsctl needs at run time (issue 13): moto without its server extras, typer without
pydantic. `up --local` runs moto in-process, so Flask, docker, cfn-lint and the rest of
moto[server] must not be needed; the test extra keeps moto[server] for the tests' own
moto server."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What moto[server] (and typer >= 0.28) add over the runtime dependencies.
SERVER_ONLY = ("flask", "flask_cors", "docker", "cfnlint", "openapi_spec_validator", "jsonschema",
               "graphql", "aws_xray_sdk", "joserfc", "antlr4", "jsonpath_ng", "py_partiql_parser",
               "pydantic")  # fmt: skip

BLOCKED_RUN = """
import importlib.abc, json, sys
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not a runtime dependency")
        return None
BLOCKED = set(%r)
sys.meta_path.insert(0, Blocked())
from wsctl.cli import run
code = run(sys.argv[1:])
print(json.dumps({"code": code}))
"""


def test_runtime_dependencies_name_no_server_extras():
    """pyproject's runtime list has plain moto (no [server]); the test extra keeps it."""
    with (ROOT / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    runtime = project["dependencies"]
    assert any(dep.startswith("moto>=") for dep in runtime), runtime
    assert not any("[server]" in dep for dep in runtime), runtime
    assert any(dep.startswith("moto[server]") for dep in project["optional-dependencies"]["test"])


def test_demo_runs_without_any_server_only_package(tmp_path):
    """`wsctl demo` (the emulator, moto's DynamoDB, three clients) in a fresh interpreter
    where importing any moto[server]-only package, or pydantic, fails."""
    finished = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN % (SERVER_ONLY,), "demo", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert json.loads(finished.stdout.splitlines()[-1]) == {"code": 0}, finished.stderr
    assert "Done in" in finished.stdout


def test_h11_floor_excludes_cve_2025_43859():
    """h11 before 0.16.0 accepts malformed chunked bodies (CVE-2025-43859): the floor is 0.16."""
    with (ROOT / "pyproject.toml").open("rb") as handle:
        runtime = tomllib.load(handle)["project"]["dependencies"]
    (h11,) = [dep for dep in runtime if dep.startswith("h11")]
    floor = h11.split(">=")[1].split(",")[0]
    assert tuple(int(part) for part in floor.split(".")) >= (0, 16)
