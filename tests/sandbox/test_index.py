import hashlib
import json
import os

import pytest

from sandbox.index import OutlineCache, language_of, workspace_index
from sandbox.paths import FILE_NOT_FOUND, PATH_OUTSIDE_WORKSPACE, PolicyError

APP_JS = """\
import { api } from './api.js';

function render(items) {
  return items.map((i) => `<li>${i}</li>`).join('');
}

const debounce = (fn, ms) => {
  let t;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
};

class TodoList {
  constructor(el) { this.el = el; }
  add(item) { this.el.append(item); }
}

window.onload = function () { render([]); };
"""

STYLE_CSS = """\
body { margin: 0; }
.todo-list > li,
.todo-list > li.done { padding: 4px; }

@media (max-width: 600px) {
  .todo-list { font-size: 12px; }
}
"""

INDEX_HTML = """\
<!doctype html>
<html>
<head><title>Todo app</title></head>
<body>
  <main id="app">
    <ul id="todo-list"></ul>
  </main>
  <script>
    function boot() {}
  </script>
</body>
</html>
"""

TOOLS_PY = """\
class Builder:
    def build(self):
        pass


def main():
    pass
"""


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "index.html").write_text(INDEX_HTML)
    (root / "css").mkdir()
    (root / "css" / "style.css").write_text(STYLE_CSS)
    (root / "js").mkdir()
    (root / "js" / "app.js").write_text(APP_JS)
    (root / "tools.py").write_text(TOOLS_PY)
    (root / "README.md").write_text("# Todo\n")
    (root / "data.json").write_text('{"name": "todo", "items": []}\n')
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    return root


def by_path(result: dict) -> dict:
    return {f["path"]: f for f in result["files"]}


def names(item: dict, kind: str) -> list:
    return [(s["name"], s["line"]) for s in item["symbols"] if s["kind"] == kind]


def test_every_file_is_listed_with_size_hash_and_language(ws):
    result = workspace_index(ws, cache=OutlineCache())
    json.dumps(result)
    files = by_path(result)
    assert {p: f["language"] for p, f in files.items()} == {
        "README.md": "markdown",
        "css/style.css": "css",
        "data.json": "json",
        "index.html": "html",
        "js/app.js": "javascript",
        "logo.png": "binary",
        "tools.py": "python",
    }
    app = files["js/app.js"]
    assert app["size"] == len(APP_JS.encode())
    assert app["sha256"] == hashlib.sha256(APP_JS.encode()).hexdigest()
    assert result["total_files"] == 7
    assert result["truncated"] is False
    assert result["languages"]["javascript"] == 1


def test_javascript_outline_has_functions_arrow_functions_classes_and_methods(ws):
    app = by_path(workspace_index(ws, cache=OutlineCache()))["js/app.js"]
    assert names(app, "function") == [("render", 3), ("debounce", 7), ("window.onload", 17)]
    assert names(app, "class") == [("TodoList", 12)]
    assert names(app, "method") == [("TodoList.constructor", 13), ("TodoList.add", 14)]


def test_css_outline_has_selectors_with_their_media_context(ws):
    css = by_path(workspace_index(ws, cache=OutlineCache()))["css/style.css"]
    assert css["symbols"] == [
        {"kind": "selector", "name": "body", "line": 1},
        {"kind": "selector", "name": ".todo-list > li, .todo-list > li.done", "line": 2},
        {"kind": "selector", "name": ".todo-list", "line": 6, "context": "@media (max-width: 600px)"},
    ]


def test_html_outline_has_the_title_element_ids_and_inline_scripts(ws):
    html = by_path(workspace_index(ws, cache=OutlineCache()))["index.html"]
    assert names(html, "title") == [("Todo app", 3)]
    assert names(html, "id") == [("main#app", 5), ("ul#todo-list", 6)]
    assert names(html, "function") == [("boot", 9)]


def test_python_and_json_have_outlines_too(ws):
    files = by_path(workspace_index(ws, cache=OutlineCache()))
    assert [(s["kind"], s["name"]) for s in files["tools.py"]["symbols"]] == [
        ("class", "Builder"),
        ("method", "Builder.build"),
        ("function", "main"),
    ]
    assert names(files["data.json"], "key") == [("name", 1), ("items", 1)]


def test_a_binary_file_has_no_symbols_and_other_files_none_they_lack(ws):
    files = by_path(workspace_index(ws, cache=OutlineCache()))
    assert files["logo.png"]["symbols"] == []
    assert files["README.md"]["symbols"] == []


def test_symbols_can_be_left_out_and_then_nothing_is_parsed(ws):
    cache = OutlineCache()
    result = workspace_index(ws, include_symbols=False, cache=cache)
    assert all("symbols" not in f for f in result["files"])
    assert by_path(result)["logo.png"]["language"] == "binary"
    assert cache.parses == 0
    # Asking for symbols later outlines each text file once.
    workspace_index(ws, cache=cache)
    assert cache.parses == 5


def test_symbols_per_file_are_capped(ws):
    (ws / "many.js").write_text("".join(f"function f{n}() {{}}\n" for n in range(250)))
    item = by_path(workspace_index(ws, cache=OutlineCache()))["many.js"]
    assert len(item["symbols"]) == 200
    assert item["symbols"][-1] == {"kind": "function", "name": "f199", "line": 200}
    assert item["symbols_truncated"] is True


def test_a_prefix_limits_the_index_to_a_directory_or_a_file(ws):
    assert [f["path"] for f in workspace_index(ws, path_prefix="css/")["files"]] == ["css/style.css"]
    result = workspace_index(ws, path_prefix="./js/app.js")
    assert result["path_prefix"] == "js/app.js"
    assert [f["path"] for f in result["files"]] == ["js/app.js"]


@pytest.mark.parametrize(("prefix", "code"), [("../", PATH_OUTSIDE_WORKSPACE), ("nope", FILE_NOT_FOUND)])
def test_a_bad_prefix_is_refused(ws, prefix, code):
    with pytest.raises(PolicyError) as exc:
        workspace_index(ws, path_prefix=prefix)
    assert (exc.value.code, exc.value.field) == (code, "path_prefix")


def test_links_and_git_internals_are_not_indexed(ws, tmp_path):
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text("[core]")
    (tmp_path / "outside.js").write_text("function secret() {}")
    os.symlink(tmp_path / "outside.js", ws / "linked.js")
    paths = [f["path"] for f in workspace_index(ws)["files"]]
    assert "linked.js" not in paths
    assert not any(p.startswith(".git") for p in paths)


def test_past_max_files_the_rest_is_counted_but_not_listed(ws):
    result = workspace_index(ws, max_files=3)
    assert len(result["files"]) == result["listed_files"] == 3
    assert (result["total_files"], result["truncated"], result["next_offset"]) == (7, True, 3)


def test_an_offset_pages_through_every_file_once(ws):
    everything = [f["path"] for f in workspace_index(ws)["files"]]
    paged, offset = [], 0
    while offset is not None:
        page = workspace_index(ws, max_files=3, offset=offset)
        assert page["offset"] == offset
        paged += [f["path"] for f in page["files"]]
        offset = page["next_offset"]
    assert paged == everything
    last = workspace_index(ws, max_files=3, offset=6)
    assert (last["listed_files"], last["truncated"], last["next_offset"]) == (1, False, None)


def test_an_offset_past_the_end_lists_nothing(ws):
    result = workspace_index(ws, offset=50)
    assert (result["files"], result["total_files"], result["truncated"], result["next_offset"]) == (
        [],
        7,
        False,
        None,
    )


def test_a_byte_budget_lists_whole_files_up_to_it_and_says_where_to_continue(ws):
    result = workspace_index(ws, max_bytes=1500)
    sent = len(json.dumps(result["files"], ensure_ascii=False, separators=(",", ":")).encode())
    assert sent <= 1500
    assert 0 < result["listed_files"] < 7
    assert (result["truncated"], result["next_offset"]) == (True, result["listed_files"])
    rest = workspace_index(ws, offset=result["next_offset"])
    assert len(rest["files"]) == 7 - result["listed_files"]


def test_a_file_whose_outline_alone_passes_the_budget_is_listed_with_fewer_symbols(ws):
    (ws / "many.js").write_text("".join(f"function f{n}() {{}}\n" for n in range(150)))
    result = workspace_index(ws, path_prefix="many.js", max_bytes=2000)
    [item] = result["files"]
    assert 0 < len(item["symbols"]) < 150 and item["symbols_truncated"] is True
    assert len(json.dumps(result["files"], ensure_ascii=False, separators=(",", ":")).encode()) <= 2000
    assert (result["truncated"], result["next_offset"]) == (False, None)


@pytest.mark.parametrize("offset", [-1, "x"])
def test_a_bad_offset_is_refused(ws, offset):
    with pytest.raises(PolicyError) as exc:
        workspace_index(ws, offset=offset)
    assert exc.value.field == "offset"


@pytest.fixture
def big_ws(tmp_path):
    root = tmp_path / "big"
    for n in range(2000):
        folder = root / f"part{n % 20}"
        folder.mkdir(parents=True, exist_ok=True)
        kind = n % 3
        if kind == 0:
            (folder / f"page{n}.html").write_text(f'<html><body><div id="box{n}"></div></body></html>\n')
        elif kind == 1:
            (folder / f"style{n}.css").write_text(f".c{n} {{ color: red; }}\n")
        else:
            (folder / f"mod{n}.js").write_text(f"function fn{n}() {{ return {n}; }}\n")
    return root


@pytest.fixture
def digest_calls(monkeypatch):
    """Counts files actually hashed (a spy around the real hash function)."""
    calls = []
    real = hashlib.file_digest

    def counting(fh, digest):
        calls.append(fh.name)
        return real(fh, digest)

    monkeypatch.setattr(hashlib, "file_digest", counting)
    return calls


def test_an_unchanged_workspace_is_neither_hashed_nor_parsed_again(big_ws, digest_calls):
    cache = OutlineCache()
    first = workspace_index(big_ws, cache=cache, max_files=5000)
    assert first["total_files"] == 2000
    assert (cache.parses, len(digest_calls)) == (2000, 2000)

    second = workspace_index(big_ws, cache=cache, max_files=5000)
    assert second == first
    assert (cache.parses, len(digest_calls), cache.reads) == (2000, 2000, 2000)


def test_changing_one_file_parses_and_hashes_exactly_that_file(big_ws, digest_calls):
    cache = OutlineCache()
    workspace_index(big_ws, cache=cache, max_files=5000)
    changed = big_ws / "part2" / "mod2.js"
    changed.write_text("function fn2() { return 2; }\nfunction added() {}\n")

    result = workspace_index(big_ws, cache=cache, max_files=5000)
    assert cache.parses == 2001
    assert digest_calls[2000:] == [str(changed)]
    assert names(by_path(result)["part2/mod2.js"], "function") == [("fn2", 1), ("added", 2)]


def test_identical_content_is_outlined_once(tmp_path):
    for n in range(5):
        (tmp_path / f"copy{n}.js").write_text("function same() {}\n")
    cache = OutlineCache()
    result = workspace_index(tmp_path, cache=cache)
    assert cache.parses == 1
    assert all(names(f, "function") == [("same", 1)] for f in result["files"])


def test_the_outline_cache_is_bounded(tmp_path):
    for n in range(30):
        (tmp_path / f"f{n}.css").write_text(f".c{n} {{}}\n")
    cache = OutlineCache(max_entries=10)
    workspace_index(tmp_path, cache=cache)
    assert len(cache) == 10
    # The most recently used survive: the last ten files are not parsed again.
    parses = cache.parses
    workspace_index(tmp_path, cache=cache, path_prefix="f9.css")
    assert cache.parses == parses


def test_a_result_cannot_corrupt_the_cache(ws):
    cache = OutlineCache()
    workspace_index(ws, cache=cache)["files"][3]["symbols"].clear()
    by_path(workspace_index(ws, cache=cache))["js/app.js"]["symbols"][0]["name"] = "changed"
    assert names(by_path(workspace_index(ws, cache=cache))["js/app.js"], "function")[0] == ("render", 3)


@pytest.mark.parametrize(
    ("path", "language"),
    [("a.HTML", "html"), ("x.mjs", "javascript"), ("Makefile", "text"), ("a.min.js", "javascript")],
)
def test_language_comes_from_the_extension(path, language):
    assert language_of(path) == language
