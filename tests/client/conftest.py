"""Fixtures for the client's tests: recording servers, odd ports, a throwaway TLS CA."""

from __future__ import annotations

import shutil
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from client_servers import (
    Behaviour,
    RecordingServer,
    TlsFiles,
    certificates_with_cryptography,
    certificates_with_openssl,
    echo,
)


@pytest.fixture
def ws_server() -> Iterator[Callable[..., RecordingServer]]:
    """``ws_server(behaviour, **options)`` starts a recording server, stopped after the test."""
    servers: list[RecordingServer] = []

    def start(behaviour: Behaviour = echo, **options: Any) -> RecordingServer:
        server = RecordingServer(behaviour, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def echo_server(ws_server) -> RecordingServer:
    return ws_server(echo)


@pytest.fixture
def unresponsive_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers the HTTP handshake."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1 (cryptography, else openssl)."""
    directory = tmp_path_factory.mktemp("tls")
    try:
        ca_path, cert_path = certificates_with_cryptography(directory)
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor openssl is available")
        ca_path, cert_path = certificates_with_openssl(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path)
    return TlsFiles(ca_path, context, cert_path)
