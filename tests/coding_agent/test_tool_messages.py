"""What a refused patch tells the model and the admin: advice that can work, and the key
part of a failure kept within the message cap."""

from __future__ import annotations

from tests.coding_agent.tool_workspace import run, snapshot

CRLF_TEXT = b"<ul>\r\n  <li>one</li>\r\n  <li>two</li>\r\n</ul>\r\n"
LF_HUNK = "--- a/list.html\n+++ b/list.html\n@@ -1,4 +1,4 @@\n <ul>\n   <li>one</li>\n-  <li>two</li>\n+  <li>2</li>\n </ul>\n"


def test_a_crlf_file_patched_with_lf_lines_says_only_line_endings_differ_and_what_works(ctx, ws):
    (ws / "list.html").write_bytes(CRLF_TEXT)
    before = snapshot(ws)
    outcome, body = run(ctx, "coding_agent_apply_patch", {"patch": LF_HUNK})
    message = body["failures"][0]["message"]
    assert "Re-read the current lines" not in message
    assert "line endings" in message and "CRLF" in message
    assert "*** Begin Patch" in message
    assert "*** Begin Patch" in outcome.error["message"]
    assert snapshot(ws) == before

    # Either piece of advice applies.
    crlf_hunk = LF_HUNK.replace("\n", "\r\n").replace("\r\n", "\n", 3)  # headers stay LF
    assert run(ctx, "coding_agent_apply_patch", {"patch": crlf_hunk})[0].ok
    (ws / "list.html").write_bytes(CRLF_TEXT)
    codex = "*** Begin Patch\n*** Update File: list.html\n@@\n   <li>one</li>\n-  <li>two</li>\n+  <li>2</li>\n*** End Patch\n"
    assert run(ctx, "coding_agent_apply_patch", {"patch": codex})[0].ok
    assert (ws / "list.html").read_bytes() == CRLF_TEXT.replace(b"two", b"2")


def test_a_crlf_patch_against_an_lf_file_says_to_send_lf_lines(ctx, ws):
    patch = LF_HUNK.replace("list.html", "index.html").replace("\n", "\r\n")
    patch = "--- a/index.html\n+++ b/index.html\n@@ -1,2 +1,2 @@\r\n-<h1>hello</h1>\r\n+<h1>hi</h1>\r\n <p>one</p>\r\n"
    _, body = run(ctx, "coding_agent_apply_patch", {"patch": patch})
    message = body["failures"][0]["message"]
    assert "Re-read the current lines" not in message
    assert "line endings" in message and "LF" in message
    assert "*** Begin Patch" in message
    assert run(ctx, "coding_agent_apply_patch", {"patch": patch.replace("\r\n", "\n")})[0].ok


def test_deleting_a_directory_says_it_is_a_directory_not_already_applied(ctx, ws):
    before = snapshot(ws)
    outcome, body = run(
        ctx, "coding_agent_apply_patch", {"patch": "*** Begin Patch\n*** Delete File: src\n*** End Patch\n"}
    )
    assert "is a directory" in outcome.error["message"]
    assert "already" not in outcome.error["message"]
    assert body["failures"][0]["already_applied"] is False
    assert snapshot(ws) == before


def test_deleting_a_missing_file_says_it_does_not_exist_without_claiming_already_applied(ctx):
    outcome, body = run(
        ctx,
        "coding_agent_apply_patch",
        {"patch": "*** Begin Patch\n*** Delete File: gone.js\n*** End Patch\n"},
    )
    assert "does not exist" in outcome.error["message"]
    assert "already" not in outcome.error["message"]
    assert body["failures"][0]["already_applied"] is False


def long_path(i: int) -> str:
    return "components/" + "a_rather_long_directory_name_for_this_test/" * 3 + f"widget_{i}.js"


def test_a_failure_across_many_long_paths_keeps_the_first_problem_in_the_message(ctx, ws):
    patch = ""
    for i in range(8):
        path = long_path(i)
        (ws / path).parent.mkdir(parents=True, exist_ok=True)
        (ws / path).write_text(f"// widget {i}\nconst size = {i};\nexport default size;\n")
        patch += (
            f"--- a/{path}\n+++ b/{path}\n@@ -1,3 +1,3 @@\n // widget {i}\n-const size = 99;\n"
            f"+const size = 100;\n export default size;\n"
        )
    outcome, body = run(ctx, "coding_agent_apply_patch", {"patch": patch})
    message = outcome.error["message"]
    assert len(body["failures"]) == 8
    assert "expected 'const size = 99;' but found 'const size = 0;'" in message
    assert message.index("expected 'const size = 99;'") < message.index(long_path(1))


def test_a_long_begin_patch_chunk_keeps_its_closest_match_in_the_message(ctx, ws):
    lines = [
        f"  const value_{i} = compute_something_rather_long({i}, 'with a long argument {i}');"
        for i in range(20)
    ]
    (ws / "long.js").write_text("\n".join(lines) + "\n")
    chunk = (
        "".join(f" {line}\n" for line in lines[:19]) + f"-{lines[19].replace('19', '1900')}\n+  changed;\n"
    )
    patch = f"*** Begin Patch\n*** Update File: long.js\n@@\n{chunk}*** End Patch\n"
    outcome, body = run(ctx, "coding_agent_apply_patch", {"patch": patch})
    assert "Closest match: line 20 expected" in body["failures"][0]["message"]
    assert "Closest match: line 20 expected" in outcome.error["message"]
