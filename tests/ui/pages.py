"""What the Prefect UI shows, read through Selenium: pages, the custom run form, artifacts, dialogs.

The default UI of Prefect 3.9 is "V2" (the React UI under /v2: the address `make ui` prints sends a
browser there); the older "V1" UI is one click away ("Switch to V1 UI") and serves /deployments,
/runs, /artifacts. Everything here waits for what a user waits for (a text, a button), never a
fixed time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")
TIMEOUT_S = 45          # a loaded 2-core machine renders the V2 pages slowly

# Everything the test reads of a page, in one round trip: its visible text, its tables (body rows),
# its <details> sections (what is inside each) and its links.
_READ = """
const all = (s) => Array.from(document.querySelectorAll(s));
return {
  text: document.body.innerText,
  tables: all('table').map(t => ({rows: t.querySelectorAll('tbody tr').length,
                                  in_details: t.closest('details') !== null})),
  details: all('details').map(d => ({summary: (d.querySelector('summary') || {}).textContent || '',
                                     rows: d.querySelectorAll('table tbody tr').length,
                                     chars: d.textContent.length})),
  links: all('a[href]').map(a => a.href),
  rows: all('tr').map(r => r.innerText),
};
"""


@dataclass
class Seen:
    """A page as read by _READ."""

    text: str = ""
    tables: list[dict[str, Any]] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)


def read(driver: WebDriver) -> Seen:
    return Seen(**driver.execute_script(_READ))


def wait(driver: WebDriver, what: str, until: Callable[[WebDriver], T | None], timeout_s: float = TIMEOUT_S) -> T:
    """``until(driver)`` once it is truthy; else fails saying what was awaited and what the page shows."""
    def probe(d: WebDriver) -> T | None:
        try:
            return until(d)
        except StaleElementReferenceException:      # re-rendered while read: try again
            return None

    try:
        return cast(T, WebDriverWait(driver, timeout_s, poll_frequency=0.2).until(probe))
    except TimeoutException:
        raise AssertionError(f"the UI did not show {what} within {timeout_s:.0f} s ({driver.current_url}); "
                             f"it shows:\n{read(driver).text[:3000]}") from None


def wait_seen(driver: WebDriver, what: str, shows: Callable[[Seen], bool], timeout_s: float = TIMEOUT_S) -> Seen:
    """The page once ``shows(page)``."""
    def probe(d: WebDriver) -> Seen | None:
        seen = read(d)
        return seen if shows(seen) else None

    return wait(driver, what, probe, timeout_s)


def open_page(driver: WebDriver, url: str, showing: str, timeout_s: float = TIMEOUT_S) -> Seen:
    """Go to ``url`` and wait until its text contains ``showing``."""
    driver.get(url)
    return wait_seen(driver, repr(showing), lambda seen: showing in seen.text, timeout_s)


def reload_until(driver: WebDriver, url: str, what: str, shows: Callable[[Seen], bool],
                 timeout_s: float = 60, every_s: float = 5) -> Seen:
    """Open ``url`` again every ``every_s`` until ``shows(page)``: what a user does waiting for a
    status to change."""
    deadline = time.monotonic() + timeout_s
    while True:
        driver.get(url)
        try:
            return wait_seen(driver, what, shows, min(every_s, max(deadline - time.monotonic(), 0.5)))
        except AssertionError:
            if time.monotonic() >= deadline:
                raise


def click_text(driver: WebDriver, text: str, *, role: str = "", within: str = "") -> None:
    """Click the button (or element of ``role``) whose text is ``text``, once it is there."""
    kind = f"*[@role='{role}']" if role else "button"
    xpath = f"{within}//{kind}[normalize-space()='{text}']"
    element: WebElement = wait(driver, f"a {role or 'button'} {text!r}", lambda d: next(
        (e for e in d.find_elements(By.XPATH, xpath) if e.is_displayed() and e.is_enabled()), None))
    element.click()


def click_link(driver: WebDriver, href_part: str) -> None:
    """Click the first shown link whose address contains ``href_part``."""
    element: WebElement = wait(driver, f"a link to {href_part}", lambda d: next(
        (e for e in d.find_elements(By.CSS_SELECTOR, f"a[href*='{href_part}']") if e.is_displayed()), None))
    element.click()


_INPUT_OF = """
const label = arguments[0], id = label.getAttribute('for');
const own = id && document.getElementById(id);
if (own && own.matches('input, textarea, select, button, [role=switch]')) return own;
for (let node = label.parentElement; node && node !== document.body; node = node.parentElement) {
  const found = node.querySelector('[role=switch], textarea, select, input:not([type=hidden])');
  if (found) return found;
}
return null;
"""


def form_field(driver: WebDriver, label: str, within: str = "") -> WebElement:
    """The input of a parameter form's field whose label starts with ``label`` (``dry_run``, ...):
    the element its label names (V2), else the input next to the label (V1's switches)."""
    def found(d: WebDriver) -> WebElement | None:
        labels = d.find_elements(By.XPATH, f"{within}//label[starts-with(normalize-space(), '{label}')]")
        return next((e for e in (d.execute_script(_INPUT_OF, x) for x in labels) if e is not None), None)

    return wait(driver, f"a field {label!r}", found)


def switch_on(element: WebElement) -> None:
    if element.get_attribute("aria-checked") != "true":
        element.click()
    assert element.get_attribute("aria-checked") == "true", "the switch did not turn on"


def type_over(element: WebElement, text: str) -> None:
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.DELETE)
    element.send_keys(text)
    assert element.get_attribute("value") == text


def markdown_tables(markdown: str) -> int:
    """How many tables a markdown text holds: pipe tables (their |---| line) and HTML tables."""
    return len(re.findall(r"(?m)^\|\s*:?-{3,}", markdown)) + markdown.count("<table")


LINK = re.compile(r"\[[^\]]*\]\(([^()\s]+)\)")


def link_of(artifact: dict[str, Any]) -> str | None:
    """The URL of a link artifact (Prefect keeps them as markdown ``[text](url)``), else None."""
    found = LINK.fullmatch(str(artifact.get("data") or "").strip())
    return found.group(1) if found else None


def artifact_page(driver: WebDriver, url: str, artifact: dict[str, Any]) -> Seen:
    """Open an artifact's page and wait until it is rendered: its key shown, and as many tables as
    its data holds (a table artifact: one), or its link."""
    data, kind = str(artifact.get("data") or ""), artifact["type"]
    tables = 1 if kind == "table" else markdown_tables(data) if kind == "markdown" else 0
    link = link_of(artifact)

    def rendered(d: WebDriver) -> Seen | None:
        seen = read(d)
        ready = artifact["key"] in seen.text and len(seen.tables) >= tables and (link is None or link in seen.links)
        return seen if ready else None

    driver.get(url)
    try:
        return wait(driver, f"artifact {artifact['key']} with {tables} table(s)" + (f" and a link to {link}"
                                                                                      if link else ""), rendered)
    except AssertionError:
        return read(driver)       # the caller's assertions say what is missing


def screenshot(driver: WebDriver, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(path)), f"no screenshot written to {path}"
    return path
