"""The console's HTTP side and its feed, with plain HTTP and websockets clients (the browser
tests are in test_console_browser.py)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import textwrap

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.local.conftest import next_json
from tests.local.test_management import http
from wsctl.local import LocalService
from wsctl.local.console import pages


def own_origin(service: LocalService) -> str:
    return f"http://127.0.0.1:{service.port}"


def feed_url(service: LocalService) -> str:
    return f"ws://127.0.0.1:{service.port}{pages.FEED_PATH}"


def test_asset_names_are_plain_files_of_known_types():
    """'/' is the page; only /@console/NAME.{html,css,js,svg}, no traversal or subfolders."""
    assert pages.asset_name("/") == "index.html"
    assert pages.asset_name("/@console/console.js") == "console.js"
    for path in (
        "/@console/../service.py",
        "/@console/a/b.js",
        "/@console/.hidden.js",
        "/@console/feed",
        "/@console/x.py",
        "/index.html",
        "/dev",
    ):
        assert pages.asset_name(path) is None, path


def test_page_and_assets_are_served_with_their_types_and_a_strict_policy(recorder):
    """GET / and its script and style: 200, right type, same-origin-only CSP, no caching."""
    base = recorder.console_url.rstrip("/")
    status, headers, body = http("GET", base + "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'src="/@console/console.js"' in body and b'href="/@console/console.css"' in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    for name, kind in (("console.js", "text/javascript"), ("console.css", "text/css")):
        status, headers, body = http("GET", f"{base}/@console/{name}")
        assert status == 200 and headers["Content-Type"].startswith(kind) and body


def test_every_file_the_page_names_is_served(recorder):
    """No reference to a file the package does not ship (and none to another host)."""

    base = recorder.console_url.rstrip("/")
    page = http("GET", base + "/")[2].decode()
    references = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert references and all(ref.startswith(("/@console/", "data:")) for ref in references)
    for ref in references:
        if ref.startswith("/"):
            assert http("GET", base + ref)[0] == 200, ref
    # Nothing in the shipped files points at another host (no CDN, no font service).
    for name in ("index.html", "console.js", "console.css"):
        text = pages.load(name).body.decode()
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), name


def test_unknown_paths_and_foreign_hosts_are_refused(recorder):
    """Unknown console file: 404; a request naming another host (DNS rebinding): 403."""
    base = recorder.console_url.rstrip("/")
    assert http("GET", base + "/@console/nothing.js")[0] == 404
    assert http("GET", base + "/@console/..%2Fconsole.js")[0] == 404
    assert http("GET", base + "/", headers={"Host": f"evil.example:{recorder.port}"})[0] == 403
    assert http("GET", base + "/", headers={"Host": f"localhost:{recorder.port}"})[0] == 200


async def _feed_status(service: LocalService, origin: str | None) -> int:
    try:
        async with connect(feed_url(service), origin=origin) as feed:
            await next_json(feed)
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def test_feed_answers_the_consoles_own_origin_only(recorder):
    """Own origin: accepted; another page's origin, or no Origin at all (a program): 403."""

    async def scenario():
        return [
            await _feed_status(recorder, origin)
            for origin in (own_origin(recorder), "http://127.0.0.1:1", "null", None)
        ]

    assert asyncio.run(scenario()) == [101, 403, 403, 403]


def test_feed_refuses_a_repeated_origin_or_host(recorder, capsys):
    """Origin or Host sent twice (no browser does): 403, not a server error."""
    own = own_origin(recorder)

    async def status(headers) -> int:
        try:
            async with connect(feed_url(recorder), additional_headers=headers):
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code

    async def scenario():
        twice_origin = [("Origin", own), ("Origin", own)]
        twice_host = [("Origin", own), ("Host", f"127.0.0.1:{recorder.port}")]
        return [await status(twice_origin), await status(twice_host)]

    assert asyncio.run(scenario()) == [403, 403]
    assert "Traceback" not in capsys.readouterr().err


async def _next_after_first_echo(feed) -> dict:
    """The feed's next event, past the first client's echo invocation: that one is reported
    when its function returns, which may be after the client read the echo and the feed
    subscribed."""
    while True:
        event = await next_json(feed)
        if (event.get("type"), event.get("route")) != ("invocation", "echo"):
            return event


def test_feed_reports_connections_and_invocations_as_they_happen(recorder):
    """hello lists who is connected; then invocations, connected and disconnected, in order."""

    async def scenario():
        async with connect(recorder.url) as first:
            await first.send(json.dumps({"action": "echo"}))
            await next_json(first)
            async with connect(feed_url(recorder), origin=own_origin(recorder)) as feed:
                hello = await next_json(feed)
                async with connect(recorder.url, user_agent_header="second/1.0") as second:
                    invocation = await _next_after_first_echo(feed)
                    connected = await _next_after_first_echo(feed)
                    await second.send("raise")
                    await next_json(second)
                    failed = await _next_after_first_echo(feed)
                disconnected = await _next_after_first_echo(feed)
                await _next_after_first_echo(feed)  # the $disconnect invocation
        return hello, connected, invocation, failed, disconnected

    hello, connected, invocation, failed, disconnected = asyncio.run(scenario())
    assert hello["type"] == "hello" and hello["stage"] == "test" and hello["token"] is None
    assert hello["protocol"] is False  # the recorder has no broadcast/send routes
    assert [c["userAgent"].startswith("Python/") for c in hello["connections"]] == [True]
    assert connected["type"] == "connected"
    second_id = connected["connection"]["connectionId"]
    assert connected["connection"]["userAgent"] == "second/1.0"
    # $connect runs during the handshake: its invocation is reported before the connection.
    assert (invocation["type"], invocation["route"]) == ("invocation", "$connect")
    assert invocation["connectionId"] == second_id and invocation["outcome"] == "ok"
    assert (failed["function"], failed["route"], failed["outcome"]) == (
        "default",
        "$default",
        "error",
    )
    assert "default fails on purpose" in failed["logs"][-1] and failed["durationMs"] >= 0
    assert disconnected == {
        "type": "disconnected",
        "connectionId": second_id,
        "code": 1000,
        "reason": "",
    }


def test_feed_hands_the_token_to_the_page(recorder_spec):
    """With a token, the hello carries it (own origin only) for the page's handshake."""
    with LocalService(recorder_spec, auth_token="s3cret-token") as service:

        async def scenario():
            async with connect(feed_url(service), origin=own_origin(service)) as feed:
                return await next_json(feed)

        assert asyncio.run(scenario())["token"] == "s3cret-token"


LAZY_CHECK = """
import sys, urllib.request
from pathlib import Path
import wsctl.cli
from wsctl.config import parse_spec_file
from wsctl.local import LocalService

with LocalService(parse_spec_file(Path(sys.argv[1]))) as service:
    before = "wsctl.local.console" in sys.modules
    urllib.request.urlopen(service.console_url, timeout=10).read()
    print(before, "wsctl.local.console" in sys.modules)
"""


def test_console_is_imported_only_when_someone_opens_it(recorder_spec):
    """The CLI and a started emulator load nothing of the console until a page is asked for."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(LAZY_CHECK), str(recorder_spec.source)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["False", "True"], result.stderr
