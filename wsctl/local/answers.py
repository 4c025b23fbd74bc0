"""Responses for botocore ``before-call`` hooks: what botocore would have received and parsed."""

from __future__ import annotations

import io
from typing import Any

from botocore.awsrequest import AWSResponse


class _Body(io.BytesIO):
    """What AWSResponse reads ``content`` from, should an ``after-call`` handler ask."""

    def stream(self, **_: Any):
        yield self.getvalue()


def answer(url: str, status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    """An in-process answer: botocore skips HTTP, signing and parsing and uses ``parsed``."""
    parsed["ResponseMetadata"] = {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0}
    return AWSResponse(url, status, {}, _Body(b"")), parsed
