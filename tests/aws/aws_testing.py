"""Helpers for the AWS deployer tests: a small service of our own, call classification, a
call breaker, and a check that the account holds nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from wsctl.aws.awsclient import is_mutating
from wsctl.config import parse_spec_file

SERVICE_TOML = """\
[stack]
name = "demo"
stage = "test"
region = "us-east-1"
auth = "{auth}"

[functions.connect]
handler = "handler.connect"
memory = 128
timeout = 10
permissions = ["dynamodb:PutItem"]

[functions.chat]
handler = "handler.chat"
memory = 256
timeout = 20
permissions = ["dynamodb:Scan", "dynamodb:DeleteItem", "execute-api:ManageConnections"]

[routes]
"$connect" = "connect"
"$default" = "chat"
say = "chat"
"""

HANDLER = """\
def connect(event, context):
    return {"statusCode": 200}


def chat(event, context):
    return {"statusCode": 200}
"""


@dataclass
class Service:
    """A service directory of our own (wsctl.toml + lambda_code/), independent of the bundle."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "wsctl.toml"

    @property
    def handler(self) -> Path:
        return self.root / "lambda_code" / "handler.py"

    def spec(self):
        return parse_spec_file(self.config)

    def rewrite(self, old: str, new: str) -> None:
        text = self.config.read_text()
        assert old in text
        self.config.write_text(text.replace(old, new))


def write_service(root: Path, auth: str = "none") -> Service:
    (root / "lambda_code").mkdir(parents=True)
    (root / "wsctl.toml").write_text(SERVICE_TOML.format(auth=auth))
    (root / "lambda_code" / "handler.py").write_text(HANDLER)
    return Service(root)


@dataclass
class CallLog:
    """Every AWS operation made while installed, as (service, operation)."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def clear(self) -> None:
        self.calls.clear()

    @property
    def mutating(self) -> list[tuple[str, str]]:
        return [call for call in self.calls if is_mutating(call[1])]

    @property
    def read_only(self) -> list[tuple[str, str]]:
        return [call for call in self.calls if not is_mutating(call[1])]


class Breaker:
    """Makes the k-th mutating AWS call fail (or raise ``exception``) while armed."""

    def __init__(self) -> None:
        self.fail_at: int | None = None
        self.exception: BaseException | None = None
        self.count = 0
        self.failed: tuple[str, str] | None = None

    def arm(self, k: int, exception: BaseException | None = None) -> None:
        self.fail_at, self.exception, self.count, self.failed = k, exception, 0, None

    def disarm(self) -> None:
        self.fail_at = None

    def __call__(self, model, **kwargs):
        if self.fail_at is None or not is_mutating(model.name):
            return
        self.count += 1
        if self.count == self.fail_at:
            self.failed = (model.service_model.service_name, model.name)
            if self.exception is not None:
                raise self.exception
            raise ClientError(
                {
                    "Error": {"Code": "InternalFailure", "Message": "injected failure"},
                    "ResponseMetadata": {"HTTPStatusCode": 500},
                },
                model.name,
            )


def account_leftovers(region: str = "us-east-1", **client_args) -> dict[str, list[str]]:
    """Whatever the account holds in the services wsctl uses (empty dict lists = clean)."""

    def client(name):
        return boto3.client(name, region_name=region, **client_args)

    lambda_ = client("lambda")
    return {
        "tables": client("dynamodb").list_tables()["TableNames"],
        "apis": [api["Name"] for api in client("apigatewayv2").get_apis()["Items"]],
        "roles": [role["RoleName"] for role in client("iam").list_roles()["Roles"]],
        "functions": [f["FunctionName"] for f in lambda_.list_functions()["Functions"]],
        "log_groups": [
            group["logGroupName"] for group in client("logs").describe_log_groups()["logGroups"]
        ],
    }


def assert_account_empty(**client_args) -> None:
    leftovers = account_leftovers(**client_args)
    assert leftovers == {key: [] for key in leftovers}
