"""WebSocket servers on 127.0.0.1 that record what wsctl's client sends them, each in a thread
with its own event loop (the CLI under test is synchronous), and throwaway TLS certificates."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import itertools
import json
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode

DATA_OPCODES = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)
WAIT_LIMIT = 10.0


@dataclass
class Recorded:
    """What a server saw: handshakes, whole messages, and each data frame's size."""

    headers: list[dict[str, str]] = field(default_factory=list)
    subprotocols: list[str | None] = field(default_factory=list)
    messages: list[str | bytes] = field(default_factory=list)
    frame_sizes: list[list[int]] = field(default_factory=list)  # per message, each frame
    pongs: list[bytes] = field(default_factory=list)  # payloads of the pongs received


class RecordingConnection(ServerConnection):
    """Records every data frame's payload size, to show how messages were fragmented."""

    recorded: Recorded

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PONG:
            self.recorded.pongs.append(bytes(event.data))
        if isinstance(event, Frame) and event.opcode in DATA_OPCODES:
            if event.opcode is not Opcode.CONT:
                self.recorded.frame_sizes.append([])
            self.recorded.frame_sizes[-1].append(len(event.data))
        super().process_event(event)


Behaviour = Callable[[ServerConnection, str | bytes], Any]


async def echo(connection: ServerConnection, message: str | bytes) -> None:
    await connection.send(message)


def closing_after(count: int, behaviour: Behaviour = echo) -> Behaviour:
    """``behaviour`` for the first ``count`` messages of a connection, then a close (1000): a
    client waiting for replies ends at the close, so a test gives it a generous --wait
    without racing one."""
    seen: dict[int, int] = {}

    async def closing(connection: ServerConnection, message: str | bytes) -> None:
        await behaviour(connection, message)
        seen[id(connection)] = seen.get(id(connection), 0) + 1
        if seen[id(connection)] >= count:
            await connection.close()

    return closing


echo_then_close = closing_after(1)


async def silent(connection: ServerConnection, message: str | bytes) -> None:
    return None


def close_with(code: int, reason: str) -> Behaviour:
    """Closes the connection with ``code`` on the first message."""

    async def behaviour(connection: ServerConnection, message: str | bytes) -> None:
        await connection.close(code, reason)

    return behaviour


def fake_service(*, ack: bool = True, error: dict[str, Any] | None = None) -> Behaviour:
    """A stand-in for the service's protocol (DESIGN.md section 1), for what the client does
    with replies; the real service is tested through the local emulator."""
    ids = itertools.count(1)
    names: dict[ServerConnection, str] = {}

    async def behaviour(connection: ServerConnection, message: str | bytes) -> None:
        me = names.setdefault(connection, f"conn-{next(ids)}")
        if error is not None:
            await connection.send(json.dumps(error))
            return
        request = json.loads(message)
        action = request.get("action")
        if action == "broadcast":
            await connection.send(
                json.dumps(
                    {"type": "broadcast", "from": me, "message": request["message"], "at": 1}
                )
            )
            if ack:
                await connection.send(
                    json.dumps(
                        {
                            "type": "ack",
                            "action": "broadcast",
                            "delivered": 3,
                            "gone": 1,
                            "failed": 0,
                        }
                    )
                )
        elif action == "list":
            connections = [
                {
                    "connectionId": "conn-old",
                    "connectedAt": 1_700_000_000_000,
                    "sourceIp": "10.0.0.9",
                    "userAgent": "other",
                },
                {
                    "connectionId": me,
                    "connectedAt": 1_800_000_000_000,
                    "sourceIp": "127.0.0.1",
                    "userAgent": "wsctl",
                },
            ]
            await connection.send(
                json.dumps({"type": "connections", "count": 2, "connections": connections})
            )
        elif action == "whoami":
            await connection.send(
                json.dumps(
                    {
                        "type": "whoami",
                        "connectionId": me,
                        "connectedAt": 1_800_000_000_000,
                        "sourceIp": "127.0.0.1",
                    }
                )
            )

    return behaviour


class RecordingServer:
    """A plain websockets server on 127.0.0.1, port 0, in its own thread.

    ``/status/NNN`` paths refuse the handshake with that status and a body, like a
    ``$connect`` that says no; ``/redirect/PATH`` answers 302 with ``Location: /PATH``.
    """

    def __init__(
        self,
        behaviour: Behaviour = echo,
        *,
        subprotocols: list[str] | None = None,
        max_size: int | tuple[int | None, int | None] | None = 1024 * 1024,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.behaviour = behaviour
        self.recorded = Recorded()
        self.connections: set[ServerConnection] = set()
        self._subprotocols = subprotocols
        self._max_size = max_size
        self._ssl = ssl_context
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: Any = None
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "wss" if self._ssl else "ws"
        return f"{scheme}://127.0.0.1:{self.port}/"

    def _process_request(self, connection: ServerConnection, request: Any) -> Any:
        self.recorded.headers.append({k.lower(): v for k, v in request.headers.raw_items()})
        if request.path.startswith("/status/"):
            status = HTTPStatus(int(request.path.rsplit("/", 1)[1]))
            return connection.respond(status, f"{status.phrase}: refused by the test server\n")
        if request.path.startswith("/redirect/"):
            response = connection.respond(HTTPStatus.FOUND, "moved\n")
            response.headers["Location"] = request.path.removeprefix("/redirect")
            return response
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        self.connections.add(connection)
        self.recorded.subprotocols.append(connection.subprotocol)
        try:
            async for message in connection:
                self.recorded.messages.append(message)
                await self.behaviour(connection, message)
        except Exception:
            pass
        finally:
            self.connections.discard(connection)

    def _factory(self, *args: Any, **kwargs: Any) -> RecordingConnection:
        connection = RecordingConnection(*args, **kwargs)
        connection.recorded = self.recorded
        return connection

    def start(self) -> RecordingServer:
        self._thread.start()

        async def boot() -> Any:
            return await serve(
                self._handle,
                "127.0.0.1",
                0,
                process_request=self._process_request,
                subprotocols=self._subprotocols,
                max_size=self._max_size,
                ssl=self._ssl,
                create_connection=self._factory,
            )

        self._server = self.run(boot())
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def run(self, coroutine: Any) -> Any:
        """Run ``coroutine`` on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(WAIT_LIMIT)

    def push(self, message: str) -> None:
        """Send ``message`` to every open connection, from the test's thread."""

        async def send_all() -> None:
            for connection in list(self.connections):
                await connection.send(message)

        self.run(send_all())

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_LIMIT
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.02)

    def stop(self) -> None:
        async def shutdown() -> None:
            self._server.close()
            await self._server.wait_closed()

        self.run(shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(WAIT_LIMIT)
        self._loop.close()


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_context: ssl.SSLContext
    server_cert: Path  # certificate and key, PEM


def certificates_with_cryptography(directory: Path) -> tuple[Path, Path]:
    """A CA and a server certificate it signed for 127.0.0.1 (CA file, cert+key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> Any:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def builder(subject: str, issuer: str, public_key: Any) -> Any:
        return (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        builder("wsctl test CA", "wsctl test CA", ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        builder("127.0.0.1", "wsctl test CA", key.public_key())
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path = directory / "ca.pem", directory / "server.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path


def certificates_with_openssl(directory: Path) -> tuple[Path, Path]:
    """A self-signed CA certificate for 127.0.0.1 that is also the server's."""
    cert_path = directory / "server.pem"
    key_path = directory / "server.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key_path),
            "-out",
            str(cert_path),
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    combined = directory / "server-and-key.pem"
    combined.write_bytes(cert_path.read_bytes() + key_path.read_bytes())
    return cert_path, combined


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 (h11 reads the request), in its own thread: it
    records each tunnel's target and relays bytes both ways."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self._open: set[asyncio.StreamWriter] = set()  # both ends of every tunnel
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: Any = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import h11

        connection = h11.Connection(h11.SERVER)
        event: Any = h11.NEED_DATA
        while event is h11.NEED_DATA:
            connection.receive_data(await reader.read(65536))
            event = connection.next_event()
        if not isinstance(event, h11.Request) or event.method != b"CONNECT":
            writer.close()
            return
        target = event.target.decode()
        self.targets.append(target)
        host, _, port = target.rpartition(":")
        if host != "127.0.0.1":  # the tests never leave this machine
            writer.close()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        self._open |= {writer, upstream_writer}
        writer.write(connection.send(h11.Response(status_code=200, headers=[])))
        leftover = connection.trailing_data[0]
        if leftover:
            upstream_writer.write(leftover)

        async def relay(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except OSError:
                pass
            finally:
                sink.close()

        await asyncio.gather(relay(reader, upstream_writer), relay(upstream_reader, writer))

    def start(self) -> ConnectProxy:
        self._thread.start()

        async def boot() -> Any:
            return await asyncio.start_server(self._tunnel, "127.0.0.1", 0)

        self._server = asyncio.run_coroutine_threadsafe(boot(), self._loop).result(WAIT_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Stop listening and close every tunnel, so the server behind sees its connections
        end (a tunnel left open would hold up the server's own shutdown)."""

        async def shutdown() -> None:
            self._server.close()
            for writer in self._open:
                writer.transport.abort()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(WAIT_LIMIT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(WAIT_LIMIT)


def client_certificate(directory: Path, passphrase: bytes) -> tuple[Path, Path]:
    """A self-signed client certificate (its own CA) and its key, encrypted with
    ``passphrase``: (certificate file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wsctl test client")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "client.pem", directory / "client.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
    )
    return cert_path, key_path
