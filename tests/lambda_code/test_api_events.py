"""Reading API Gateway WebSocket events: caller, endpoint, headers, tokens, body."""

from __future__ import annotations

import api_events
from service_fakes import DOMAIN, NOW_MS, connect_event, message_event


def test_caller_is_read_from_the_request_context():
    """connectionId, connectedAt and identity come from requestContext."""
    event = message_event("abc=", "{}", connected_at=5, source_ip="192.0.2.1", user_agent="ua")
    assert api_events.caller(event) == api_events.Caller("abc=", 5, "192.0.2.1", "ua")


def test_caller_user_agent_falls_back_to_the_header():
    """Without identity.userAgent, the User-Agent header (any case) is used."""
    event = connect_event("abc=", {"user-agent": "from-header"})
    del event["headers"]["User-Agent"]
    del event["requestContext"]["identity"]["userAgent"]
    assert api_events.caller(event).user_agent == "from-header"


def test_management_endpoint_is_https_domain_and_stage():
    """Exactly as on AWS: https://{domainName}/{stage}."""
    assert api_events.management_endpoint(message_event("abc=", "{}")) == f"https://{DOMAIN}/dev"


def test_malformed_events_read_as_absent_instead_of_raising():
    """Missing or wrongly typed parts give None, never an exception."""
    for event in ({}, None, [], {"requestContext": "x"}, {"requestContext": {"connectionId": 5}}):
        assert api_events.caller(event) is None
        assert api_events.management_endpoint(event) is None
        assert api_events.body(event) == (None, False)


def test_header_lookup_is_case_insensitive_and_reads_multi_value_headers():
    """Header names match in any case; multiValueHeaders are read when headers lack one."""
    event = connect_event("abc=", {"X-Custom": "one"})
    assert api_events.header(event, "x-custom") == "one"
    event = {"multiValueHeaders": {"authorization": ["Bearer t"]}}
    assert api_events.header(event, "Authorization") == "Bearer t"
    assert api_events.header(event, "Missing") is None


def test_connected_at_falls_back_to_request_time_then_now():
    """connectedAt, else requestTimeEpoch, else the clock."""
    event = connect_event("abc=", connected_at=7)
    assert api_events.connected_at_ms(event) == 7
    del event["requestContext"]["connectedAt"]
    assert api_events.connected_at_ms(event) == NOW_MS
    assert api_events.connected_at_ms({}, now=12.5) == 12_500


def test_bearer_tokens_come_from_the_header_then_the_query():
    """Authorization: Bearer (any case) and ?token= are both offered; other schemes are not."""
    event = connect_event("abc=", {"Authorization": "bearer  tok-1 "}, {"token": "tok-2"})
    assert list(api_events.bearer_tokens(event)) == ["tok-1", "tok-2"]
    assert list(api_events.bearer_tokens(connect_event("abc=", {"Authorization": "Basic x"}))) == []
    assert list(api_events.bearer_tokens(connect_event("abc=", None, {"token": ""}))) == []


def test_body_reports_base64_only_when_api_gateway_says_so():
    """isBase64Encoded must be exactly true for the body to be decoded."""
    assert api_events.body({"body": "e30=", "isBase64Encoded": True}) == ("e30=", True)
    assert api_events.body({"body": "e30=", "isBase64Encoded": "true"}) == ("e30=", False)
