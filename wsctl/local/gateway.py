"""The WebSocket data plane: websockets' server with API Gateway's semantics on top.

- ``$connect`` runs during the opening handshake (``process_request``): a non-2xx answer
  refuses it with that status, a raising handler with 500. The connection id exists (and
  can be posted to) only once the handshake has completed.
- Each message is routed (``$request.body.action``) and its function invoked; messages of a
  connection run concurrently, as on AWS, up to a bound that throttles a flooding client
  without holding up anyone else.
- Frame and message limits are websockets' own ``max_size`` (close 1009); a sweeper closes
  idle and too-old connections with 1001.
- ``$disconnect`` runs when a connection ends, with the close code and reason that ended it.
- The same port answers the @connections HTTP API (see ``management``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from rich.markup import escape
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.typing import Subprotocol

from wsctl import auth, sigv4
from wsctl.config import FunctionSpec, ServiceSpec
from wsctl.local import events, hooks, observe, origin
from wsctl.local.authorize import ConnectAuthorizer, refusal_body
from wsctl.local.connections import (
    GOING_AWAY,
    ConnectionsBackend,
    LiveConnection,
    now_ms,
)
from wsctl.local.events import Endpoint, Peer
from wsctl.local.invoke import LocalLambda
from wsctl.local.management import FirstRequest, Verdict
from wsctl.local.quotas import Quotas
from wsctl.local.runtime import FunctionFailed, FunctionHost

API_ID = "wsctllocal"  # 10 characters, like API Gateway's api ids
# The console's page and feed (wsctl.local.console): '@' cannot start a stage name.
CONSOLE_PREFIX = "/@console/"
# Messages of one connection handled at once; a client sending faster waits (TCP backpressure).
MESSAGES_IN_FLIGHT = 16
ABNORMAL = (1006, "Connection closed abnormally")
# A client close frame without a status code: 1005, with the reason API Gateway gives for it.
NO_STATUS_REASON = "Client-side close frame status not set"
# API Gateway does not accept binary frames from clients: it disconnects with 1003.
BINARY_REFUSED = (1003, "Binary frames are not supported")


class GatewayConnection(ServerConnection):
    """A TCP connection on the gateway's port: @connections HTTP request or WebSocket."""

    gateway: Gateway  # set on the per-gateway subclass
    peer: Peer | None = None
    # Set for the console's feed: what serves this socket instead of the stage's routes.
    serve_instead: Callable[[], Awaitable[None]] | None = None
    # The subprotocol the $connect function chose (its Sec-WebSocket-Protocol header).
    chosen_subprotocol: str | None = None

    # $connect said yes: from then on this connection is owed a $disconnect.
    admitted: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        gateway = self.gateway
        self._first: FirstRequest | None = FirstRequest(
            gateway.spec.stage,
            gateway.backend,
            gateway.quotas.message_bytes,
            gateway.check_management_signature if gateway.iam_credentials is not None else None,
        )

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        """websockets' handshake; a connection admitted by $connect that never opened (the
        client left while $connect ran, or before the 101 went out) gets its $disconnect here,
        as no handler will ever run for it."""
        try:
            await super().handshake(*args, **kwargs)
        finally:
            if self.admitted and self.protocol.state is not State.OPEN:
                self.gateway.abandoned(self)

    def data_received(self, data: bytes) -> None:
        if self._first is None:
            super().data_received(data)
            return
        sniffed = self._first.feed(data)
        if sniffed.verdict is Verdict.WAIT:
            return
        self._first = None
        if sniffed.verdict is Verdict.WEBSOCKET:
            super().data_received(sniffed.data)
            return
        # Answered over HTTP: closing the transport ends websockets' handshake wait quietly
        # (no request was seen, so it aborts without logging).
        if sniffed.data:
            self.transport.write(sniffed.data)
        self.transport.close()


class Gateway:
    """One running emulated WebSocket API: server, connections, functions."""

    def __init__(
        self,
        spec: ServiceSpec,
        functions: FunctionHost,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        quotas: Quotas | None = None,
        iam_credentials: Any = None,
        region: str = "us-east-1",
        allow_origins: tuple[str, ...] = (),
        auth_token: str | None = None,
    ) -> None:
        self.spec = spec
        # With auth = "token": given to the console's page (own origin only) to connect with.
        self.auth_token = auth_token
        # With auth = "iam": the caller's own credentials, to check handshake signatures with.
        self.iam_credentials = iam_credentials
        self.region = region
        self.functions = functions
        self.host = host
        self.requested_port = port
        self.quotas = quotas or Quotas()
        self.port = 0
        self.endpoint = Endpoint(API_ID, spec.stage, "")
        self.allow_origins = allow_origins
        self.origins = origin.OriginPolicy(frozenset())
        self.authorizer = ConnectAuthorizer(
            spec,
            functions,
            region=region,
            api_id=API_ID,
            token_digest=auth.token_digest(auth_token) if auth_token else None,
        )
        self.backend: ConnectionsBackend
        self._server: Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._serving: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.backend = ConnectionsBackend(
            loop, self.quotas.message_bytes, self.quotas.write_buffer_bytes
        )
        connection_class = type("BoundGatewayConnection", (GatewayConnection,), {"gateway": self})
        self._server = await serve(
            self._serve,
            self.host,
            self.requested_port,
            process_request=self._connect,
            select_subprotocol=_select_subprotocol,
            create_connection=connection_class,
            compression=None,  # API Gateway negotiates no extension
            ping_interval=None,  # API Gateway answers pings but sends none
            max_size=self.quotas.websocket_max_size,
            server_header=None,
            close_timeout=5,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.endpoint = Endpoint(API_ID, self.spec.stage, f"{self.host}:{self.port}")
        self.origins = origin.OriginPolicy.for_server(self.host, self.port, self.allow_origins)
        hooks.register(self.endpoint.domain_name, self.spec.stage, self.backend)
        self.lambdas = LocalLambda(self, loop)
        hooks.register_lambda(self.lambdas)
        self._sweeper = asyncio.create_task(self._sweep())

    def check_management_signature(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> str | None:
        """With auth = "iam", the @connections API takes SigV4-signed requests only (AWS
        requires execute-api:ManageConnections of a signed caller); why not, else None."""
        check = sigv4.verify_handshake(
            method, target, headers, self.iam_credentials, self.region, body=body
        )
        if check.ok:
            return None
        self.functions.console.print(
            f"[yellow]@connections request refused (AWS_IAM):[/] {escape(check.reason)}",
            highlight=False,
        )
        if not any(name.lower() == "authorization" for name, _ in headers):
            return "Missing Authentication Token"
        return "The request signature we calculated does not match the signature you provided."

    async def close_all(self) -> int:
        """Close every connection with 1001 and wait until each one's $disconnect has run."""
        live = self.backend.live()
        for connection in live:
            self.backend.close(connection, GOING_AWAY)
        await self.settle()
        return len(live)

    async def settle(self) -> None:
        """Wait until connections being closed have finished, $disconnect included."""
        current = asyncio.current_task()
        waiting = {task for task in self._serving if task is not current}
        if waiting:
            await asyncio.wait(waiting)

    async def stop(self) -> int:
        """Close every connection with 1001, run their $disconnect, stop; returns how many."""
        if self._server is None:
            return 0
        if self._sweeper is not None:
            self._sweeper.cancel()
        closed = await self.close_all()
        self._server.close(close_connections=True)
        await self._server.wait_closed()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        hooks.unregister(self.endpoint.domain_name, self.spec.stage)
        hooks.unregister_lambda(self.lambdas)
        self._server = None
        return closed

    # $connect ------------------------------------------------------------------------------
    async def _connect(self, websocket: ServerConnection, request: Request) -> Response | None:
        assert isinstance(websocket, GatewayConnection)
        path, _, query = request.path.partition("?")
        if path == "/" or path.startswith(CONSOLE_PREFIX):
            from wsctl.local import console  # only once someone opens the console

            return console.answer(self, websocket, request)
        if path.rstrip("/") != f"/{self.spec.stage}":
            return websocket.respond(http.HTTPStatus.FORBIDDEN, '{"message":"Forbidden"}')
        page = _origin(request)
        if not self.origins.handshake_allowed(page):
            self.functions.console.print(
                f"[yellow]Handshake refused (403):[/] a web page from {escape(page or '?')} "
                "may not connect (allow it with up --local --allow-origin).",
                highlight=False,
            )
            return websocket.respond(http.HTTPStatus.FORBIDDEN, '{"message":"Forbidden"}')
        remote = websocket.remote_address
        peer = Peer(
            connection_id=events.new_id(),
            connected_at=now_ms(),
            source_ip=remote[0] if remote else "127.0.0.1",
            # Repeated, a header's values combine with commas (RFC 9110, 5.3); .get() raises.
            user_agent=", ".join(request.headers.get_all("User-Agent")) or None,
        )
        websocket.peer = peer
        if self.iam_credentials is not None:
            check = sigv4.verify_handshake(
                "GET", request.path, request.headers.raw_items(), self.iam_credentials, self.region
            )
            if not check.ok:
                self.functions.console.print(
                    f"[yellow]Handshake refused (AWS_IAM):[/] {escape(check.reason)}",
                    highlight=False,
                )
                return websocket.respond(http.HTTPStatus.FORBIDDEN, '{"message":"Forbidden"}')
        request_id = events.new_id()
        headers = events.connect_headers(
            request.headers.raw_items(), peer.source_ip, peer.connected_at
        )
        event = events.connect_event(
            self.endpoint, peer, headers, query, request_id=request_id, now_ms=peer.connected_at
        )
        decision = await self.authorizer.check(event)
        if decision is not None:
            if not decision.allowed:
                if decision.reason:
                    self.functions.console.print(
                        f"[yellow]Handshake refused ({decision.status}):[/] "
                        f"{escape(decision.reason)}",
                        highlight=False,
                    )
                return websocket.respond(decision.status, refusal_body(decision.status))
            # Every event of this connection carries what the authorizer allowed it with.
            peer = dataclasses.replace(peer, authorizer=decision.context)
            websocket.peer = peer
            event["requestContext"]["authorizer"] = dict(decision.context)
        function_name = self.spec.routes.get(events.CONNECT)
        if function_name is None:
            return None
        try:
            result = await self._integrate(self.spec.functions[function_name], event, request_id)
        except FunctionFailed:
            return websocket.respond(http.HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error")
        except IntegrationTimeout:
            return websocket.respond(
                http.HTTPStatus.GATEWAY_TIMEOUT, json.dumps({"message": events.TIMED_OUT})
            )
        websocket.chosen_subprotocol = events.selected_subprotocol(result)
        status = events.connect_status(result)
        if 200 <= status < 300:
            websocket.admitted = True
            return None
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:  # a status Python has no name for: API Gateway would answer 502
            return websocket.respond(http.HTTPStatus.BAD_GATEWAY, "Bad Gateway")
        return websocket.respond(status, events.connect_refusal_body(result, status, phrase))

    # Messages ------------------------------------------------------------------------------
    async def _serve(self, websocket: ServerConnection) -> None:
        assert isinstance(websocket, GatewayConnection)
        if websocket.serve_instead is not None:
            await websocket.serve_instead()
            return
        assert websocket.peer is not None
        connection = LiveConnection(websocket.peer, websocket)
        self.backend.add(connection)
        observers = self.functions.observers
        if observers:
            observers.emit(observe.Connected(connection.peer))
        this = asyncio.current_task()
        assert this is not None
        self._serving.add(this)
        in_flight = asyncio.Semaphore(MESSAGES_IN_FLIGHT)
        try:
            while True:
                try:
                    message = await websocket.recv()
                except ConnectionClosed:
                    break
                connection.touch()
                if isinstance(message, bytes):
                    self.backend.close(connection, BINARY_REFUSED)
                    await websocket.wait_closed()  # nothing after it is routed, as on AWS
                    break
                await in_flight.acquire()
                task = asyncio.create_task(self._message(connection, message))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                task.add_done_callback(lambda _: in_flight.release())
        finally:
            self.backend.remove(connection)
            code, reason = _close_status(connection)
            if observers:
                observers.emit(observe.Disconnected(connection.connection_id, code, reason))
            try:
                await self._disconnect(connection, code, reason)
            finally:
                self._serving.discard(this)

    async def _message(self, connection: LiveConnection, message: str | bytes) -> None:
        peer = connection.peer
        route = events.select_route(self.spec.routes, message if isinstance(message, str) else None)
        request_id = events.new_id()
        if route is None:
            self._gateway_error(connection, events.FORBIDDEN, request_id)
            return
        event = events.message_event(
            self.endpoint, peer, route, message, request_id=request_id, now_ms=now_ms()
        )
        spec = self.spec  # the route's configuration, even if a reload swaps it meanwhile
        function = spec.function_for_route(route)
        try:
            result = await self._integrate(function, event, request_id)
        except FunctionFailed:
            self._gateway_error(connection, events.INTERNAL_SERVER_ERROR, request_id)
            return
        except IntegrationTimeout:
            self._gateway_error(connection, events.TIMED_OUT, request_id)
            return
        if route in spec.respond_routes:
            # A two-way route: the proxy response's body goes back as one frame (one-way
            # routes discard it, as API Gateway does without a route response).
            reply = events.route_response(result)
            if reply is not None:
                with contextlib.suppress(Exception):
                    self.backend.post(
                        connection.connection_id,
                        reply.encode("utf-8") if isinstance(reply, str) else reply,
                    )

    async def _integrate(self, function: FunctionSpec, event: dict, request_id: str) -> Any:
        """Invoke as API Gateway's integration does: it waits at most the integration timeout
        (29 s) whatever the function's own; the function itself runs on to its end."""
        limit = self.quotas.integration_timeout
        if function.timeout <= limit:
            return await self.functions.invoke(function, event, request_id)
        task = asyncio.ensure_future(self.functions.invoke(function, event, request_id))
        try:
            return await asyncio.wait_for(asyncio.shield(task), limit)
        except TimeoutError:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(_quietly)
            raise IntegrationTimeout(function.name) from None

    def _gateway_error(self, connection: LiveConnection, message: str, request_id: str) -> None:
        frame = events.gateway_error_frame(message, connection.connection_id, request_id)
        with contextlib.suppress(Exception):
            self.backend.post(connection.connection_id, frame.encode("utf-8"))

    # $disconnect ---------------------------------------------------------------------------
    async def _disconnect(self, connection: LiveConnection, code: int, reason: str) -> None:
        function_name = self.spec.routes.get(events.DISCONNECT)
        if function_name is None:
            return
        request_id = events.new_id()
        event = events.disconnect_event(
            self.endpoint, connection.peer, code, reason, request_id=request_id, now_ms=now_ms()
        )
        with contextlib.suppress(FunctionFailed, IntegrationTimeout):
            await self._integrate(self.spec.functions[function_name], event, request_id)

    def abandoned(self, websocket: GatewayConnection) -> None:
        """A connection $connect admitted ended before it opened: it still gets $disconnect."""
        assert websocket.peer is not None
        connection = LiveConnection(websocket.peer, websocket)
        task = asyncio.get_running_loop().create_task(
            self._disconnect(connection, *ABNORMAL), name="wsctl-abandoned"
        )
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    # Timers --------------------------------------------------------------------------------
    async def _sweep(self) -> None:
        quotas = self.quotas
        while True:
            await asyncio.sleep(quotas.sweep_interval)
            now = time.monotonic()
            for connection in self.backend.live():
                if connection.closed_by_gateway is not None:
                    continue
                too_old = now - connection.opened >= quotas.max_lifetime
                idle = now - connection.last_active >= quotas.idle_timeout
                if too_old or idle:
                    self.backend.close(connection, GOING_AWAY)


class IntegrationTimeout(Exception):
    """The function did not answer within API Gateway's integration timeout."""


def _quietly(task: asyncio.Future[Any]) -> None:
    """Retrieve a finished background invocation's outcome (its failure is already reported)."""
    if not task.cancelled():
        task.exception()


def _select_subprotocol(
    connection: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    """The subprotocol $connect's answer named, when the client offered it (as AWS relays it);
    otherwise none, so a client offering subprotocols still connects."""
    chosen = getattr(connection, "chosen_subprotocol", None)
    return Subprotocol(chosen) if chosen is not None and chosen in offered else None


def _origin(request: Request) -> str | None:
    """The handshake's Origin; several (no browser sends that) count as a foreign one."""
    values = request.headers.get_all("Origin")
    if len(values) > 1:
        return "several origins"
    return values[0] if values else None


def _close_status(connection: LiveConnection) -> tuple[int, str]:
    """The close code and reason $disconnect reports, by who ended the connection and how."""
    if connection.closed_by_gateway is not None:
        return connection.closed_by_gateway
    protocol = connection.websocket.protocol
    received, sent = protocol.close_rcvd, protocol.close_sent
    if received is not None and (sent is None or protocol.close_rcvd_then_sent):
        if received.code == CloseCode.NO_STATUS_RCVD:
            return received.code, NO_STATUS_REASON
        return received.code, received.reason
    if sent is not None:
        return sent.code, sent.reason
    return ABNORMAL
