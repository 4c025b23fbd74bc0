"""The opening handshake's options: headers, subprotocols, origin, credentials and TLS, from
the command line's wscat-style flags. Pure, except reading a CA file into an SSL context."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wsctl import __version__
from wsctl.client.endpoint import Endpoint
from wsctl.client.protocol import MAX_MESSAGE_BYTES
from wsctl.errors import ConfigError

Header = tuple[str, str]
USER_AGENT = f"wsctl/{__version__}"
# Incoming messages: API Gateway sends at most 128 KB; other servers may send more.
MAX_INCOMING_BYTES = max(MAX_MESSAGE_BYTES, 16 * 1024 * 1024)


@dataclass(frozen=True)
class ConnectOptions:
    """What the user asked for on the command line (wscat's spellings)."""

    headers: tuple[Header, ...] = ()
    subprotocols: tuple[str, ...] = ()
    origin: str | None = None
    basic_auth: str | None = None  # "user:pass"
    ca_file: Path | None = None
    no_check: bool = False
    open_timeout: float = 10.0
    cert_file: Path | None = None  # a client certificate (PEM), for servers that ask for one
    key_file: Path | None = None
    passphrase: str | None = field(default=None, repr=False)
    proxy: str | None = None  # None: the environment's (HTTPS_PROXY...), as websockets does
    follow_redirects: bool = False  # -L, as wscat: a redirect is reported, not followed
    host: str | None = None  # the Host header, in place of the URL's


def parse_header(text: str) -> Header:
    """``"Name: value"`` from ``-H``, checked: a header name is a token, the value one line."""
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not name or any(c in name for c in ' \t"(),/;<=>?@[\\]{}') or not name.isascii():
        raise ConfigError(f"-H {text!r}: expected 'Name: value'")
    if "\r" in value or "\n" in value:
        raise ConfigError(f"-H {name}: a header value is one line")
    return name, value


def basic_authorization(user_pass: str) -> str:
    """``Basic <base64>`` for ``--auth user:pass``."""
    if ":" not in user_pass:
        raise ConfigError("--auth: expected user:password")
    return "Basic " + base64.b64encode(user_pass.encode("utf-8")).decode("ascii")


def _has(headers: Sequence[Header], name: str) -> bool:
    return any(key.lower() == name.lower() for key, _ in headers)


def credential_headers(endpoint: Endpoint) -> list[Header]:
    """Headers that prove who is calling, computed for this endpoint.

    An ``--auth iam`` stack: the handshake signed with SigV4 from the caller's AWS credentials
    (botocore loads only in that branch, so the other client commands stay light). Otherwise
    the stack's bearer token, if it has one.
    """
    if endpoint.auth == "iam":
        from wsctl import sigv4

        return list(sigv4.sign_as_caller(endpoint.url, endpoint.region).items())
    if endpoint.token:
        return [("Authorization", f"Bearer {endpoint.token}")]
    return []


def handshake_headers(endpoint: Endpoint, options: ConnectOptions) -> list[Header]:
    """The extra request headers: the user's ``-H``; ``--auth`` replaces an Authorization
    given with ``-H`` (wscat's precedence); the stack's own credentials go only when the user
    gave no Authorization at all."""
    headers = list(options.headers)
    if options.basic_auth is not None:
        headers = [(key, value) for key, value in headers if key.lower() != "authorization"]
        headers.append(("Authorization", basic_authorization(options.basic_auth)))
    if not _has(headers, "Authorization"):
        headers.extend(credential_headers(endpoint))
    return headers


def ssl_context(url: str, options: ConnectOptions) -> ssl.SSLContext | None:
    """The TLS context for a ``wss://`` URL: default trust, plus ``--ca``, or none at all with
    ``-n``, and the client certificate of ``--cert``/``--key``; None for ``ws://``
    (websockets refuses a context there)."""
    if urlsplit(url).scheme.lower() != "wss":
        return None
    if options.no_check:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif options.ca_file is None:
        context = ssl.create_default_context()
    else:
        ca_file = options.ca_file
        try:
            context = ssl.create_default_context(cafile=str(ca_file))
        except FileNotFoundError:
            raise ConfigError(f"--ca {ca_file}: no such file") from None
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"--ca {ca_file}: not a PEM certificate file ({exc})") from None
    if options.cert_file is not None:
        _load_client_certificate(context, options)
    return context


def _load_client_certificate(context: ssl.SSLContext, options: ConnectOptions) -> None:
    cert, key = options.cert_file, options.key_file
    try:
        context.load_cert_chain(str(cert), str(key) if key else None, options.passphrase)
    except FileNotFoundError as exc:
        raise ConfigError(f"--cert/--key: no such file: {exc.filename}") from None
    except ssl.SSLError as exc:
        hint = " (wrong --passphrase?)" if options.passphrase or "PEM" in str(exc) else ""
        raise ConfigError(
            f"--cert {cert}: not a usable PEM certificate and key: {exc.reason or exc}{hint}"
        ) from None
    except OSError as exc:
        raise ConfigError(f"--cert {cert}: {exc.strerror or exc}") from None


# RFC 7230 token characters: what a subprotocol name (RFC 6455 section 4.1) is made of.
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def check_options(options: ConnectOptions) -> None:
    """Refuse combinations that cannot work, before connecting."""
    for name in options.subprotocols:
        if not name or not set(name) <= _TOKEN_CHARS:
            raise ConfigError(
                f"-s {name!r}: a subprotocol is a token (letters, digits, !#$%&'*+-.^_`|~)"
            )
    if options.key_file is not None and options.cert_file is None:
        raise ConfigError("--key needs --cert (the certificate it belongs to)")
    if options.passphrase is not None and options.cert_file is None:
        raise ConfigError("--passphrase needs --cert and --key")


def subprotocol_note(offered: tuple[str, ...], chosen: str | None) -> str | None:
    """What to tell someone who offered subprotocols (``-s``): which one the server chose."""
    if not offered:
        return None
    if chosen is None:
        return f"The server chose no subprotocol (offered: {', '.join(offered)})."
    return f"Subprotocol: {chosen} (chosen by the server)."


def connect_kwargs(endpoint: Endpoint, options: ConnectOptions) -> dict[str, Any]:
    """Keyword arguments for ``websockets.asyncio.client.connect``."""
    headers = handshake_headers(endpoint, options)
    kwargs: dict[str, Any] = {
        "additional_headers": headers,
        "user_agent_header": None if _has(headers, "User-Agent") else USER_AGENT,
        "subprotocols": list(options.subprotocols) or None,
        "origin": options.origin,
        "open_timeout": options.open_timeout,
        "max_size": MAX_INCOMING_BYTES,
        # API Gateway negotiates no extension; without compression the 32 KB frame limit is
        # a limit on what goes on the wire.
        "compression": None,
    }
    if options.proxy is not None:
        kwargs["proxy"] = options.proxy
    context = ssl_context(endpoint.url, options)
    if context is not None:
        kwargs["ssl"] = context
    return kwargs
