"""The console in a real browser (headless Chromium): what a person sees and does on it,
against the emulator, with wsctl's own client on the other side. Skipped, with the reason,
where there is no browser; .ci/run installs one."""

from __future__ import annotations

import asyncio
import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.auth.local_process import up_local
from tests.local import browser
from tests.local.conftest import write_service
from tests.local.console_page import ConsolePage
from tests.local.console_scene import CliClient, other_rows, set_scene
from tests.local.test_observe import LOGGING_HANDLER, LOGGING_TOML
from wsctl.config import CONFIG_FILE, bundled_service_dir, parse_spec_file
from wsctl.local import LocalService

pytestmark = pytest.mark.skipif(browser.missing() is not None, reason=str(browser.missing()))


@pytest.fixture(scope="module")
def driver() -> Iterator:
    """One browser for the module; each test opens its own page on its own stack."""
    with browser.chromium() as chromium:
        yield chromium


@pytest.fixture
def bundled() -> Iterator[LocalService]:
    """The bundled service (it speaks wsctl's protocol: broadcast, send, whoami)."""
    with LocalService(parse_spec_file(bundled_service_dir() / CONFIG_FILE)) as service:
        yield service


@pytest.fixture
def logging_service(tmp_path: Path) -> Iterator[LocalService]:
    """A service whose handlers log, and raise on request (see test_observe)."""
    spec = write_service(tmp_path / "logs", LOGGING_TOML, LOGGING_HANDLER)
    with LocalService(spec) as service:
        yield service


@pytest.fixture
def cli_client() -> Iterator:
    started: list[CliClient] = []

    def start(url: str) -> CliClient:
        started.append(CliClient(url))
        return started[-1]

    yield start
    for client in started:
        client.close()


def test_page_loads_and_shows_its_own_connection(driver, bundled):
    """The page connects over its own WebSocket and lists itself, as the stack sees it."""
    page = ConsolePage(driver, bundled.console_url)
    own = page.wait_connected()
    assert "HeadlessChrome" in own.user_agent and own.source == "127.0.0.1"
    assert bundled.connection_count() == 1
    # Its id is the one the service itself reports (the whoami reply in the log).
    whoami = page.wait(
        lambda: next((text for _, text in page.log() if '"whoami"' in text), None), "whoami"
    )
    assert json.loads(whoami)["connectionId"] == own.connection_id


def test_a_wsctl_client_appears_and_leaves(driver, bundled, cli_client):
    """A second client (wsctl connect) shows up in the table with its user agent, then goes."""
    page = ConsolePage(driver, bundled.console_url)
    page.wait_connected()
    client = cli_client(bundled.url)
    second = page.wait(lambda: other_rows(page), "the wsctl client is listed")[0]
    assert second.user_agent.startswith("wsctl/")
    client.close()
    page.wait(lambda: not other_rows(page), "the wsctl client's row is removed")


def test_broadcast_from_the_cli_appears_in_the_pages_log(driver, bundled, cli):
    """`wsctl broadcast` reaches the page; its frame is in the message log."""
    page = ConsolePage(driver, bundled.console_url)
    own = page.wait_connected()
    result = cli("broadcast", '{"note": "hello from the CLI"}', bundled.url)
    assert result.exit_code == 0, result.stderr
    frame = page.wait(
        lambda: next(
            (text for d, text in page.log() if d == "in" and "from the CLI" in text), None
        ),
        "the broadcast is in the page's log",
    )
    received = json.loads(frame)
    assert received["type"] == "broadcast" and received["message"] == {"note": "hello from the CLI"}
    assert received["from"] != own.connection_id


def test_a_message_sent_from_the_page_reaches_the_cli_client(driver, bundled, cli_client):
    """Send to one connection chosen in the page, then broadcast: wsctl connect prints both."""
    page = ConsolePage(driver, bundled.console_url)
    page.wait_connected()
    client = cli_client(bundled.url)
    target = page.wait(lambda: other_rows(page), "the wsctl client is listed")[0]
    page.send('{"text": "hi from the browser"}', mode="send", to=target.connection_id)
    line = page.wait(
        lambda: next((line for line in client.lines if "hi from the browser" in line), None),
        "wsctl connect prints the page's message",
    )
    frame = json.loads(line)
    assert frame["type"] == "message" and frame["message"] == {"text": "hi from the browser"}
    ack = page.wait(
        lambda: next((text for _, text in page.log() if '"ack"' in text), None), "the ack"
    )
    assert json.loads(ack)["delivered"] == 1
    # Broadcast from the page: the CLI client gets it too (and the page, the sender, as well).
    page.send('"to everyone"', mode="broadcast")
    line = page.wait(
        lambda: next((line for line in client.lines if "to everyone" in line), None),
        "wsctl connect prints the page's broadcast",
    )
    assert json.loads(line)["type"] == "broadcast" and json.loads(line)["message"] == "to everyone"


def test_an_invocation_appears_with_its_duration_and_log_lines(driver, logging_service):
    """The page's own $connect and a message each show function, route, duration and logs."""
    page = ConsolePage(driver, logging_service.console_url)
    page.wait(lambda: page.status() == "open", "the page's connection opens")
    page.send("good morning")
    item = page.wait(
        lambda: next((i for i in page.invocations() if "got good morning" in i.logs), None),
        "the message's invocation is listed",
    )
    assert (item.function, item.route, item.outcome, item.label) == (
        "default",
        "$default",
        "ok",
        "ok",
    )
    assert re.fullmatch(r"\d+\.\d ms", item.duration), item.duration
    connect_item = next(i for i in page.invocations() if i.route == "$connect")
    assert connect_item.logs == f"[INFO] hello {connect_item.connection_id}"
    assert item.connection_id == connect_item.connection_id


def test_a_handler_that_raises_shows_as_failed(driver, logging_service):
    """A raising handler: the invocation is marked failed with its traceback; the page got
    API Gateway's error frame and is still connected."""
    page = ConsolePage(driver, logging_service.console_url)
    page.wait(lambda: page.status() == "open", "the page's connection opens")
    page.send("raise")
    item = page.wait(
        lambda: next((i for i in page.invocations() if i.outcome != "ok"), None),
        "the failed invocation is listed",
    )
    assert (item.function, item.outcome, item.label) == ("default", "error", "failed (error)")
    assert "ValueError: no thanks" in item.logs and "[WARNING] got raise" in item.logs
    page.wait(
        lambda: any("Internal server error" in text for _, text in page.log()), "the error frame"
    )
    assert page.status() == "open"


def test_auth_token_works_from_the_page(driver, tmp_path):
    """`wsctl up --local --auth token` (the CLI, in its own process): the page connects with
    the token it got from its feed, while a client without the token gets 401."""
    with up_local("wsctl-dev", tmp_path, "--auth", "token") as running:
        output = running.wait_for_output("Console")
        console_url = re.search(r"Console\s+(http://\S+)", output).group(1)
        assert console_url == f"http://127.0.0.1:{running.record.port}/"
        page = ConsolePage(driver, console_url)
        page.wait_connected()
        assert "token" not in driver.current_url
        assert asyncio.run(_handshake_status(running.record.url)) == 401


async def _handshake_status(url: str, origin: str | None = None) -> int:
    try:
        async with connect(url, origin=origin, proxy=None):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


# A page of another site: it tries the stack's WebSocket and the console's feed.
FOREIGN_PAGE = """<!doctype html><title>elsewhere</title><body><pre id="result"></pre><script>
const results = {};
function report(name, value) {
  results[name] = value;
  document.getElementById("result").textContent = JSON.stringify(results);
}
for (const [name, url] of [["stage", "STAGE_URL"], ["feed", "FEED_URL"]]) {
  const ws = new WebSocket(url);
  ws.onopen = () => report(name, "open");
  ws.onclose = (event) => { if (!(name in results)) report(name, "refused " + event.code); };
}
</script>"""


@pytest.fixture
def foreign_site() -> Iterator:
    """Serves FOREIGN_PAGE from http://127.0.0.1:{another port}/, for a given stack."""
    pages: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get("page", b"")
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def site_for(service: LocalService) -> str:
        feed = f"ws://127.0.0.1:{service.port}/@console/feed"
        page = FOREIGN_PAGE.replace("STAGE_URL", service.url).replace("FEED_URL", feed)
        pages["page"] = page.encode()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield site_for
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _foreign_results(driver, origin: str) -> dict:
    driver.get(origin + "/")
    text = browser.wait_for(
        driver,
        lambda d: (t := d.find_element("id", "result").text) and len(json.loads(t)) == 2 and t,
        "the foreign page's two attempts end",
    )
    return json.loads(text)


def test_a_page_from_another_origin_cannot_connect(driver, logging_service, foreign_site):
    """Another origin's page: the stage's handshake is refused with 403 (the browser says so in
    its log; the script sees 1006) and the feed's too; nothing reached $connect. Allowed
    with --allow-origin, the same page connects, which shows the test can tell the difference."""
    heard: list = []
    logging_service.observers.add(heard.append)
    origin = foreign_site(logging_service)
    driver.get_log("browser")  # start from an empty console log
    assert _foreign_results(driver, origin) == {"stage": "refused 1006", "feed": "refused 1006"}
    # Scripts only see 1006; the browser's own log has the handshake's status.
    logged: list[str] = []

    def both_refused_with_403(d) -> bool:
        logged.extend(entry["message"] for entry in d.get_log("browser"))
        refused = [line for line in logged if "Unexpected response code: 403" in line]
        stage = any(f"{logging_service.url}'" in line for line in refused)
        return stage and any("/@console/feed'" in line for line in refused)

    browser.wait_for(driver, both_refused_with_403, "the browser logs both handshakes' 403")
    assert heard == [] and logging_service.connection_count() == 0
    assert asyncio.run(_handshake_status(logging_service.url, origin)) == 403

    spec = logging_service.spec
    logging_service.stop()
    with LocalService(spec, allow_origins=(origin,)) as allowing:
        origin = foreign_site(allowing)
        # The stack's WebSocket is allowed; the console's feed stays its own origin's only.
        assert _foreign_results(driver, origin) == {"stage": "open", "feed": "refused 1006"}


def test_screenshots_at_laptop_and_phone_widths(driver, bundled, cli_client):
    """The console in use (the README's scene) saved at laptop and phone widths, in
    artifacts/console/ for people to look at; on a phone nothing scrolls sideways."""
    set_scene(driver, bundled.console_url, bundled.url, cli_client(bundled.url))
    phone = browser.screenshot(driver, browser.PHONE, browser.ARTIFACTS / "console-phone.png")
    assert browser.png_size(phone) == (780, 1688)  # 390 x 844 CSS pixels at 2x
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
    laptop = browser.screenshot(driver, browser.LAPTOP, browser.ARTIFACTS / "console-laptop.png")
    assert browser.png_size(laptop) == (1280, 800)


def test_a_custom_authorizers_query_parameters_come_from_the_pages_fragment(driver, tmp_path):
    """auth = "custom" reading ?key=: without it the page is refused and says how; once
    #key=ann is added to the page's address it connects again, and the authorizer's run is
    listed."""
    from tests.local.test_own_service import OWN_HANDLER, OWN_TOML

    with LocalService(write_service(tmp_path / "own", OWN_TOML, OWN_HANDLER)) as service:
        page = ConsolePage(driver, service.console_url)
        page.wait(lambda: page.status() == "refused", "the page is refused (no key)")
        assert any("after #" in text for _, text in page.log())
        page = ConsolePage(driver, service.console_url + "#key=ann")
        page.wait(lambda: page.status() == "open", "the page connects with its key")
        page.wait(
            lambda: any(
                i.function == "authorize" and i.outcome == "ok" for i in page.invocations()
            ),
            "the authorizer's invocation is listed",
        )
        assert service.connection_count() == 1
