"""The console in use, as the browser tests set it up and as the README shows it: the page
connected, wsctl's client connected beside it, a broadcast from the CLI, a message from the
page to that client.

    python -m tests.local.console_scene docs/console.png

writes the README's screenshot (laptop width) with the same code the tests use.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tests.local import browser
from tests.local.console_page import ConsolePage, Row

WSCTL = Path(sys.executable).with_name("wsctl")
BROADCAST = '{"note": "hello from the CLI"}'
DIRECT = '{"text": "hi from the browser"}'


class CliClient:
    """``wsctl connect URL`` in its own process, fed from a pipe; its output lines collected."""

    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [str(WSCTL), "connect", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def close(self) -> None:
        """EOF on its stdin: it exits after its wait, as a script's client does."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._reader.join(timeout=5)


def broadcast_from_cli(url: str, message: str) -> None:
    """``wsctl broadcast MESSAGE URL``, as a person types it."""
    result = subprocess.run(
        [str(WSCTL), "broadcast", message, url], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def other_rows(page: ConsolePage) -> list[Row]:
    return [row for row in page.rows() if not row.is_self]


def set_scene(driver: Any, console_url: str, url: str, client: CliClient) -> ConsolePage:
    """The page beside ``client`` (already started), after a broadcast and a direct message."""
    page = ConsolePage(driver, console_url)
    page.wait_connected()
    other = page.wait(lambda: other_rows(page), "the wsctl client is listed")[0]
    broadcast_from_cli(url, BROADCAST)
    page.wait(lambda: any("from the CLI" in text for _, text in page.log()), "the broadcast")
    page.send(DIRECT, mode="send", to=other.connection_id)
    page.wait(lambda: any("hi from the browser" in line for line in client.lines), "delivery")
    page.wait(lambda: any('"ack"' in text for _, text in page.log()), "the ack")
    page.expand_invocation("broadcast")  # its log line: who broadcast, how many got it
    return page


def main(target: Path) -> None:
    from wsctl.config import CONFIG_FILE, bundled_service_dir, parse_spec_file
    from wsctl.local import LocalService

    reason = browser.missing()
    if reason:
        sys.exit(f"No browser: {reason}")
    spec = parse_spec_file(bundled_service_dir() / CONFIG_FILE)
    with LocalService(spec) as service, browser.chromium() as driver:
        client = CliClient(service.url)
        try:
            set_scene(driver, service.console_url, service.url, client)
            browser.screenshot(driver, browser.LAPTOP, target)
        finally:
            client.close()
    print(f"wrote {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/console.png"))
