"""Symbol outlines of source files from tree-sitter parsers.

An outline is what a model needs to find its way in a file without reading it: JS
functions, classes and methods; CSS selectors (with the @media/@supports rule around
them as `context`); HTML element ids and the `<title>`, plus the outline of inline
`<script>` and `<style>` blocks; Python functions, classes and methods; top-level JSON
keys. Each symbol is `{"kind", "name", "line"}` (1-based), optionally `"context"`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable

import tree_sitter_css
import tree_sitter_html
import tree_sitter_javascript
import tree_sitter_json
import tree_sitter_python
from tree_sitter import Language, Node, Parser, Query, QueryCursor

MAX_SYMBOLS = 200
MAX_NAME_CHARS = 120

_JS_QUERY = """
(function_declaration name: (identifier) @name) @function
(generator_function_declaration name: (identifier) @name) @function
(class_declaration name: (identifier) @name) @class
(method_definition name: (_) @name) @method
(field_definition property: (_) @name value: [(arrow_function) (function_expression)]) @method
(variable_declarator name: (identifier) @name
  value: [(arrow_function) (function_expression) (generator_function)]) @function
(variable_declarator name: (identifier) @name value: (class)) @class
(assignment_expression left: [(identifier) (member_expression)] @name
  right: [(arrow_function) (function_expression)]) @function
(pair key: (_) @name value: [(arrow_function) (function_expression)]) @method
(export_statement "default" value: [(function_expression) (arrow_function)] @function)
"""
_CSS_QUERY = """
(rule_set (selectors) @name) @selector
(keyframes_statement (keyframes_name) @name) @keyframes
"""
_HTML_QUERY = """
(attribute (attribute_name) @attr (#match? @attr "^[iI][dD]$")
  [(attribute_value) @name (quoted_attribute_value (attribute_value) @name)]) @id
(element (start_tag (tag_name) @tag (#match? @tag "^[tT][iI][tT][lL][eE]$")) (text) @name) @title
(script_element) @script
(style_element) @style
"""
_PYTHON_QUERY = """
(function_definition name: (identifier) @name) @function
(class_definition name: (identifier) @name) @class
"""
_JSON_QUERY = """
(document (object (pair key: (string (string_content) @name)) @key))
"""

_GRAMMARS = {
    "javascript": (tree_sitter_javascript.language, _JS_QUERY),
    "css": (tree_sitter_css.language, _CSS_QUERY),
    "html": (tree_sitter_html.language, _HTML_QUERY),
    "python": (tree_sitter_python.language, _PYTHON_QUERY),
    "json": (tree_sitter_json.language, _JSON_QUERY),
}
OUTLINED_LANGUAGES = frozenset(_GRAMMARS)

# Queries compile once per process (the costly part); parsers are per thread because a
# tree-sitter Parser must not be shared between threads.
_languages: dict[str, tuple[Language, Query]] = {}
_languages_lock = threading.Lock()
_local = threading.local()

_SPACES = re.compile(r"\s+")
_JS_SCRIPT_TYPES = {"", "text/javascript", "application/javascript", "module", "text/babel"}


def _grammar(language: str) -> tuple[Language, Query]:
    with _languages_lock:
        if language not in _languages:
            factory, source = _GRAMMARS[language]
            lang = Language(factory())
            _languages[language] = (lang, Query(lang, source))
        return _languages[language]


def _parser(language: str) -> Parser:
    parsers = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    if language not in parsers:
        parsers[language] = Parser(_grammar(language)[0])
    return parsers[language]


def outline(language: str, source: bytes, *, limit: int = MAX_SYMBOLS) -> list[dict]:
    """The symbols of `source`, in file order, at most `limit` (an unknown language has none)."""
    if language not in _GRAMMARS:
        return []
    symbols = list(_symbols(language, source, line_offset=0))
    symbols.sort(key=lambda s: (s["line"], s.pop("_col")))
    return symbols[:limit]


def _symbols(language: str, source: bytes, *, line_offset: int) -> Iterable[dict]:
    tree = _parser(language).parse(source)
    query = _grammar(language)[1]
    handle = _HANDLERS[language]
    for _, captures in QueryCursor(query).matches(tree.root_node):
        yield from handle(captures, line_offset)


def _symbol(kind: str, name: str, node: Node, line_offset: int, **extra) -> dict:
    name = _SPACES.sub(" ", name).strip()
    if len(name) > MAX_NAME_CHARS:
        name = name[: MAX_NAME_CHARS - 1] + "…"
    row, col = node.start_point
    return {"kind": kind, "name": name, "line": row + 1 + line_offset, **extra, "_col": col}


def _text(node: Node) -> str:
    return node.text.decode("utf-8", "replace")


def _js(captures: dict[str, list[Node]], offset: int) -> Iterable[dict]:
    for kind in ("function", "class", "method"):
        if kind not in captures:
            continue
        node = captures[kind][0]
        name_node = captures.get("name", [None])[0]
        name = "default" if name_node is None else _js_name(name_node)
        if kind == "method":
            owner = _js_owner(node)
            name = f"{owner}.{name}" if owner else name
        yield _symbol(kind, name, node, offset)


def _js_name(node: Node) -> str:
    if node.type == "string":  # { 'key': function () {} }
        return _text(node)[1:-1]
    return _text(node)


def _js_owner(node: Node) -> str | None:
    """The class or object a method belongs to, when it has a name."""
    container = node.parent
    if container is None:
        return None
    if container.type == "class_body":
        name = container.parent.child_by_field_name("name") if container.parent else None
        return _text(name) if name else None
    if container.type == "object" and container.parent and container.parent.type == "variable_declarator":
        name = container.parent.child_by_field_name("name")
        return _text(name) if name else None
    return None


def _css(captures: dict[str, list[Node]], offset: int) -> Iterable[dict]:
    name = _text(captures["name"][0])
    if "keyframes" in captures:
        yield _symbol("keyframes", name, captures["keyframes"][0], offset)
        return
    node = captures["selector"][0]
    context = _css_context(node)
    extra = {"context": context} if context else {}
    yield _symbol("selector", name, node, offset, **extra)


def _css_context(node: Node) -> str | None:
    """The at-rules a rule sits in, e.g. `@media (max-width: 600px)`."""
    heads = []
    parent = node.parent
    while parent is not None:
        if parent.type.endswith("_statement") and parent.type != "keyframes_statement":
            block = next((c for c in parent.children if c.type == "block"), None)
            end = block.start_byte if block else parent.end_byte
            head = parent.text[: end - parent.start_byte].decode("utf-8", "replace")
            heads.append(_SPACES.sub(" ", head).strip())
        parent = parent.parent
    return " ".join(reversed(heads)) or None


def _html(captures: dict[str, list[Node]], offset: int) -> Iterable[dict]:
    if "id" in captures:
        node = captures["id"][0]
        tag = node.parent.child(1) if node.parent and node.parent.child_count > 1 else None
        tag_name = _text(tag).lower() if tag is not None and tag.type == "tag_name" else ""
        yield _symbol("id", f"{tag_name}#{_text(captures['name'][0])}", node, offset)
    elif "title" in captures:
        yield _symbol("title", _text(captures["name"][0]), captures["title"][0], offset)
    elif "script" in captures:
        yield from _embedded(captures["script"][0], "javascript", offset)
    elif "style" in captures:
        yield from _embedded(captures["style"][0], "css", offset)


def _embedded(element: Node, language: str, offset: int) -> Iterable[dict]:
    """Outline an inline <script>/<style> block as if it were its own file."""
    attributes = _attributes(element.child(0))
    if language == "javascript" and (
        "src" in attributes or attributes.get("type", "") not in _JS_SCRIPT_TYPES
    ):
        return
    raw = next((c for c in element.children if c.type == "raw_text"), None)
    if raw is None:
        return
    # The raw text starts mid-line; pad it so columns and rows line up with the page.
    padded = b" " * raw.start_point[1] + raw.text
    yield from _symbols(language, padded, line_offset=offset + raw.start_point[0])


def _attributes(start_tag: Node | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for attr in start_tag.children if start_tag else []:
        if attr.type != "attribute":
            continue
        name = _text(attr.child(0)).lower()
        value = next(
            (c for c in attr.children if c.type in ("attribute_value", "quoted_attribute_value")), None
        )
        found[name] = _text(value).strip("'\"").strip().lower() if value else ""
    return found


def _python(captures: dict[str, list[Node]], offset: int) -> Iterable[dict]:
    kind = "function" if "function" in captures else "class"
    node = captures[kind][0]
    name = _text(captures["name"][0])
    owner = _python_class(node) if kind == "function" else None
    if owner:
        yield _symbol("method", f"{owner}.{name}", node, offset)
    else:
        yield _symbol(kind, name, node, offset)


def _python_class(node: Node) -> str | None:
    parent = node.parent
    if parent is not None and parent.type == "decorated_definition":
        parent = parent.parent
    owner = parent.parent if parent is not None and parent.type == "block" else None
    if owner is not None and owner.type == "class_definition":
        name = owner.child_by_field_name("name")
        return _text(name) if name else None
    return None


def _json(captures: dict[str, list[Node]], offset: int) -> Iterable[dict]:
    yield _symbol("key", _text(captures["name"][0]), captures["key"][0], offset)


_HANDLERS: dict[str, Callable[[dict[str, list[Node]], int], Iterable[dict]]] = {
    "javascript": _js,
    "css": _css,
    "html": _html,
    "python": _python,
    "json": _json,
}
