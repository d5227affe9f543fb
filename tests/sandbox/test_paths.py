"""The workspace path policy against hostile and ordinary paths.

Hostile paths are the ones a confused or adversarial model sends: traversal, absolute
paths, invisible and look-alike characters, `.git`, and symbolic links that leave the
workspace. Each must be refused with a stable code naming the argument at fault.
"""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import paths
from sandbox.paths import (
    FILE_NOT_FOUND,
    PATH_FORBIDDEN,
    PATH_INVALID,
    PATH_OUTSIDE_WORKSPACE,
    PolicyError,
    normalize,
    normalize_prefix,
    resolve,
)

HOSTILE_STRINGS = [
    # traversal and absolute
    ("../secret", PATH_OUTSIDE_WORKSPACE),
    ("..", PATH_OUTSIDE_WORKSPACE),
    ("a/../../b", PATH_OUTSIDE_WORKSPACE),
    ("a/./../..", PATH_OUTSIDE_WORKSPACE),
    ("./../x", PATH_OUTSIDE_WORKSPACE),
    ("/etc/passwd", PATH_OUTSIDE_WORKSPACE),
    ("//server/share", PATH_OUTSIDE_WORKSPACE),
    ("~/.ssh/id_rsa", PATH_OUTSIDE_WORKSPACE),
    ("~root/x", PATH_OUTSIDE_WORKSPACE),
    # control and invisible characters
    ("a\x00b.html", PATH_INVALID),
    ("index.html\x00.png", PATH_INVALID),
    ("a\nb", PATH_INVALID),
    ("tab\there", PATH_INVALID),
    ("del\x7f", PATH_INVALID),
    ("esc\x1b[31m", PATH_INVALID),
    ("evil\u202egnp.js", PATH_INVALID),  # right-to-left override
    ("a\u200b/b", PATH_INVALID),  # zero-width space
    ("\ufeffindex.html", PATH_INVALID),  # byte order mark
    ("line\u2028sep", PATH_INVALID),
    # look-alikes
    ("\uff0e\uff0e/etc/passwd", PATH_INVALID),  # fullwidth full stops
    ("\u2024\u2024/etc", PATH_INVALID),  # one dot leader
    ("\u2025/etc", PATH_INVALID),  # two dot leader
    ("..\u2044etc\u2044passwd", PATH_INVALID),  # fraction slash
    ("..\u2215etc", PATH_INVALID),  # division slash
    ("a\uff0fb", PATH_INVALID),  # fullwidth solidus
    ("cafe\u0301.html", PATH_INVALID),  # decomposed (NFD) form
    # separators
    ("..\\windows\\system32", PATH_INVALID),
    ("a\\b.js", PATH_INVALID),
    # forbidden directories
    (".git/config", PATH_FORBIDDEN),
    (".git", PATH_FORBIDDEN),
    ("a/.git/x", PATH_FORBIDDEN),
    ("./.git//HEAD", PATH_FORBIDDEN),
    # sizes
    ("x" * 256 + ".js", PATH_INVALID),
    ("/".join(["abcdefghij"] * 100), PATH_INVALID),
    ("/".join(["d"] * 40) + "/f.js", PATH_INVALID),
    # nothing at all
    ("", PATH_INVALID),
    ("   ", PATH_INVALID),
    (".", PATH_INVALID),
    ("./", PATH_INVALID),
    ("a/..", PATH_OUTSIDE_WORKSPACE),
]


@pytest.mark.parametrize(("path", "code"), HOSTILE_STRINGS, ids=[repr(p)[:40] for p, _ in HOSTILE_STRINGS])
def test_hostile_path_strings_are_refused_with_their_code(tmp_path, path, code):
    with pytest.raises(PolicyError) as exc:
        resolve(tmp_path, path, field="from_path")
    assert exc.value.code == code
    assert exc.value.field == "from_path"
    assert exc.value.as_dict() == {"code": code, "message": exc.value.message, "field": "from_path"}


@pytest.mark.parametrize("value", [None, 3, b"index.html", ["a"], {"path": "a"}])
def test_a_path_that_is_not_a_string_is_refused(tmp_path, value):
    with pytest.raises(PolicyError) as exc:
        resolve(tmp_path, value)
    assert exc.value.code == PATH_INVALID


@pytest.fixture
def workspace(tmp_path):
    """A workspace with one of every kind of symbolic link a hostile tree can hold."""
    root = tmp_path / "ws"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (root / "index.html").write_text("<h1>hi</h1>")
    (root / "src").mkdir()
    (root / "src" / "app.js").write_text("let a = 1;\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    os.symlink(outside, root / "outdir")
    os.symlink("/etc/passwd", root / "passwd")
    os.symlink(root / "nowhere", root / "dangling")
    # a chain: hop1 -> hop2 (inside) -> outside
    os.symlink(outside, root / "hop2")
    os.symlink(root / "hop2", root / "hop1")
    os.symlink(root / ".git", root / "gitlink")
    os.symlink("../../outside", root / "src" / "up")
    # links that stay inside are fine
    os.symlink(root / "src", root / "srclink")
    return root


HOSTILE_LINKS = [
    ("outdir/secret.txt", PATH_OUTSIDE_WORKSPACE),
    ("outdir", PATH_OUTSIDE_WORKSPACE),
    ("outdir/new.txt", PATH_OUTSIDE_WORKSPACE),
    ("passwd", PATH_OUTSIDE_WORKSPACE),
    ("dangling", PATH_OUTSIDE_WORKSPACE),
    ("hop1/secret.txt", PATH_OUTSIDE_WORKSPACE),
    ("src/up/secret.txt", PATH_OUTSIDE_WORKSPACE),
    ("gitlink/config", PATH_FORBIDDEN),
    ("index.html/x.js", PATH_INVALID),
    ("src/app.js/deeper/x", PATH_INVALID),
]


@pytest.mark.parametrize(("path", "code"), HOSTILE_LINKS)
def test_links_and_files_that_lead_astray_are_refused(workspace, path, code):
    with pytest.raises(PolicyError) as exc:
        resolve(workspace, path)
    assert exc.value.code == code


def test_hostile_list_has_at_least_thirty_cases():
    assert len(HOSTILE_STRINGS) + len(HOSTILE_LINKS) >= 30


ACCEPTED = [
    ("./a//b", "a/b"),
    ("a/b/", "a/b"),
    ("index.html", "index.html"),
    ("café.html", "café.html"),
    ("日本/ページ.html", "日本/ページ.html"),
    ("src/components/nav/menu.js", "src/components/nav/menu.js"),
    ("...", "..."),
    ("..hidden", "..hidden"),
    (".well-known/x.json", ".well-known/x.json"),
    (".gitignore", ".gitignore"),
    ("a.git/x", "a.git/x"),
    ("/".join(["d"] * 31) + "/f.js", "/".join(["d"] * 31) + "/f.js"),
]


@pytest.mark.parametrize(("path", "canonical"), ACCEPTED)
def test_ordinary_paths_are_accepted_in_canonical_form(workspace, path, canonical):
    assert normalize(path) == canonical
    assert resolve(workspace, path).rel == canonical


def test_a_link_that_stays_inside_the_workspace_is_followed(workspace):
    resolved = resolve(workspace, "srclink/app.js", must_exist=True)
    assert resolved.rel == "srclink/app.js"
    assert resolved.path.read_text() == "let a = 1;\n"


def test_a_missing_file_is_refused_only_when_it_must_exist(workspace):
    assert resolve(workspace, "new/dir/file.css").rel == "new/dir/file.css"
    with pytest.raises(PolicyError) as exc:
        resolve(workspace, "new/dir/file.css", must_exist=True)
    assert exc.value.code == FILE_NOT_FOUND


@pytest.mark.parametrize("prefix", [None, "", ".", "./", "  "])
def test_an_empty_prefix_means_the_whole_workspace(prefix):
    assert normalize_prefix(prefix) == ""


def test_a_prefix_obeys_the_same_rules_as_a_path():
    with pytest.raises(PolicyError) as exc:
        normalize_prefix("../elsewhere")
    assert (exc.value.code, exc.value.field) == (PATH_OUTSIDE_WORKSPACE, "path_prefix")


def test_reading_a_binary_file_is_refused(workspace):
    (workspace / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(PolicyError) as exc:
        paths.read_text(resolve(workspace, "logo.png"))
    assert exc.value.code == paths.FILE_BINARY


# Printable ASCII, weighted towards the pieces that make a path odd.
_PATH_TEXT = st.lists(
    st.sampled_from(["a", "b", ".", "..", ".git", "~", "/", "//", "\\", " ", "-"]), max_size=12
).map("".join) | st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


@given(_PATH_TEXT)
@settings(max_examples=600, deadline=None)
def test_the_quick_check_for_canonical_paths_agrees_with_the_full_rules(text):
    try:
        full = paths._normalize(text, "path")
    except PolicyError as err:
        full = err.code
    if paths._is_canonical_ascii(text):
        assert full == text
    try:
        assert normalize(text) == full
    except PolicyError as err:
        assert err.code == full


def test_the_quick_check_leaves_long_and_deep_paths_to_the_full_rules():
    for path in ("a/" * 40 + "b", "n" * 256, "d/" + "n" * 1100):
        assert not paths._is_canonical_ascii(path)
        with pytest.raises(PolicyError) as err:
            normalize(path)
        assert err.value.code == PATH_INVALID
