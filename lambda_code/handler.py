"""Lambda entry points of the WebSocket service, one per function in wsctl.toml.

- ``connect`` ($connect): checks the token when one is configured, stores the connection.
- ``disconnect`` ($disconnect): deletes the connection's record, best effort.
- ``default`` (send, list, whoami, $default) and ``broadcast``: read the client's frame and
  act on it; every reply goes back through the API Gateway management API. A broadcast to a
  big table is split into segments, each an asynchronous invocation of ``broadcast`` itself
  (``segments.py``; ``FANOUT_SEGMENT_SIZE``, ``FANOUT_ACCOUNT_RPS``).

Environment: ``WSCTL_TABLE`` (the connections table), ``WSCTL_STACK``, optionally
``WSCTL_TOKEN_SHA256`` (hex SHA-256 of the connect token), and AWS's usual region variables.
The same code runs on Lambda and in wsctl's local emulator, which may call these functions
from several threads at once: nothing here keeps per-invocation state at module level.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import api_events
import aws_clients
import connect_auth
import messaging
import segments
from connection_store import ConnectionRecord, ConnectionStore
from service_actions import Service, reply

# Set by wsctl (wsctl/naming.py) on Lambda and in the emulator; this code cannot import wsctl.
TABLE_ENV = "WSCTL_TABLE"
TOKEN_DIGEST_ENV = "WSCTL_TOKEN_SHA256"
# A context without get_remaining_time_in_millis (a direct call, a test) is given Lambda's
# longest for an API Gateway integration.
DEFAULT_REMAINING_MS = 29_000

logger = logging.getLogger("wsctl.service")
if logger.level == logging.NOTSET:
    # Lambda's root logger shows WARNING and above; the service's own lines are INFO.
    logger.setLevel(logging.INFO)


def _ok() -> dict[str, int]:
    return {"statusCode": 200}


def _store() -> ConnectionStore:
    return ConnectionStore(aws_clients.dynamodb(), os.environ[TABLE_ENV])


def connect(event: dict[str, Any], context: Any) -> dict[str, int]:
    connection_id = api_events.connection_id(event)
    if not connect_auth.is_authorized(event, os.environ.get(TOKEN_DIGEST_ENV)):
        logger.warning("connect %s refused: no valid token presented", connection_id)
        return {"statusCode": 401}
    if connection_id is None:
        logger.warning("connect event without a connectionId: refused")
        return {"statusCode": 400}
    caller = api_events.caller(event)
    record = ConnectionRecord(
        connection_id=connection_id,
        connected_at=api_events.connected_at_ms(event),
        source_ip=caller.source_ip if caller else None,
        user_agent=caller.user_agent if caller else None,
    )
    try:
        _store().put(record)
    except Exception:
        # A connection without a record would never receive a broadcast: refuse it instead.
        logger.exception("connect %s: storing the connection failed", connection_id)
        return {"statusCode": 500}
    logger.info("connect %s from %s", connection_id, record.source_ip)
    return _ok()


def disconnect(event: dict[str, Any], context: Any) -> dict[str, int]:
    connection_id = api_events.connection_id(event)
    if connection_id is None:
        return _ok()
    try:
        _store().delete(connection_id)
    except Exception:
        # Best effort, as on AWS: the next broadcast's 410 or the record's ttl cleans it up.
        logger.exception("disconnect %s: deleting the record failed", connection_id)
    else:
        logger.info("disconnect %s", connection_id)
    return _ok()


def _segmented(endpoint: str, context: Any) -> segments.Segments | None:
    """The segmented broadcast for this invocation, or None when it cannot invoke itself."""
    function_name = getattr(context, "function_name", None) or os.environ.get(
        "AWS_LAMBDA_FUNCTION_NAME"
    )
    if not function_name:
        return None
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return segments.Segments(
        store=_store(),
        dynamodb=aws_clients.dynamodb(),
        management_for=aws_clients.management,
        invoke=segments.invoker(aws_clients.lambda_client, function_name),
        remaining_ms=remaining or (lambda: DEFAULT_REMAINING_MS),
        size=segments.segment_size(),
        rps=segments.account_rps(),
    )


def _on_message(
    event: dict[str, Any], context: Any = None, *, segmented: bool = False
) -> dict[str, int]:
    caller = api_events.caller(event)
    endpoint = api_events.management_endpoint(event)
    if caller is None or endpoint is None:
        logger.warning("message event without connectionId, domainName or stage: ignored")
        return _ok()
    try:
        management = aws_clients.management(endpoint)
    except Exception:
        logger.exception("message from %s: no management API client", caller.connection_id)
        return _ok()
    try:
        request = messaging.parse_request(*api_events.body(event))
        service = Service(_store(), management)
        if segmented and isinstance(request, messaging.Broadcast):
            big = _segmented(endpoint, context)
            if big is not None:
                service.segmented = lambda sender, data: big.broadcast(sender, endpoint, data)
        service.perform(caller, request)
    except messaging.ProtocolError as error:
        reply(management, caller, messaging.error_for(error))
    except Exception:
        logger.exception("message from %s failed", caller.connection_id)
        reply(
            management,
            caller,
            messaging.error_frame(
                messaging.INTERNAL, "The service could not handle this message; try again."
            ),
        )
    return _ok()


def default(event: dict[str, Any], context: Any) -> dict[str, int]:
    """send, list, whoami, and anything else a client sends (``$default``)."""
    return _on_message(event)


def broadcast(event: dict[str, Any], context: Any) -> dict[str, int]:
    """The broadcast route, segmented for big tables (segments.py), and the segments' own
    invocations; any other frame reaching it is answered as ``default`` would."""
    if segments.is_job(event):
        # Never raises: an asynchronous invocation that errs is run again by Lambda.
        try:
            job = segments.Job.from_event(event)
            segmented = _segmented(job.endpoint, context)
        except Exception:
            logger.exception("a broadcast segment's event could not be read; dropped")
            return _ok()
        if segmented is None:
            logger.error("segment %s: no function name to continue with; dropped", job.name)
        else:
            segmented.run(job)
        return _ok()
    return _on_message(event, context, segmented=True)
