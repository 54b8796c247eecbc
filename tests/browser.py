"""Debian's chromium, headless, driven by Playwright for the viewer's tests and benchmark (WebGL on SwiftShader)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

# As this machine's probe runs it: no sandbox (root), WebGL on SwiftShader (no GPU), and none of Chromium's own
# network chatter, which the closed network here refuses many at a time.
CHROMIUM_ARGS = [
    "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


@contextlib.contextmanager
def chromium(executable: str) -> Iterator:
    """A launched headless chromium (Playwright's Browser) at `executable` (scripts/tools.sh chromium)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_ready(page, timeout_ms: int = 120_000) -> None:
    """Until the viewer has opened its item (window.radlab.ready), else fail saying what the page said."""
    try:
        page.wait_for_function("() => window.radlab && window.radlab.ready === true", timeout=timeout_ms)
    except Exception as error:
        said = page.evaluate("() => [document.querySelector('#banner')?.textContent, "
                             "document.querySelector('#messages')?.textContent]")
        raise AssertionError(f"the viewer did not open its item: banner {said[0]!r}, message {said[1]!r}") from error
