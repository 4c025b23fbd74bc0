"""SigV4 on the WebSocket handshake: botocore signs, the local verifier accepts and rejects."""

from __future__ import annotations

import asyncio
import datetime as dt
from http import HTTPStatus
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus
from websockets.headers import build_host

from wsctl import sigv4
from wsctl.errors import ConfigError

CREDS = ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "SESSION")
REGION = "eu-west-1"
URL = "wss://abc123.execute-api.eu-west-1.amazonaws.com/dev"
HOST = "abc123.execute-api.eu-west-1.amazonaws.com"


def _verify(path="/dev", headers=None, credentials=CREDS, region=REGION, now=None):
    headers = {"Host": HOST, **(headers or {})}
    return sigv4.verify_handshake("GET", path, headers, credentials, region, now=now)


def _in(minutes: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)


def test_signed_headers_carry_an_execute_api_scope_for_the_region():
    """The Authorization header names execute-api, the region, and signs host, date and token."""
    headers = sigv4.sign_handshake(URL, CREDS, REGION)
    authorization = headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in authorization
    assert "SignedHeaders=host;x-amz-date;x-amz-security-token" in authorization
    assert headers["X-Amz-Security-Token"] == "SESSION"
    assert len(headers["X-Amz-Date"]) == len("20240101T000000Z")


def test_signed_handshake_verifies_with_the_same_credentials():
    """A handshake signed by botocore passes the local check with the same credentials."""
    check = _verify(headers=sigv4.sign_handshake(URL, CREDS, REGION))
    assert check.ok, check.reason


def test_presigned_url_verifies_with_the_same_credentials():
    """A presigned wss:// URL keeps its scheme and passes the local check from its query."""
    url = sigv4.presign_url(URL, CREDS, REGION)
    assert url.startswith("wss://") and "X-Amz-Signature=" in url
    path = url.split(HOST, 1)[1]
    check = _verify(path=path)
    assert check.ok, check.reason


def test_presigned_url_keeps_existing_query_parameters():
    """Parameters already in the URL stay there and are covered by the signature."""
    url = sigv4.presign_url(URL + "?room=blue", CREDS, REGION)
    path = url.split(HOST, 1)[1]
    assert "room=blue" in path
    assert _verify(path=path).ok
    assert not _verify(path=path.replace("room=blue", "room=red")).ok


def test_no_signature_is_rejected_as_missing_authorization():
    """A handshake with neither header nor query signature says Authorization is missing."""
    check = _verify()
    assert not check.ok
    assert "missing Authorization" in check.reason


def test_bearer_authorization_is_not_a_sigv4_signature():
    """A token in the Authorization header is refused with a reason naming SigV4."""
    check = _verify(headers={"Authorization": "Bearer abc"})
    assert not check.ok
    assert "not a SigV4 signature" in check.reason


def test_signature_for_another_region_is_rejected():
    """A signature scoped to another region is refused, naming both regions."""
    check = _verify(headers=sigv4.sign_handshake(URL, CREDS, "us-east-1"))
    assert not check.ok
    assert "'us-east-1'" in check.reason and "'eu-west-1'" in check.reason


def test_signature_for_another_service_is_rejected():
    """A valid SigV4 signature for another service does not open execute-api."""
    request = AWSRequest(method="GET", url="https://" + HOST + "/dev")
    SigV4Auth(CREDS, "lambda", REGION).add_auth(request)
    check = _verify(headers=dict(request.headers.items()))
    assert not check.ok
    assert "service 'lambda'" in check.reason


def test_signature_older_than_the_skew_has_expired():
    """Six minutes after signing, the handshake signature is refused as expired."""
    check = _verify(headers=sigv4.sign_handshake(URL, CREDS, REGION), now=_in(6))
    assert not check.ok
    assert "expired" in check.reason


def test_signature_within_the_skew_is_accepted():
    """Four minutes of clock difference either way is tolerated, as AWS does."""
    headers = sigv4.sign_handshake(URL, CREDS, REGION)
    assert _verify(headers=headers, now=_in(4)).ok
    assert _verify(headers=headers, now=_in(-4)).ok


def test_signature_from_the_future_is_rejected():
    """A signature dated beyond the skew ahead of this clock is refused, naming the clock."""
    check = _verify(headers=sigv4.sign_handshake(URL, CREDS, REGION), now=_in(-6))
    assert not check.ok
    assert "future" in check.reason


def test_presigned_url_expires_after_its_lifetime():
    """A presigned URL valid 60 s is refused two minutes later, though within the skew."""
    url = sigv4.presign_url(URL, CREDS, REGION, expires=60)
    check = _verify(path=url.split(HOST, 1)[1], now=_in(2))
    assert not check.ok
    assert "presigned URL expired" in check.reason


def test_other_secret_key_is_a_signature_mismatch():
    """Same access key id, different secret: the recomputed signature differs."""
    forged = ReadOnlyCredentials(CREDS.access_key, "not-the-secret", CREDS.token)
    check = _verify(headers=sigv4.sign_handshake(URL, forged, REGION))
    assert not check.ok
    assert "signature mismatch" in check.reason


def test_tampered_path_is_a_signature_mismatch():
    """A signature made for one stage does not open another."""
    headers = sigv4.sign_handshake(URL, CREDS, REGION)
    check = _verify(path="/prod", headers=headers)
    assert not check.ok
    assert "signature mismatch" in check.reason


def test_other_access_key_is_rejected():
    """Keys other than the emulator's own cannot be checked, and are refused as such."""
    other = ReadOnlyCredentials("AKIDOTHER", CREDS.secret_key, CREDS.token)
    check = _verify(headers=sigv4.sign_handshake(URL, other, REGION))
    assert not check.ok
    assert "access key other than" in check.reason


def test_missing_session_token_is_rejected():
    """Temporary credentials without their session token do not pass."""
    headers = sigv4.sign_handshake(URL, CREDS, REGION)
    del headers["X-Amz-Security-Token"]
    check = _verify(headers=headers)
    assert not check.ok
    assert "session token" in check.reason


def test_long_term_credentials_sign_and_verify_without_a_token():
    """Keys without a session token sign host and date only, and verify."""
    keys = ReadOnlyCredentials(CREDS.access_key, CREDS.secret_key, None)
    headers = sigv4.sign_handshake(URL, keys, REGION)
    assert "X-Amz-Security-Token" not in headers
    assert _verify(headers=headers, credentials=keys).ok


def test_host_must_be_the_one_signed():
    """The same signature sent to another host does not verify."""
    headers = {**sigv4.sign_handshake(URL, CREDS, REGION), "Host": "evil.example"}
    check = sigv4.verify_handshake("GET", "/dev", headers, CREDS, REGION)
    assert not check.ok
    assert "signature mismatch" in check.reason


def test_http_form_maps_websocket_schemes_and_refuses_others():
    """wss becomes https and ws becomes http; anything else is a clear ConfigError."""
    assert sigv4.http_form("wss://h/dev?x=1") == "https://h/dev?x=1"
    assert sigv4.http_form("ws://127.0.0.1:8765/dev") == "http://127.0.0.1:8765/dev"
    with pytest.raises(ConfigError, match="ws:// or wss://"):
        sigv4.http_form("ftp://h/dev")


def test_region_is_read_from_an_api_gateway_host_only():
    """The region comes from an execute-api host name, and from nothing else."""
    assert sigv4.region_from_url(URL) == "eu-west-1"
    assert sigv4.region_from_url("ws://127.0.0.1:8765/dev") is None


def test_session_credentials_come_from_the_environment():
    """Credentials resolve as boto3 resolves them (here, the test's environment)."""
    creds = sigv4.session_credentials()
    assert (creds.access_key, creds.secret_key, creds.token) == ("testing", "testing", "testing")


def test_no_credentials_is_a_clear_error(monkeypatch):
    """Without any credentials, signing is a ConfigError saying how to provide them."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigError, match="no AWS credentials"):
        sigv4.session_credentials()


def test_unknown_profile_is_a_clear_error():
    """A profile that is not configured is named in a ConfigError."""
    with pytest.raises(ConfigError, match="'nope' not found"):
        sigv4.session_credentials("nope")


async def _handshake_statuses(credentials: ReadOnlyCredentials) -> tuple[int, int]:
    """Statuses of a signed and an unsigned handshake against a server that verifies SigV4."""

    def process_request(connection, request):
        check = sigv4.verify_handshake("GET", request.path, request.headers, CREDS, REGION)
        if not check.ok:
            return connection.respond(HTTPStatus.FORBIDDEN, check.reason + "\n")
        return None

    async with serve(lambda ws: ws.close(), "127.0.0.1", 0, process_request=process_request) as s:
        port = s.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/dev"
        assert build_host("127.0.0.1", port, secure=False) == f"127.0.0.1:{port}"
        statuses = []
        for headers in (sigv4.sign_handshake(url, credentials, REGION), {}):
            try:
                async with connect(url, additional_headers=headers, proxy=None):
                    statuses.append(101)
            except InvalidStatus as exc:
                statuses.append(exc.response.status_code)
        return statuses[0], statuses[1]


def test_real_websocket_handshake_is_signed_and_verified():
    """Over a real connection, the signed handshake opens and the unsigned one gets 403."""
    assert asyncio.run(_handshake_statuses(CREDS)) == (101, 403)


def test_real_websocket_handshake_with_wrong_secret_gets_403():
    """Over a real connection, a handshake signed with another secret is refused."""
    forged = ReadOnlyCredentials(CREDS.access_key, "not-the-secret", CREDS.token)
    assert asyncio.run(_handshake_statuses(forged)) == (403, 403)


def test_sign_as_caller_uses_the_given_region_then_the_url_then_the_profile(monkeypatch):
    """The recorded region wins; else the execute-api host's; else the configured one."""
    assert "/ap-south-1/" in sigv4.sign_as_caller(URL, "ap-south-1")["Authorization"]
    assert "/eu-west-1/" in sigv4.sign_as_caller(URL)["Authorization"]
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ca-central-1")
    local = sigv4.sign_as_caller("ws://127.0.0.1:8765/dev")
    assert "Credential=testing/" in local["Authorization"]
    assert "/ca-central-1/" in local["Authorization"]


def test_sign_as_caller_without_any_region_is_a_clear_error(monkeypatch):
    """No region from anywhere: a ConfigError saying how to set one."""
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(ConfigError, match="no AWS region known"):
        sigv4.sign_as_caller("ws://127.0.0.1:8765/dev")


def _presigned_path(expires: str) -> str:
    """A valid presigned path whose X-Amz-Expires is then replaced by ``expires``."""
    path = sigv4.presign_url(URL, CREDS, REGION, expires=60).split(HOST, 1)[1]
    return path.replace("X-Amz-Expires=60", f"X-Amz-Expires={quote(expires)}")


@pytest.mark.parametrize(
    ("expires", "says"),
    [
        ("²", "is not a number of seconds"),
        ("1" * 30, "must be 1 to 604800 seconds"),
        ("604801", "must be 1 to 604800 seconds"),
        ("0", "must be 1 to 604800 seconds"),
    ],
)
def test_malformed_or_too_long_expires_is_rejected(expires, says):
    """X-Amz-Expires that is not ASCII digits, or outside AWS's 1..604800 s: a rejection with
    a reason, never an exception."""
    check = _verify(path=_presigned_path(expires))
    assert not check.ok and says in check.reason


def test_a_week_is_the_longest_accepted_expiry():
    """604800 s (AWS's cap) still verifies."""
    path = sigv4.presign_url(URL, CREDS, REGION, expires=604800).split(HOST, 1)[1]
    assert _verify(path=path).ok


def test_a_host_that_is_not_a_host_is_rejected():
    """A signed handshake whose Host header is `[` (not a URL botocore can sign): rejected."""
    headers = {**sigv4.sign_handshake(URL, CREDS, REGION), "Host": "["}
    check = sigv4.verify_handshake("GET", "/dev", headers, CREDS, REGION)
    assert not check.ok and "malformed" in check.reason


text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
QUERY_FIELDS = [
    "X-Amz-Signature",
    "X-Amz-Expires",
    "X-Amz-Date",
    "X-Amz-Credential",
    "X-Amz-Algorithm",
    "X-Amz-SignedHeaders",
]


@settings(max_examples=300, deadline=None)
@given(
    host=text,
    path=st.one_of(text, text.map(lambda t: "/dev?" + t)),
    authorization=st.one_of(st.none(), text, text.map(lambda t: f"{sigv4.ALGORITHM} {t}")),
    query=st.dictionaries(st.sampled_from(QUERY_FIELDS), text),
)
def test_the_verifier_never_raises_on_hostile_input(host, path, authorization, query):
    """Whatever the handshake carries, the verdict is a SignatureCheck (a 403 with a reason),
    never an exception (a 500 and a traceback)."""
    headers = {"Host": host}
    if authorization is not None:
        headers["Authorization"] = authorization
        headers["X-Amz-Date"] = query.get("X-Amz-Date", "20260101T000000Z")
    if query:
        path = path.split("?")[0] + "?" + urlencode(query)
    check = sigv4.verify_handshake("GET", path, headers, CREDS, REGION)
    assert isinstance(check, sigv4.SignatureCheck) and check.reason


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(QUERY_FIELDS), value=text, host=st.one_of(st.just(HOST), text))
def test_a_valid_presigned_url_with_one_field_garbled_never_raises(field, value, host):
    """A genuine presigned URL with one of its fields (or the Host) replaced by anything: a
    verdict, never an exception, and never a pass unless nothing changed."""
    url = sigv4.presign_url(URL, CREDS, REGION, expires=60)
    path = url.split(HOST, 1)[1]
    fields = dict(parse_qsl(path.split("?", 1)[1]))
    fields[field] = value
    check = _verify(path="/dev?" + urlencode(fields), headers={"Host": host})
    assert isinstance(check, sigv4.SignatureCheck) and check.reason
    if check.ok:
        assert host == HOST and fields == dict(parse_qsl(path.split("?", 1)[1]))
