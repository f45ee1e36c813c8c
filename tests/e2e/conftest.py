import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from a
# thread with a running loop unless told that this is intended (it is: tests set up data
# synchronously, and the live server runs in its own thread).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

# Debian's Chromium, not Playwright's download (which cannot reach its CDN from here).
CHROMIUM = next(
    (
        path
        for path in ("/usr/bin/chromium", shutil.which("chromium"))
        if path and Path(path).exists()
    ),
    None,
)


SKIP_REASON = "Chromium is not installed (apt-get install chromium); CI installs it"


@pytest.fixture(autouse=True)
def _needs_chromium():
    if CHROMIUM is None:
        pytest.skip(SKIP_REASON)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Session fixtures are set up before the autouse one above, so skip here too.
    if CHROMIUM is None:
        pytest.skip(SKIP_REASON)
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}, "locale": "en-US"}


@pytest.fixture
def browser_log(page: Page, live_server):
    """Console errors, page errors and every request that left the live server."""
    log = {"errors": [], "external": []}

    def on_console(message):
        # Failed loads are reported with their address by on_response instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            log["errors"].append(message.text)

    def on_response(response):
        if response.status >= 400:
            log["errors"].append(f"{response.status} {response.url}")

    def on_request(request):
        if not request.url.startswith((live_server.url, "data:", "blob:")):
            log["external"].append(request.url)

    page.on("pageerror", lambda error: log["errors"].append(str(error)))
    page.on("console", on_console)
    page.on("request", on_request)
    page.on("response", on_response)
    return log
