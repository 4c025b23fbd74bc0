"""Request and reply: send protocol frames, wait for the replies of the wanted types."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from websockets.exceptions import ConnectionClosed

from wsctl.auth import redact_url
from wsctl.client.connection import close_outcome, open_connection, send_message
from wsctl.client.endpoint import Endpoint
from wsctl.client.handshake import ConnectOptions
from wsctl.client.protocol import json_object
from wsctl.client.replies import reply_problem
from wsctl.errors import WsctlError


async def exchange(
    endpoint: Endpoint,
    options: ConnectOptions,
    frames: Iterable[str],
    wanted: set[str],
    timeout: float,
    *,
    seen: list[dict] | None = None,
) -> dict[str, dict]:
    """Send ``frames`` and return the first reply of each ``wanted`` type, by type.

    Other frames (someone's broadcast, our own broadcast coming back) are skipped, and
    collected in ``seen`` when it is given. An error reply, a close, or ``timeout`` seconds
    without every reply raise ``WsctlError``.
    """
    connection = await open_connection(endpoint, options)
    replies: dict[str, dict] = {}
    try:
        for frame in frames:
            await send_message(connection, frame)
        async with asyncio.timeout(timeout):
            async for message in connection:
                reply = json_object(message)
                if reply is None:
                    continue
                problem = reply_problem(reply)
                if problem:
                    raise WsctlError(f"{redact_url(endpoint.url)}: {problem}")
                kind = reply.get("type")
                if kind in wanted:
                    replies.setdefault(kind, reply)
                elif seen is not None:
                    seen.append(reply)
                if wanted <= replies.keys():
                    return replies
    except TimeoutError:
        missing = ", ".join(sorted(wanted - replies.keys()))
        raise WsctlError(
            f"No {missing} reply from {redact_url(endpoint.url)} within {timeout:g} s "
            "(raise it with --timeout)"
        ) from None
    except ConnectionClosed:
        pass
    finally:
        await connection.close()
    raise WsctlError(f"{close_outcome(connection).describe()} before the service replied")
