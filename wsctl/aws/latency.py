"""A model of AWS's control-plane latencies, for the deploy benchmark and its tests (wsctl
itself never loads it). moto answers at once; AWS does not, and on AWS the waits dominate
`up`. The model is botocore event hooks, the seam moto and the strict test layer use, and its
figures are kept here, each with where it comes from and how much reality varies.

Time runs on a clock shared with the deployer (``wsctl.aws.clock.use``): the benchmark's
``ScaledClock`` (a model second lasts ``scale`` real seconds, so steps really overlap), or in
tests a ``VirtualClock``, where calls and waits only move time forward: instant, and
independent of this machine's speed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import botocore.handlers
from botocore.exceptions import ClientError

from wsctl.aws.clock import Clock


@dataclass(frozen=True)
class Figures:
    """Seconds, as AWS takes them; the comments say where each comes from."""

    # Each control-plane call: a TLS round trip to a regional endpoint plus the service's own
    # work; Lambda/IAM/API Gateway calls are typically 50-300 ms from a nearby region (AWS
    # SDK metrics users publish; cross-continent adds 100-200 ms).
    call: float = 0.100
    # A new PAY_PER_REQUEST table is CREATING before ACTIVE: usually 5-10 s, sometimes 20+ s
    # (DynamoDB developer guide, "Creating a table"; Terraform's provider waits up to 30 min).
    table_creating: float = 5.0
    # DeleteTable leaves the table DELETING a similar while (DynamoDB developer guide,
    # "Deleting a table"; hashicorp/terraform-provider-aws PR #3355 retries on it).
    table_deleting: float = 5.0
    # A new function is Pending before Active: a few seconds for a zip function without VPC
    # (Lambda developer guide, "Lambda function states"; up to minutes with VPC networking).
    function_pending: float = 2.0
    # After UpdateFunctionCode/Configuration, LastUpdateStatus is InProgress: about 1 s for a
    # small zip (same guide; ansible-collections/community.aws#830 hit it between two calls).
    update_in_progress: float = 1.0
    # A new role is refused by Lambda ("cannot be assumed") until IAM has propagated it:
    # typically 5-10 s, at worst minutes (IAM user guide, "Changes that I make are not always
    # immediately visible"; chalice retries for up to 150 s: chalice/awsclient.py).
    role_propagation: float = 6.0


FIGURES = Figures()


class ScaledClock:
    """A clock whose seconds last ``scale`` real seconds (``wsctl.aws.clock.Clock``)."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self._origin = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._origin) / self.scale

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) * self.scale)


class Fabricated:
    """What botocore needs of an HTTP response when a before-call hook answers instead."""

    status_code = 200


def client_error(operation: str, code: str, message: str, status: int = 400) -> ClientError:
    """The error AWS would answer, as botocore raises it."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class LatencyModel:
    """The hooks; ``installed()`` puts them on every botocore session made meanwhile."""

    def __init__(self, clock: Clock, figures: Figures = FIGURES) -> None:
        self.clock = clock
        self.figures = figures
        self.calls = 0
        self.seen: dict[str, int] = {}  # modelled behaviour -> times it answered
        self._lock = threading.Lock()
        self._table_ready: dict[str, float] = {}
        self._table_gone: dict[str, tuple[float, dict]] = {}
        self._function_ready: dict[str, tuple[float, str]] = {}
        self._role_ready: dict[str, float] = {}

    @contextlib.contextmanager
    def installed(self) -> Iterator[LatencyModel]:
        hooks = [
            ("before-parameter-build", self._remember_params),
            ("before-call", self._before_call),
            ("after-call", self._after_call),
        ]
        original = list(botocore.handlers.BUILTIN_HANDLERS)
        botocore.handlers.BUILTIN_HANDLERS.extend(hooks)
        try:
            yield self
        finally:
            botocore.handlers.BUILTIN_HANDLERS[:] = original

    def _saw(self, behaviour: str) -> None:
        with self._lock:
            self.seen[behaviour] = self.seen.get(behaviour, 0) + 1

    def _remember_params(self, params, context, **kwargs) -> None:
        context["latency_params"] = dict(params)

    def _before_call(self, model, context, **kwargs):
        with self._lock:
            self.calls += 1
        self.clock.sleep(self.figures.call)
        operation, params = model.name, context.get("latency_params", {})
        now = self.clock.now()
        if model.service_model.service_name == "dynamodb":
            gone = self._table_gone.get(params.get("TableName", ""))
            if gone is not None and now < gone[0]:
                if operation == "DescribeTable":
                    self._saw("table DELETING")
                    return Fabricated(), {"Table": {**gone[1], "TableStatus": "DELETING"}}
                if operation == "CreateTable":
                    raise client_error(
                        operation, "ResourceInUseException", "Table is being deleted"
                    )
        if model.service_model.service_name != "lambda":
            return None
        name = str(params.get("FunctionName", "")).rsplit(":", 1)[-1]
        ready = self._function_ready.get(name)
        if operation.startswith("UpdateFunction") and ready is not None and now < ready[0]:
            self._saw("update refused while in progress")
            raise client_error(
                operation,
                "ResourceConflictException",
                f"The operation cannot be performed at this time. An update is in progress "
                f"for resource: {name}",
                409,
            )
        role = params.get("Role")
        if role in self._role_ready and now < self._role_ready[role]:
            self._saw("role not yet assumable")
            raise client_error(
                operation,
                "InvalidParameterValueException",
                "The role defined for the function cannot be assumed by Lambda.",
            )
        return None

    def _after_call(self, model, parsed, context, **kwargs) -> None:
        operation, params = model.name, context.get("latency_params", {})
        now, figures = self.clock.now(), self.figures
        with self._lock:
            if operation == "CreateTable":
                self._table_ready[params["TableName"]] = now + figures.table_creating
            elif operation == "DeleteTable":
                description = dict(parsed.get("TableDescription", {}))
                self._table_gone[params["TableName"]] = (now + figures.table_deleting, description)
            elif operation == "DescribeTable" and "Table" in parsed:
                if now < self._table_ready.get(params.get("TableName", ""), 0):
                    parsed["Table"]["TableStatus"] = "CREATING"
                    self.seen["table CREATING"] = self.seen.get("table CREATING", 0) + 1
            elif operation == "CreateRole":
                self._role_ready[parsed["Role"]["Arn"]] = now + figures.role_propagation
            elif operation == "CreateFunction":
                name = params["FunctionName"]
                self._function_ready[name] = (now + figures.function_pending, "Pending")
            elif operation in ("UpdateFunctionCode", "UpdateFunctionConfiguration"):
                name = params["FunctionName"]
                self._function_ready[name] = (now + figures.update_in_progress, "InProgress")
            elif operation in ("GetFunction", "GetFunctionConfiguration"):
                name = str(params.get("FunctionName", "")).rsplit(":", 1)[-1]
                ready = self._function_ready.get(name)
                if ready is not None and now < ready[0]:
                    config = parsed.get("Configuration", parsed)
                    if ready[1] == "Pending":
                        config["State"] = "Pending"
                    else:
                        config["LastUpdateStatus"] = "InProgress"
                    self.seen[ready[1]] = self.seen.get(ready[1], 0) + 1
