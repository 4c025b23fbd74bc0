"""Event shapes, route selection and handler-answer mapping (pure functions)."""

from __future__ import annotations

import base64
import json

from wsctl.local import events
from wsctl.local.events import Endpoint, Peer

ROUTES = ("$connect", "$disconnect", "$default", "broadcast", "send")
ENDPOINT = Endpoint("abcdefghij", "dev", "127.0.0.1:8765")
PEER = Peer("Abc-DEFghijklmn=", 1_700_000_000_000, "127.0.0.1", "agent/1")


def test_action_naming_a_route_selects_it():
    """A JSON object whose action is a route key goes to that route."""
    assert events.select_route(ROUTES, '{"action": "send", "to": "x"}') == "send"


def test_everything_else_goes_to_default():
    """Non-JSON, arrays, missing, non-string or unknown actions, binary: all go to $default."""
    for body in ("hello", "[1, 2]", "{}", '{"action": 3}', '{"action": "nope"}', "", None):
        assert events.select_route(ROUTES, body) == "$default", body


def test_predefined_route_keys_cannot_be_selected_by_action():
    """{"action": "$connect"} does not reach $connect."""
    assert events.select_route(ROUTES, '{"action": "$connect"}') == "$default"


def test_no_default_route_means_no_route():
    """Without $default, an unmatched message has no route (API Gateway answers Forbidden)."""
    assert events.select_route(("$connect", "send"), "hello") is None
    assert events.select_route(("$connect", "send"), '{"action": "send"}') == "send"


def test_connect_event_carries_headers_and_query():
    """CONNECT: headers (last value wins) and multi-value headers; query string both ways."""
    event = events.connect_event(
        ENDPOINT,
        PEER,
        [("Host", "h"), ("X-Twice", "a"), ("X-Twice", "b")],
        "token=t&tag=1&tag=2",
        request_id="req",
        now_ms=PEER.connected_at + 5,
    )
    assert event["headers"] == {"Host": "h", "X-Twice": "b"}
    assert event["multiValueHeaders"]["X-Twice"] == ["a", "b"]
    assert event["queryStringParameters"] == {"token": "t", "tag": "2"}
    assert event["multiValueQueryStringParameters"]["tag"] == ["1", "2"]
    context = event["requestContext"]
    assert context["eventType"] == "CONNECT"
    assert context["routeKey"] == "$connect"
    assert context["connectionId"] == PEER.connection_id
    assert context["requestTimeEpoch"] == PEER.connected_at + 5
    assert context["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "agent/1"}
    assert context["domainName"] == "127.0.0.1:8765"
    assert context["apiId"] == "abcdefghij"
    assert context["messageDirection"] == "IN"


def test_connect_event_without_query_has_no_query_keys():
    """No query string: AWS sends no queryStringParameters at all."""
    event = events.connect_event(ENDPOINT, PEER, [], "", request_id="r", now_ms=1)
    assert "queryStringParameters" not in event
    assert "multiValueQueryStringParameters" not in event


def test_message_event_text_and_binary():
    """MESSAGE: text as body; binary frames base64-encoded with isBase64Encoded."""
    text = events.message_event(ENDPOINT, PEER, "send", '{"a":1}', request_id="r", now_ms=2)
    assert text["body"] == '{"a":1}' and text["isBase64Encoded"] is False
    assert text["requestContext"]["messageId"] not in ("r", "")  # its own, as on AWS
    assert text["requestContext"]["routeKey"] == "send"
    binary = events.message_event(ENDPOINT, PEER, "$default", b"\x00\xff", request_id="r", now_ms=2)
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\x00\xff"


def test_disconnect_event_carries_close_status():
    """DISCONNECT: disconnectStatusCode and disconnectReason in the request context."""
    event = events.disconnect_event(ENDPOINT, PEER, 1001, "Going away", request_id="r", now_ms=3)
    context = event["requestContext"]
    assert (context["eventType"], context["routeKey"]) == ("DISCONNECT", "$disconnect")
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1001, "Going away")


def test_request_time_is_in_clf_format():
    """requestTime looks like API Gateway's: 14/Nov/2023:22:13:20 +0000."""
    assert events.request_time(1_700_000_000_000) == "14/Nov/2023:22:13:20 +0000"


def test_connect_status_mapping():
    """statusCode decides the handshake; an answer without one is a success."""
    assert events.connect_status({"statusCode": 401}) == 401
    assert events.connect_status({"statusCode": "403"}) == 403
    assert events.connect_status({"statusCode": True}) == 200
    assert events.connect_status(None) == 200
    assert events.connect_status({"body": "x"}) == 200


def test_refusal_body_prefers_the_handlers_body():
    """A refused handshake carries the handler's body, else the status phrase."""
    assert events.connect_refusal_body({"body": "no"}, 401, "Unauthorized") == "no"
    assert events.connect_refusal_body({}, 401, "Unauthorized") == "401 Unauthorized"


def test_gateway_error_frame_shape():
    """API Gateway's own error frame names the message, connection and request."""
    frame = json.loads(events.gateway_error_frame("Internal server error", "c=", "r="))
    assert frame == {"message": "Internal server error", "connectionId": "c=", "requestId": "r="}


def test_ids_look_like_api_gateways():
    """Ids are 16 URL-safe characters ending in '=' and differ each time."""
    first, second = events.new_id(), events.new_id()
    assert len(first) == 16 and first.endswith("=") and first != second
    assert "/" not in first and "+" not in first


def test_connect_headers_drop_the_upgrade_and_add_what_aws_adds():
    """Upgrade/Connection go; X-Amzn-Trace-Id, X-Forwarded-For/Port/Proto (443, https) come."""
    received = [("Host", "h"), ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("A", "b")]
    headers = dict(events.connect_headers(received, "10.0.0.1", 1_700_000_000_000))
    assert "Upgrade" not in headers and "Connection" not in headers
    assert headers["A"] == "b" and headers["Host"] == "h"
    assert headers["X-Forwarded-For"] == "10.0.0.1"
    assert (headers["X-Forwarded-Port"], headers["X-Forwarded-Proto"]) == ("443", "https")
    root, version, epoch, random = headers["X-Amzn-Trace-Id"].replace("=", "-").split("-")
    assert (root, version, int(epoch, 16), len(random)) == ("Root", "1", 1_700_000_000, 24)


def test_disconnect_event_headers_as_captured_on_aws():
    """DISCONNECT headers: Host, x-api-key, X-Forwarded-For and x-restapi, as AWS sends."""
    event = events.disconnect_event(ENDPOINT, PEER, 1000, "", request_id="r", now_ms=3)
    assert event["headers"] == {
        "Host": "127.0.0.1:8765",
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
