import hashlib
import json
import os

import pytest

from sandbox.files import (
    INVALID_ARGUMENT,
    LINE_OUT_OF_RANGE,
    delete_file,
    read_file_range,
    rename_file,
    split_lines,
    write_file,
)
from sandbox.paths import (
    DEFAULT_MAX_FILE_BYTES,
    FILE_BINARY,
    FILE_EXISTS,
    FILE_NOT_FOUND,
    FILE_TOO_LARGE,
    NOT_A_FILE,
    PATH_FORBIDDEN,
    PATH_INVALID,
    PATH_OUTSIDE_WORKSPACE,
    PolicyError,
)

TEN_LINES = "".join(f"line {n}\n" for n in range(1, 11))


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "app.js").write_text(TEN_LINES)
    return root


def refusal(fn, *args, **kwargs) -> PolicyError:
    with pytest.raises(PolicyError) as exc:
        fn(*args, **kwargs)
    json.dumps(exc.value.as_dict())
    return exc.value


def texts(content: str) -> list[str]:
    """The file text of each numbered line."""
    return [row.split("| ", 1)[1] for row in content.split("\n")]


# read_file_range


def test_reading_without_a_range_returns_every_numbered_line(ws):
    result = read_file_range(ws, path="app.js")
    json.dumps(result)
    assert result["path"] == "app.js"
    assert (result["start_line"], result["end_line"], result["total_lines"]) == (1, 10, 10)
    assert result["content"].split("\n")[0] == " 1| line 1"
    assert result["content"].split("\n")[9] == "10| line 10"
    assert result["sha256"] == hashlib.sha256(TEN_LINES.encode()).hexdigest()
    assert result["truncated"] is False
    assert result["next_start_line"] is None


def test_a_range_returns_exactly_those_lines(ws):
    result = read_file_range(ws, path="app.js", start_line=3, end_line=5)
    assert (result["start_line"], result["end_line"]) == (3, 5)
    assert texts(result["content"]) == ["line 3", "line 4", "line 5"]


def test_context_lines_widen_the_range_within_the_file(ws):
    result = read_file_range(ws, path="app.js", start_line=2, end_line=2, context_lines=3)
    assert (result["start_line"], result["end_line"]) == (1, 5)
    result = read_file_range(ws, path="app.js", start_line=9, context_lines=3)
    assert (result["start_line"], result["end_line"]) == (6, 10)


def test_an_end_line_past_the_end_is_clamped(ws):
    result = read_file_range(ws, path="app.js", start_line=8, end_line=500)
    assert (result["start_line"], result["end_line"]) == (8, 10)


def test_numeric_strings_are_accepted_as_line_numbers(ws):
    result = read_file_range(ws, path="app.js", start_line="4", end_line="4")
    assert texts(result["content"]) == ["line 4"]


def test_a_start_line_past_the_end_is_out_of_range(ws):
    error = refusal(read_file_range, ws, path="app.js", start_line=11)
    assert (error.code, error.field) == (LINE_OUT_OF_RANGE, "start_line")
    assert "10 lines" in error.message


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"start_line": 0}, "start_line"),
        ({"start_line": -3}, "start_line"),
        ({"start_line": "first"}, "start_line"),
        ({"start_line": True}, "start_line"),
        ({"start_line": 2.5}, "start_line"),
        ({"end_line": "x"}, "end_line"),
        ({"start_line": 5, "end_line": 4}, "end_line"),
        ({"context_lines": -1}, "context_lines"),
        ({"max_bytes": 10}, "max_bytes"),
        ({"max_bytes": "lots"}, "max_bytes"),
    ],
)
def test_bad_argument_values_name_their_field(ws, kwargs, field):
    error = refusal(read_file_range, ws, path="app.js", **kwargs)
    assert (error.code, error.field) == (INVALID_ARGUMENT, field)


def test_the_byte_budget_cuts_the_range_and_says_where_to_continue(ws):
    (ws / "big.css").write_text("".join(f".rule-{n} {{ color: red; }}\n" for n in range(1, 1001)))
    result = read_file_range(ws, path="big.css", max_bytes=1000)
    assert result["truncated"] is True
    assert len(result["content"].encode()) <= 1000
    assert result["next_start_line"] == result["end_line"] + 1
    following = read_file_range(ws, path="big.css", start_line=result["next_start_line"], max_bytes=1000)
    assert following["start_line"] == result["end_line"] + 1


def test_a_single_line_longer_than_the_budget_is_clipped_not_dropped(ws):
    (ws / "min.js").write_text("var a=" + "1+" * 5000 + "1;\n")
    result = read_file_range(ws, path="min.js", max_bytes=500)
    assert result["truncated"] is True
    assert (result["start_line"], result["end_line"]) == (1, 1)
    assert result["content"].startswith("1| var a=1+1+")
    assert result["content"].endswith("[line clipped]")
    assert len(result["content"].encode()) <= 500


def as_sent(text: str) -> int:
    """Bytes of `text` as a JSON string in a tool result."""
    return len(json.dumps(text, ensure_ascii=False).encode())


def test_the_budget_counts_lines_as_a_tool_result_sends_them(ws):
    # Each `"` is sent as `\\"`: counted on disk, these lines would overrun the budget.
    (ws / "data.json").write_text("".join(f'  {{"id": "{n}", "tag": "\\t"}},\n' for n in range(500)))
    result = read_file_range(ws, path="data.json", max_bytes=1000)
    assert result["truncated"] is True
    assert 1000 - 60 < as_sent(result["content"]) <= 1000  # a line costs about 50
    assert texts(result["content"])[-1] == f'  {{"id": "{result["end_line"] - 1}", "tag": "\\t"}},'
    assert result["next_start_line"] == result["end_line"] + 1


def test_a_clipped_line_fits_the_budget_as_sent(ws):
    (ws / "min.json").write_text('"\x01é' * 3000 + "\n")
    result = read_file_range(ws, path="min.json", max_bytes=500)
    assert (result["end_line"], result["truncated"]) == (1, True)
    assert result["content"].endswith("[line clipped]")
    assert 450 < as_sent(result["content"]) <= 500


def test_an_empty_file_has_no_lines(ws):
    (ws / "empty.txt").write_text("")
    result = read_file_range(ws, path="empty.txt")
    assert (result["start_line"], result["end_line"], result["total_lines"]) == (0, 0, 0)
    assert result["content"] == ""
    assert refusal(read_file_range, ws, path="empty.txt", start_line=2).code == LINE_OUT_OF_RANGE


def test_crlf_endings_are_hidden_from_the_text_and_reported(ws):
    (ws / "win.html").write_bytes(b"<p>\r\nhi\r\n</p>\r\n")
    result = read_file_range(ws, path="win.html")
    assert texts(result["content"]) == ["<p>", "hi", "</p>"]
    assert result["line_endings"] == "crlf"
    assert result["total_lines"] == 3


def test_only_newlines_end_lines():
    assert split_lines("a\u2028b\x0cc\nd") == ["a\u2028b\x0cc", "d"]
    assert split_lines("a\n\n") == ["a", ""]
    assert split_lines("") == []


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("missing.js", FILE_NOT_FOUND),
        ("../app.js", PATH_OUTSIDE_WORKSPACE),
        (".git/config", PATH_FORBIDDEN),
        ("logo.png", FILE_BINARY),
        ("huge.txt", FILE_TOO_LARGE),
        ("dir", NOT_A_FILE),
    ],
)
def test_reading_refuses_what_the_policy_refuses(ws, path, code):
    (ws / "logo.png").write_bytes(b"\x89PNG\x00\x00")
    (ws / "huge.txt").write_bytes(b"a" * (DEFAULT_MAX_FILE_BYTES + 1))
    (ws / "dir").mkdir()
    error = refusal(read_file_range, ws, path=path)
    assert (error.code, error.field) == (code, "path")


# write_file


def test_writing_a_new_file_creates_its_directories(ws):
    result = write_file(ws, path="pages/about/index.html", content="<h1>About</h1>\n")
    assert result == {
        "path": "pages/about/index.html",
        "change": "added",
        "size": 15,
        "sha256": hashlib.sha256(b"<h1>About</h1>\n").hexdigest(),
        "lines": 1,
    }
    assert (ws / "pages/about/index.html").read_text() == "<h1>About</h1>\n"
    assert oct((ws / "pages/about/index.html").stat().st_mode & 0o777) == oct(0o644)


def test_writing_an_existing_file_replaces_it_and_keeps_its_mode(ws):
    os.chmod(ws / "app.js", 0o755)
    result = write_file(ws, path="app.js", content="let b = 2;\n")
    assert result["change"] == "modified"
    assert (ws / "app.js").read_text() == "let b = 2;\n"
    assert (ws / "app.js").stat().st_mode & 0o777 == 0o755
    assert [p.name for p in ws.iterdir()] == ["app.js"]  # no temporary file left behind


def test_writing_too_much_is_refused_and_nothing_changes(ws):
    error = refusal(write_file, ws, path="app.js", content="x" * (DEFAULT_MAX_FILE_BYTES + 1))
    assert (error.code, error.field) == (FILE_TOO_LARGE, "content")
    assert (ws / "app.js").read_text() == TEN_LINES


@pytest.mark.parametrize(
    ("path", "content", "code", "field"),
    [
        ("../x.js", "", PATH_OUTSIDE_WORKSPACE, "path"),
        (".git/hooks/pre-commit", "#!/bin/sh", PATH_FORBIDDEN, "path"),
        ("app.js/inner.js", "", PATH_INVALID, "path"),
        ("sub", "", NOT_A_FILE, "path"),
        ("ok.js", None, INVALID_ARGUMENT, "content"),
        ("ok.js", b"bytes", INVALID_ARGUMENT, "content"),
        ("ok.js", "half a pair \ud800", INVALID_ARGUMENT, "content"),
    ],
)
def test_writing_refuses_bad_paths_and_content(ws, path, content, code, field):
    (ws / "sub").mkdir()
    error = refusal(write_file, ws, path=path, content=content)
    assert (error.code, error.field) == (code, field)
    assert not (ws / "ok.js").exists()


def test_writing_through_a_link_in_place_of_the_file_is_refused(ws):
    os.symlink(ws / "app.js", ws / "alias.js")
    error = refusal(write_file, ws, path="alias.js", content="x")
    assert error.code == NOT_A_FILE
    assert (ws / "app.js").read_text() == TEN_LINES


# rename_file


def test_renaming_moves_the_file_and_creates_the_new_parents(ws):
    result = rename_file(ws, from_path="app.js", to_path="js/main/app.js")
    assert result["path"] == "js/main/app.js"
    assert (result["from_path"], result["to_path"], result["change"]) == (
        "app.js",
        "js/main/app.js",
        "renamed",
    )
    assert result["sha256"] == hashlib.sha256(TEN_LINES.encode()).hexdigest()
    assert result["size"] == len(TEN_LINES)
    assert not (ws / "app.js").exists()
    assert (ws / "js/main/app.js").read_text() == TEN_LINES


def test_renaming_removes_the_directories_it_leaves_empty(ws):
    write_file(ws, path="old/deep/a.css", content="a{}")
    result = rename_file(ws, from_path="old/deep/a.css", to_path="a.css")
    assert result["removed_dirs"] == ["old/deep", "old"]
    assert sorted(p.name for p in ws.iterdir()) == ["a.css", "app.js"]


def test_renaming_onto_an_existing_file_is_refused(ws):
    (ws / "other.js").write_text("keep me")
    error = refusal(rename_file, ws, from_path="app.js", to_path="./other.js")
    assert (error.code, error.field) == (FILE_EXISTS, "to_path")
    assert (ws / "other.js").read_text() == "keep me"
    assert (ws / "app.js").exists()


@pytest.mark.parametrize(
    ("from_path", "to_path", "code", "field"),
    [
        ("missing.js", "b.js", FILE_NOT_FOUND, "from_path"),
        ("../etc/passwd", "b.js", PATH_OUTSIDE_WORKSPACE, "from_path"),
        ("app.js", "../escaped.js", PATH_OUTSIDE_WORKSPACE, "to_path"),
        ("app.js", ".git/objects/x", PATH_FORBIDDEN, "to_path"),
        ("app.js", "app.js", INVALID_ARGUMENT, "to_path"),
        ("app.js", "./app.js", INVALID_ARGUMENT, "to_path"),
        ("dir", "dir2", NOT_A_FILE, "from_path"),
        ("app.js", "app.js/x.js", PATH_INVALID, "to_path"),
        ("app.js", "dir", FILE_EXISTS, "to_path"),
    ],
)
def test_renaming_names_the_argument_at_fault(ws, from_path, to_path, code, field):
    (ws / "dir").mkdir()
    error = refusal(rename_file, ws, from_path=from_path, to_path=to_path)
    assert (error.code, error.field) == (code, field)
    assert (ws / "app.js").read_text() == TEN_LINES


def test_a_link_is_not_moved_where_its_target_would_change(ws):
    (ws / "sub").mkdir()
    os.symlink("../app.js", ws / "sub" / "link.js")
    error = refusal(rename_file, ws, from_path="sub/link.js", to_path="link.js")
    assert (error.code, error.field) == (NOT_A_FILE, "from_path")


def test_an_oversized_file_can_still_be_renamed(ws):
    (ws / "huge.txt").write_bytes(b"a" * (DEFAULT_MAX_FILE_BYTES + 1))
    assert (
        rename_file(ws, from_path="huge.txt", to_path="archive/huge.txt")["size"]
        == DEFAULT_MAX_FILE_BYTES + 1
    )


# delete_file


def test_deleting_removes_the_file_and_its_empty_parents(ws):
    write_file(ws, path="a/b/c.html", content="<p>x</p>")
    write_file(ws, path="a/keep.html", content="<p>y</p>")
    result = delete_file(ws, path="a/b/c.html")
    json.dumps(result)
    assert result["path"] == "a/b/c.html"
    assert result["change"] == "deleted"
    assert result["size"] == 8
    assert result["sha256"] == hashlib.sha256(b"<p>x</p>").hexdigest()
    assert result["removed_dirs"] == ["a/b"]
    assert sorted(p.name for p in (ws / "a").iterdir()) == ["keep.html"]


def test_deleting_never_removes_the_workspace_root(ws):
    assert delete_file(ws, path="app.js")["removed_dirs"] == []
    assert ws.is_dir()


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("missing.js", FILE_NOT_FOUND),
        ("dir", NOT_A_FILE),
        ("../ws/app.js", PATH_OUTSIDE_WORKSPACE),
        (".git/HEAD", PATH_FORBIDDEN),
        ("", PATH_INVALID),
    ],
)
def test_deleting_refuses_anything_but_a_workspace_file(ws, path, code):
    (ws / "dir").mkdir()
    error = refusal(delete_file, ws, path=path)
    assert (error.code, error.field) == (code, "path")
    assert (ws / "app.js").exists()
