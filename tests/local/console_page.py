"""The console page as a person uses it: what it shows and its controls, read from the DOM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.local.browser import wait_for


@dataclass(frozen=True)
class Row:
    connection_id: str
    source: str
    user_agent: str
    is_self: bool


@dataclass(frozen=True)
class InvocationItem:
    function: str
    route: str
    duration: str
    outcome: str
    label: str
    logs: str
    connection_id: str | None


class ConsolePage:
    """The console open in ``driver``."""

    def __init__(self, driver: Any, url: str) -> None:
        self.driver = driver
        driver.get(url)

    def _script(self, script: str) -> Any:
        return self.driver.execute_script(script)

    # What it shows ------------------------------------------------------------------------
    def status(self) -> str:
        return self._script("return document.getElementById('status').dataset.state")

    def rows(self) -> list[Row]:
        found = self._script(
            """return [...document.querySelectorAll('#connections tbody tr[data-id]')].map(r => [
                 r.dataset.id, r.querySelector('.source').textContent,
                 r.querySelector('.agent').textContent, r.classList.contains('self')])"""
        )
        return [Row(*row) for row in found]

    def log(self) -> list[tuple[str, str]]:
        """(direction, text) of every line in the message log, oldest first."""
        found = self._script(
            """return [...document.querySelectorAll('#log li')].map(li =>
                 [li.dataset.direction, li.querySelector('pre')?.textContent ?? li.textContent])"""
        )
        return [tuple(item) for item in reversed(found)]

    def invocations(self) -> list[InvocationItem]:
        """Every invocation shown, oldest first."""
        found = self._script(
            """return [...document.querySelectorAll('#invocations li')].map(li => [
                 li.querySelector('.function').textContent, li.querySelector('.route').textContent,
                 li.querySelector('.duration').textContent, li.dataset.outcome,
                 li.querySelector('.outcome').textContent,
                 li.querySelector('.logs').textContent, li.dataset.connection || null])"""
        )
        return [InvocationItem(*item) for item in reversed(found)]

    # Waiting on it --------------------------------------------------------------------------
    def wait(self, condition, what: str) -> Any:
        return wait_for(self.driver, lambda _: condition(), what)

    def wait_connected(self) -> Row:
        """The page's own row, once its socket is open and it knows its id."""
        self.wait(lambda: self.status() == "open", "the page's connection opens")
        return self.wait(
            lambda: next((row for row in self.rows() if row.is_self), None),
            "the page's own connection is listed as 'this page'",
        )

    # Using it -------------------------------------------------------------------------------
    def expand_invocation(self, route: str) -> None:
        """Open the newest invocation of ``route`` to show its log lines."""
        from selenium.webdriver.common.by import By

        selector = f'#invocations li[data-route="{route}"] summary'
        self.driver.find_element(By.CSS_SELECTOR, selector).click()

    def send(self, text: str, mode: str = "raw", to: str | None = None) -> None:
        """Type ``text`` and press Send frame (raw), Broadcast or Send to (``to``)."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        box = self.driver.find_element(By.ID, "message")
        box.clear()
        box.send_keys(text)
        if to is not None:
            self.wait(lambda: to in [row.connection_id for row in self.rows()], f"{to} listed")
            Select(self.driver.find_element(By.ID, "target")).select_by_value(to)
        button = {"raw": "send-raw", "broadcast": "send-broadcast", "send": "send-to"}[mode]
        self.driver.find_element(By.ID, button).click()
