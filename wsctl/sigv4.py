"""SigV4 for the WebSocket handshake of a stack deployed with ``--auth iam``, and its local check.

On AWS, a ``$connect`` route with ``AuthorizationType = AWS_IAM`` accepts a handshake signed
with Signature Version 4 for the service ``execute-api``: API Gateway verifies the signature and
then evaluates the caller's IAM policies (``execute-api:Invoke`` on
``arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect``). The signature may travel
in headers (``Authorization``, ``X-Amz-Date``, ``X-Amz-Security-Token``), which wsctl's own client
sends, or in the query string (a presigned URL), which is what a browser can send since it
cannot set handshake headers. Both are produced here by botocore's signers: no crypto of ours.

The local emulator cannot do what AWS does. ``verify_handshake`` recomputes the signature with
botocore from the credentials the emulator's own process holds, and compares it in constant
time. A pass proves only that the client holds the same access key and secret as the emulator
(and, with temporary credentials, the same session token), signed for ``execute-api`` in the
expected region, within the allowed clock skew. It does not, and cannot, evaluate IAM policies,
permission boundaries or SCPs, and it cannot tell whether keys are still valid on AWS.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from wsctl.auth import redact_url
from wsctl.errors import ConfigError

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = dt.timedelta(minutes=5)  # what AWS tolerates between the signer's clock and its own
PRESIGN_EXPIRES = 300
# SigV4 presigned URLs live at most a week (AWS S3 API reference, "Authenticating Requests:
# Using Query Parameters"; `aws s3 presign --expires-in`: "Maximum is 604800 seconds").
MAX_PRESIGN_EXPIRES = 604800

_HTTP_SCHEMES = {"wss": "https", "ws": "http", "https": "https", "http": "http"}
HeaderPairs = Mapping[str, str] | Iterable[tuple[str, str]]


def http_form(url: str) -> str:
    """The ``https://`` (or ``http://``) form of a ``wss://`` URL: what SigV4 signs.

    The scheme is not part of the canonical request, but botocore derives the Host header
    from the URL, dropping the default port exactly as a WebSocket client does.
    """
    parts = urlsplit(url)
    scheme = _HTTP_SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        raise ConfigError(f"cannot sign {url!r}: expected a ws:// or wss:// URL")
    return urlunsplit((scheme, *parts[1:]))


def region_from_url(url: str) -> str | None:
    """The region in an API Gateway host name (``{api}.execute-api.{region}.amazonaws.com``)."""
    host = (urlsplit(url).hostname or "").split(".")
    if len(host) >= 5 and host[1] == SERVICE and host[3] == "amazonaws":
        return host[2]
    return None


def session_credentials(profile: str | None = None) -> ReadOnlyCredentials:
    """The caller's AWS credentials, resolved as boto3 does (env, profile, SSO, instance role)."""
    import botocore.exceptions
    import botocore.session

    try:
        credentials = botocore.session.Session(profile=profile).get_credentials()
    except botocore.exceptions.ProfileNotFound:
        raise ConfigError(f"AWS profile {profile!r} not found in your AWS config") from None
    if credentials is None:
        raise ConfigError(
            "no AWS credentials found: this stack uses --auth iam, so handshakes are signed "
            "and checked with AWS credentials; set AWS_PROFILE or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    return credentials.get_frozen_credentials()


def session_region(profile: str | None = None) -> str | None:
    """The region boto3 would use for ``profile`` (AWS_REGION, AWS_DEFAULT_REGION, config)."""
    import botocore.session

    return botocore.session.Session(profile=profile).get_config_variable("region")


def sign_handshake(url: str, credentials: ReadOnlyCredentials, region: str) -> dict[str, str]:
    """Headers that sign a GET of ``url`` (the WebSocket handshake) for ``execute-api``.

    Sign right before connecting: the signature is valid for five minutes either side of now.
    """
    request = AWSRequest(method="GET", url=http_form(url))
    SigV4Auth(credentials, SERVICE, region).add_auth(request)
    return dict(request.headers.items())


def _caller_region(url: str, region: str | None) -> str:
    """``region`` (a stack's recorded one), else an execute-api host's, else the configured one."""
    region = region or region_from_url(url) or session_region()
    if region is None:
        raise ConfigError(
            f"cannot sign the handshake to {redact_url(url)}: no AWS region known; set "
            "AWS_REGION or pass --region when deploying"
        )
    return region


def sign_as_caller(url: str, region: str | None = None) -> dict[str, str]:
    """Sign the handshake to ``url`` with the caller's credentials (``AWS_PROFILE`` included)."""
    return sign_handshake(url, session_credentials(), _caller_region(url, region))


def presign_as_caller(url: str, region: str | None = None, expires: int = PRESIGN_EXPIRES) -> str:
    """``url`` presigned with the caller's credentials, valid ``expires`` seconds."""
    return presign_url(url, session_credentials(), _caller_region(url, region), expires)


def presign_url(
    url: str, credentials: ReadOnlyCredentials, region: str, expires: int = PRESIGN_EXPIRES
) -> str:
    """``url`` with the signature in its query string, for clients that cannot set headers."""
    original = urlsplit(url)
    request = AWSRequest(method="GET", url=http_form(url))
    SigV4QueryAuth(credentials, SERVICE, region, expires=expires).add_auth(request)
    return urlunsplit((original.scheme, *urlsplit(request.url)[1:]))


@dataclass(frozen=True)
class SignatureCheck:
    """The verdict on a handshake's signature, with a reason a person can act on."""

    ok: bool
    reason: str


_VALID = SignatureCheck(True, "signature valid for this machine's credentials")


def _reject(reason: str) -> SignatureCheck:
    return SignatureCheck(False, reason)


@dataclass(frozen=True)
class _Signed:
    """The SigV4 fields a request carries, from its headers or from its query string."""

    credential: str
    signed_headers: str
    signature: str
    amz_date: str
    security_token: str | None
    expires: str | None
    canonical_target: str  # path and query as they were signed (without X-Amz-Signature)


def _header_pairs(headers: HeaderPairs) -> list[tuple[str, str]]:
    raw_items = getattr(headers, "raw_items", None)  # websockets' Headers keep repeated names
    if callable(raw_items):
        return list(raw_items())
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


def _first(pairs: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in pairs if key.lower() == name), None)


def _parse_authorization(value: str) -> dict[str, str] | None:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        return None
    fields = {}
    for part in rest.split(","):
        key, sep, field_value = part.strip().partition("=")
        if sep:
            fields[key] = field_value
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        return None
    return fields


def _signed_fields(path: str, pairs: list[tuple[str, str]]) -> _Signed | SignatureCheck:
    authorization = _first(pairs, "authorization")
    target = urlsplit(path)
    if authorization is not None:
        fields = _parse_authorization(authorization)
        if fields is None:
            return _reject(
                f"the Authorization header is not a SigV4 signature ({ALGORITHM} "
                "Credential=..., SignedHeaders=..., Signature=...)"
            )
        amz_date = _first(pairs, "x-amz-date")
        if amz_date is None:
            return _reject("the signed request has no X-Amz-Date header")
        return _Signed(
            credential=fields["Credential"],
            signed_headers=fields["SignedHeaders"],
            signature=fields["Signature"],
            amz_date=amz_date,
            security_token=_first(pairs, "x-amz-security-token"),
            expires=None,
            canonical_target=path,
        )
    raw = [pair for pair in target.query.split("&") if pair] if target.query else []
    query = dict(parse_qsl(target.query, keep_blank_values=True))
    if "X-Amz-Signature" not in query:
        return _reject(
            "missing Authorization: the handshake carries neither an Authorization header "
            "nor an X-Amz-Signature query parameter (this stack uses --auth iam: sign it "
            "with SigV4)"
        )
    needed = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders")
    missing = [name for name in needed if name not in query]
    if missing or query.get("X-Amz-Algorithm") != ALGORITHM:
        return _reject(
            f"the presigned URL is incomplete: it needs {', '.join(needed)} "
            f"with X-Amz-Algorithm={ALGORITHM}"
        )
    unsigned = "&".join(pair for pair in raw if pair.partition("=")[0] != "X-Amz-Signature")
    return _Signed(
        credential=query["X-Amz-Credential"],
        signed_headers=query["X-Amz-SignedHeaders"],
        signature=query["X-Amz-Signature"],
        amz_date=query["X-Amz-Date"],
        security_token=query.get("X-Amz-Security-Token"),
        expires=query.get("X-Amz-Expires"),
        canonical_target=urlunsplit(("", "", target.path, unsigned, "")),
    )


def _check_time(signed: _Signed, now: dt.datetime) -> SignatureCheck | None:
    try:
        signed_at = dt.datetime.strptime(signed.amz_date, SIGV4_TIMESTAMP).replace(tzinfo=dt.UTC)
    except ValueError:
        return _reject(f"X-Amz-Date {signed.amz_date!r} is not of the form YYYYMMDDTHHMMSSZ")
    if signed_at - now > MAX_SKEW:
        return _reject(
            f"the signature is dated {signed.amz_date}, more than 5 minutes in the future: "
            "check this machine's clock"
        )
    if signed.expires is not None:
        # ASCII digits only: str.isdigit() also accepts '²', which int() refuses.
        if not (signed.expires.isascii() and signed.expires.isdigit()):
            return _reject(f"X-Amz-Expires {signed.expires[:40]!r} is not a number of seconds")
        if not 1 <= int(signed.expires) <= MAX_PRESIGN_EXPIRES:
            return _reject(
                f"X-Amz-Expires must be 1 to {MAX_PRESIGN_EXPIRES} seconds (a week), as AWS "
                f"requires; got {signed.expires[:40]}"
            )
        if now > signed_at + dt.timedelta(seconds=int(signed.expires)):
            return _reject(
                f"the presigned URL expired: signed at {signed.amz_date}, "
                f"valid for {signed.expires} s"
            )
    elif now - signed_at > MAX_SKEW:
        return _reject(
            f"the signature expired: signed at {signed.amz_date}, more than 5 minutes ago "
            "(sign right before connecting, and check the clock)"
        )
    return None


def _check_scope(
    signed: _Signed, credentials: ReadOnlyCredentials, region: str
) -> SignatureCheck | None:
    parts = signed.credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        return _reject(
            "the credential scope is malformed (expected "
            "ACCESS_KEY/YYYYMMDD/region/execute-api/aws4_request)"
        )
    access_key, date, scope_region, service, _ = parts
    if service != SERVICE:
        return _reject(f"the request is signed for service {service!r}, not {SERVICE!r}")
    if scope_region != region:
        return _reject(f"the request is signed for region {scope_region!r}, not {region!r}")
    if date != signed.amz_date[:8]:
        return _reject(f"the credential scope date {date} does not match X-Amz-Date")
    if not hmac.compare_digest(access_key.encode(), credentials.access_key.encode()):
        return _reject(
            "the request is signed with an access key other than the one this emulator "
            "holds (it can only verify signatures made with its own credentials)"
        )
    presented = (signed.security_token or "").encode()
    expected = (credentials.token or "").encode()
    if not hmac.compare_digest(presented, expected):
        return _reject("the session token (X-Amz-Security-Token) does not match this machine's")
    return None


def _recomputed_signature(
    method: str,
    host: str,
    signed: _Signed,
    pairs: list[tuple[str, str]],
    credentials: ReadOnlyCredentials,
    region: str,
    body: bytes = b"",
) -> str | SignatureCheck:
    names = [name for name in signed.signed_headers.split(";") if name]
    if "host" not in names:
        return _reject("the signature does not cover the Host header")
    request = AWSRequest(
        method=method.upper(), url=f"http://{host}{signed.canonical_target}", data=body
    )
    for name in names:
        values = [value for key, value in pairs if key.lower() == name]
        if not values:
            return _reject(f"signed header {name!r} is missing from the request")
        for value in values:
            request.headers[name] = value
    signer = SigV4Auth(credentials, SERVICE, region)
    if signer.signed_headers(signer.headers_to_sign(request)) != signed.signed_headers:
        return _reject(f"SignedHeaders {signed.signed_headers!r} is not in canonical form")
    request.context["timestamp"] = signed.amz_date
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)


def verify_handshake(
    method: str,
    path: str,
    headers: HeaderPairs,
    credentials: ReadOnlyCredentials,
    region: str,
    *,
    now: dt.datetime | None = None,
    body: bytes = b"",
) -> SignatureCheck:
    """Check the SigV4 signature of a handshake ``method path`` with ``headers``.

    ``path`` is the request target as received (path and query); ``body`` the request's body
    (the @connections API's POST signs its payload too). The signature is recomputed
    by botocore from ``credentials`` (this machine's) and compared in constant time. See the
    module docstring for what a pass does and does not prove.
    """
    pairs = _header_pairs(headers)
    host = _first(pairs, "host")
    if not host:
        return _reject("the request has no Host header")
    signed = _signed_fields(path, pairs)
    if isinstance(signed, SignatureCheck):
        return signed
    problem = _check_scope(signed, credentials, region)
    if problem is None:
        problem = _check_time(signed, now or dt.datetime.now(dt.UTC))
    if problem is not None:
        return problem
    try:
        expected = _recomputed_signature(method, host, signed, pairs, credentials, region, body)
    except (ValueError, UnicodeError) as exc:  # e.g. Host "[": not a URL botocore can sign
        return _reject(f"the request is malformed: {type(exc).__name__}")
    if isinstance(expected, SignatureCheck):
        return expected
    if not hmac.compare_digest(expected.encode(), signed.signature.encode()):
        return _reject(
            "signature mismatch: the request was altered after signing, or signed with "
            "another secret key"
        )
    return _VALID
