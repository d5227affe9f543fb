"""The starter templates as a visitor's browser runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from published_apps import publishing
from tests.factories import make_app

pytestmark = pytest.mark.browser

TODO = Path(__file__).resolve().parents[2] / "published_apps" / "starters" / "todo"


def add_item(page, title: str) -> None:
    page.get_by_label("New item").fill(title)
    page.get_by_role("button", name="Add").click()


def test_the_published_todo_app_works_in_memory_and_says_it_cannot_keep_items(embedded_server, login, user):
    app = make_app(user, name="Chores", template="todo")
    publishing.publish(app=app)
    page = login(embedded_server.url, as_user=False)
    page.goto(f"{embedded_server.url}/p/{app.slug}/")
    # Served sandboxed (an opaque origin): the browser refuses it storage.
    expect(page.locator("#storage-note")).to_be_visible()
    add_item(page, "Water the plants")
    expect(page.locator("#todo-list li")).to_have_count(1)
    expect(page.locator("#summary")).to_have_text("1 of 1 left")
    assert page.errors == []


def test_the_todo_app_keeps_its_items_where_the_page_may_store_them(login, browser):
    # The same files on an ordinary origin (routed in the browser, no sandbox policy).
    page = login("http://todo.test", as_user=False)
    files = {"/": ("index.html", "text/html"), "/app.js": ("app.js", "text/javascript"),
             "/styles.css": ("styles.css", "text/css")}  # fmt: skip

    def serve(route):
        path = route.request.url.removeprefix("http://todo.test")
        name, content_type = files[path]
        route.fulfill(body=(TODO / name).read_bytes(), content_type=content_type)

    page.route("http://todo.test/**", serve)
    page.goto("http://todo.test/")
    expect(page.locator("#storage-note")).to_be_hidden()
    add_item(page, "Water the plants")
    page.reload()
    expect(page.locator("#todo-list li")).to_have_text(["Water the plantsDelete"])
    assert page.errors == []


def test_a_published_app_loads_its_own_modules_data_and_fonts(embedded_server, login, user, tmp_path):
    """Sandboxed, the page's origin is `null`: its module imports, fetch() and web fonts are
    cross-origin requests to its own files, which the server allows."""
    from published_apps import revisions

    app = make_app(user, name="Modern")
    work = tmp_path / "w"
    revisions.materialise(app.draft_revision, work)
    (work / "index.html").write_text(
        '<!doctype html><style>@font-face { font-family: Own; src: url("own.ttf"); }</style>'
        '<p id="out" style="font-family: Own">loading</p><script type="module" src="main.js"></script>'
    )
    (work / "main.js").write_text(
        'import { greet } from "./util.js";\n'
        'const data = await (await fetch("data.json")).json();\n'
        'await document.fonts.load("1em Own");\n'
        'document.getElementById("out").textContent = greet(data.name) + " / fonts: " + document.fonts.check("1em Own");\n'
    )
    (work / "util.js").write_text("export const greet = (name) => `Hello, ${name}`;\n")
    (work / "data.json").write_text('{"name": "module"}')
    # Any TrueType font the system has (Chromium's package depends on some).
    font = next(Path("/usr/share/fonts").rglob("*.ttf"))
    (work / "own.ttf").write_bytes(font.read_bytes())
    revisions.set_draft(
        app, revisions.snapshot(app=app, root=work, parent=app.draft_revision, source="manual")
    )
    publishing.publish(app=app)

    page = login(embedded_server.url, as_user=False)
    blocked = []
    page.on("console", lambda msg: blocked.append(msg.text) if "CORS" in msg.text else None)
    page.goto(f"{embedded_server.url}/p/{app.slug}/")
    expect(page.locator("#out")).to_have_text("Hello, module / fonts: true")
    assert blocked == [] and page.errors == []
