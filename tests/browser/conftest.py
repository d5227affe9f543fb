"""Headless Chromium against a real server started on the test database.

The browser is Debian's chromium (never a downloaded one). A test logs in by copying the
session cookie that Django's test client makes: the server runs with the same SECRET_KEY.

Playwright's sync API keeps an asyncio loop running on the test's thread while it is
started, and Django refuses ORM calls from a thread with a running loop. So Playwright
starts lazily, on the test's first `login(...)` (after every fixture has made its rows),
and stops before the database is flushed; database work in between goes through
`in_thread`.
"""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import pytest
from django.db import connections
from django.test import Client
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import *  # noqa: F403 (the real-server fixtures)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
LAPTOP = {"width": 1366, "height": 768}
WAIT_MS = 30_000  # generous: these are waits for a condition, not limits on speed

expect.set_options(timeout=WAIT_MS)


def in_thread(fn, *args, **kwargs):
    """Run database code on a worker thread (no asyncio loop there), and wait for it."""

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class Browser:
    """Chromium, started on first use and stopped at the end of the test."""

    def __init__(self):
        self.manager = None
        self.browser = None

    def get(self):
        if self.browser is None:
            self.manager = sync_playwright().start()
            self.browser = self.manager.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
        return self.browser

    def stop(self):
        if self.browser is not None:
            self.browser.close()
            self.manager.stop()
        self.browser = self.manager = None


@pytest.fixture
def browser(transactional_db):
    # Depends on transactional_db so that it stops before the database is flushed.
    holder = Browser()
    yield holder
    holder.stop()


@pytest.fixture
def login(browser, user):
    """`login(server_url, viewport=LAPTOP, as_user=user)` -> a new page signed in on that server
    (`as_user=False`: a page without a session, to log in through the login page)."""

    def make(server_url, *, viewport=LAPTOP, as_user=None):
        cookie = in_thread(session_cookie, as_user or user) if as_user is not False else None
        context = browser.get().new_context(viewport=viewport)
        context.set_default_timeout(WAIT_MS)
        if cookie:
            context.add_cookies([{"name": "sessionid", "value": cookie, "url": server_url}])
        page = context.new_page()
        page.errors = []  # uncaught script errors; tests assert there are none
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    return make


@pytest.fixture
def screenshot():
    """`screenshot(page, "name")` saves test-artifacts/screenshots/name.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    return save
