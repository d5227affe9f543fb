import hashlib
import json

import pytest

from sandbox.files import INVALID_ARGUMENT
from sandbox.paths import DEFAULT_MAX_FILE_BYTES, FILE_NOT_FOUND, PATH_OUTSIDE_WORKSPACE, PolicyError
from sandbox.search import HARD_MAX_RESULTS, collect_context, search

APP_JS = "".join(
    [
        "const list = document.getElementById('todo-list');\n",
        "\n",
        "function addTodo(text) {\n",
        "  const li = document.createElement('li');\n",
        "  li.textContent = text;\n",
        "  list.append(li);\n",
        "}\n",
    ]
    + [f"// filler {n}\n" for n in range(40)]
    + ["function removeTodo(li) {\n", "  li.remove();\n", "}\n"]
)


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    (root / "js").mkdir(parents=True)
    (root / "js" / "app.js").write_text(APP_JS)
    (root / "index.html").write_text('<ul id="todo-list"></ul>\n<script src="js/app.js"></script>\n')
    (root / "style.css").write_text("#todo-list { list-style: none; }\nLI { color: red; }\n")
    (root / "logo.png").write_bytes(b"\x89PNG\x00todo-list")
    return root


def refusal(fn, *args, **kwargs) -> PolicyError:
    with pytest.raises(PolicyError) as exc:
        fn(*args, **kwargs)
    return exc.value


def where(result: dict) -> list:
    return [(h["path"], h["line"]) for h in result["hits"]]


# search


def test_a_literal_search_finds_every_matching_line(ws):
    result = search(ws, pattern="todo-list")
    json.dumps(result)
    assert where(result) == [("index.html", 1), ("style.css", 1), ("js/app.js", 1)]
    assert result["hits"][0] == {
        "path": "index.html",
        "line": 1,
        "column": 9,
        "text": '<ul id="todo-list"></ul>',
    }
    assert result["truncated"] is False
    assert (result["files_searched"], result["files_with_hits"]) == (3, 3)


def test_binary_files_are_skipped_and_counted(ws):
    result = search(ws, pattern="todo-list")
    assert "logo.png" not in [h["path"] for h in result["hits"]]
    assert result["skipped"]["binary"] == 1


def test_oversized_files_are_skipped_and_counted(ws):
    (ws / "huge.txt").write_text("todo-list\n" * (DEFAULT_MAX_FILE_BYTES // 10 + 1))
    result = search(ws, pattern="todo-list")
    assert result["skipped"]["too_large"] == 1
    assert "huge.txt" not in [h["path"] for h in result["hits"]]


def test_regex_characters_are_literal_unless_regex_is_asked_for(ws):
    assert search(ws, pattern="addTodo(text)")["hits"][0]["line"] == 3
    assert where(search(ws, pattern=r"function \w+Todo", regex=True)) == [("js/app.js", 3), ("js/app.js", 48)]
    assert search(ws, pattern=r"function \w+Todo")["hits"] == []


def test_case_insensitive_search_is_available(ws):
    assert where(search(ws, pattern="li {")) == []
    assert where(search(ws, pattern="li {", case_sensitive=False)) == [("style.css", 2)]


def test_a_prefix_limits_the_search(ws):
    result = search(ws, pattern="todo-list", path_prefix="js")
    assert where(result) == [("js/app.js", 1)]
    assert result["path_prefix"] == "js"


def test_results_stop_at_max_results_with_a_flag(ws):
    result = search(ws, pattern="filler", max_results=5)
    assert len(result["hits"]) == 5
    assert result["truncated"] is True


def test_max_results_is_capped(ws):
    (ws / "many.txt").write_text("hit\n" * 1000)
    result = search(ws, pattern="hit", max_results=100_000)
    assert len(result["hits"]) == HARD_MAX_RESULTS
    assert result["truncated"] is True


def test_long_lines_are_clipped_around_the_match(ws):
    (ws / "min.js").write_text("a" * 5000 + "NEEDLE" + "b" * 5000 + "\n")
    hit = search(ws, pattern="NEEDLE")["hits"][0]
    assert hit["column"] == 5001
    assert "NEEDLE" in hit["text"]
    assert len(hit["text"]) <= 302
    assert hit["text"].startswith("…") and hit["text"].endswith("…")


@pytest.mark.parametrize(
    "pattern",
    ["x(", "[unclosed", "(?P<a>x)(?P<a>y)", "(a+)+$", r"(\w*\s?)*x", r"(.*,){20}", "", "x" * 501, None, 7],
)
def test_invalid_or_catastrophic_patterns_are_refused(ws, pattern):
    error = refusal(search, ws, pattern=pattern, regex=True)
    assert (error.code, error.field) == (INVALID_ARGUMENT, "pattern")


SLOW_PATTERN = ".*a" * 8 + ".*b"  # no nested repetition, yet polynomial backtracking


def test_a_pattern_too_slow_for_a_line_is_refused_naming_the_line(ws):
    (ws / "long.txt").write_text("short line\n" + "a" * 20_000 + "\n")
    error = refusal(search, ws, pattern=SLOW_PATTERN, regex=True, path_prefix="long.txt")
    assert (error.code, error.field) == (INVALID_ARGUMENT, "pattern")
    assert "`long.txt` line 2 (20000 characters)" in error.message and "literal" in error.message


def test_other_threads_run_while_a_regex_backtracks(ws):
    # `re` would hold the interpreter lock throughout: no lease renewal, no tool timeout.
    import threading

    (ws / "long.txt").write_text("a" * 20_000 + "\n")
    count, stop, running = [0], threading.Event(), threading.Event()

    def tick():
        while not stop.is_set():
            count[0] += 1
            running.set()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    running.wait(10)
    try:
        before = count[0]
        with pytest.raises(PolicyError):
            search(ws, pattern=SLOW_PATTERN, regex=True, path_prefix="long.txt")
        assert count[0] - before > 1000
    finally:
        stop.set()
        ticker.join(10)


def test_a_regex_sees_the_whole_of_a_long_line(ws):
    (ws / "min.js").write_text("x" * 5000 + "END\n")
    hit = search(ws, pattern="END$", regex=True)["hits"][0]
    assert (hit["path"], hit["line"], hit["column"]) == ("min.js", 1, 5001)


def test_a_catastrophic_pattern_is_harmless_as_literal_text(ws):
    (ws / "odd.txt").write_text("(a+)+$\n")
    assert where(search(ws, pattern="(a+)+$")) == [("odd.txt", 1)]


@pytest.mark.parametrize(("prefix", "code"), [("../", PATH_OUTSIDE_WORKSPACE), ("missing", FILE_NOT_FOUND)])
def test_a_bad_prefix_is_refused(ws, prefix, code):
    error = refusal(search, ws, pattern="x", path_prefix=prefix)
    assert (error.code, error.field) == (code, "path_prefix")


def test_bad_max_results_is_refused(ws):
    error = refusal(search, ws, pattern="x", max_results=0)
    assert (error.code, error.field) == (INVALID_ARGUMENT, "max_results")


# collect_context


def test_context_around_a_query_shows_numbered_windows(ws):
    result = collect_context(ws, query="removeTodo")
    json.dumps(result)
    assert result["truncated"] is False
    [window] = result["windows"]
    assert (window["path"], window["start_line"], window["end_line"]) == ("js/app.js", 43, 50)
    assert window["match_lines"] == [48]
    assert window["reasons"] == ["match"]
    assert "48| function removeTodo(li) {" in window["content"]
    assert window["total_lines"] == 50
    assert window["sha256"] == hashlib.sha256(APP_JS.encode()).hexdigest()


def test_windows_that_overlap_are_merged(ws):
    result = collect_context(ws, query="li", paths=["js/app.js"])
    app = [w for w in result["windows"] if w["path"] == "js/app.js"]
    # The head (1-40) and the hits at lines 1, 4-6 merge; the hits at 48-49 make one more.
    assert [(w["start_line"], w["end_line"]) for w in app] == [(1, 40), (43, 50)]
    assert app[0]["reasons"] == ["path", "match"]
    assert app[0]["match_lines"] == [1, 4, 5, 6]


def test_requested_paths_come_first_and_show_their_head(ws):
    result = collect_context(ws, paths=["style.css", "index.html"])
    assert [(w["path"], w["start_line"], w["end_line"]) for w in result["windows"]] == [
        ("style.css", 1, 2),
        ("index.html", 1, 2),
    ]
    assert result["windows"][0]["content"] == "1| #todo-list { list-style: none; }\n2| LI { color: red; }"


def test_the_byte_budget_is_respected(ws):
    for n in range(30):
        (ws / f"page{n}.html").write_text("".join(f"<p>{k} {'text ' * 20}</p>\n" for k in range(30)))
    result = collect_context(ws, query="<p>0 ", max_bytes=2000)
    assert result["truncated"] is True
    assert sum(len(w["content"].encode()) + 1 for w in result["windows"]) <= 2000


def test_the_budget_counts_windows_as_a_tool_result_sends_them(ws):
    lines = [f'  {{"id": "{n}", "name": "n{n}", "tag": "t"}},' for n in range(200)]
    for n in range(4):
        (ws / f"data{n}.json").write_text("\n".join(lines) + "\n")
    paths = [f"data{n}.json" for n in range(4)]
    result = collect_context(ws, paths=paths, max_bytes=4000)
    sent = len(json.dumps(result["windows"], ensure_ascii=False, separators=(",", ":")).encode())
    assert sent <= 4000
    assert result["truncated"] is True
    for window in result["windows"]:
        rows = window["content"].split("\n")
        assert len(rows) == window["end_line"] - window["start_line"] + 1
        assert [row.split("| ", 1)[1] for row in rows] == lines[window["start_line"] - 1 : window["end_line"]]


def test_unreadable_paths_are_reported_and_the_rest_returned(ws):
    result = collect_context(ws, paths=["style.css", "../secret", "missing.js", "logo.png"])
    assert [w["path"] for w in result["windows"]] == ["style.css"]
    assert [(e["path"], e["code"], e["field"]) for e in result["errors"]] == [
        ("../secret", PATH_OUTSIDE_WORKSPACE, "paths"),
        ("missing.js", FILE_NOT_FOUND, "paths"),
        ("logo.png", "FILE_BINARY", "paths"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "query"),
        ({"query": None, "paths": []}, "query"),
        ({"query": "   "}, "query"),
        ({"query": 3}, "query"),
        ({"paths": [1, 2]}, "paths"),
        ({"paths": {"a": 1}}, "paths"),
        ({"paths": [f"f{n}.js" for n in range(21)]}, "paths"),
        ({"query": "x", "max_bytes": 5}, "max_bytes"),
    ],
)
def test_context_needs_a_query_or_paths(ws, kwargs, field):
    error = refusal(collect_context, ws, **kwargs)
    assert (error.code, error.field) == (INVALID_ARGUMENT, field)


def test_a_single_path_string_is_accepted(ws):
    assert [w["path"] for w in collect_context(ws, paths="index.html")["windows"]] == ["index.html"]


def test_hits_past_the_cap_make_the_context_truncated(ws):
    (ws / "notes.txt").write_text("".join(f"needle {n}\n\n\n\n\n\n\n\n\n\n\n\n" for n in range(60)))
    result = collect_context(ws, query="needle", max_bytes=100_000)
    assert result["truncated"] is True
    assert sum(len(w["match_lines"]) for w in result["windows"]) == 40
