"""Normalising a model's tool arguments before anything runs.

Models send arguments in many shapes; this module turns them into the tool's canonical
names and types, or fails with one TOOL_INPUT_VALIDATION_FAILED error that says what
to send instead. The steps, in order:

1. Parse. A dict is taken as is; a JSON string is parsed (also when it decodes to
   another JSON string: double-encoded arguments); None and "" mean {}; anything else,
   or JSON that is not an object, is refused (a parse error quotes its line, column and
   character position, and shows a call of this tool). Raw control characters inside
   strings (a patch with literal newlines, as local models send it) are accepted.
2. Unwrap. While the dict holds no key the tool knows (canonical name or alias) and
   exactly one wrapper key (`input`, `args`, `arguments`, `parameters`, `payload`,
   `value`) whose value is a dict or a JSON string of a dict, the dict is replaced by
   that value; its other keys are reported as ignored. A wrapper holding anything else
   (plain text, a list) stays, and validation then names the missing fields.
3. Aliases. Each key that is an alias of a parameter is renamed to the canonical name.
   A None value counts as absent. Two spellings of one parameter with different values
   fail, naming both; equal values merge. Keys the tool does not know are dropped and
   reported (`ignored`).
4. Required fields and types. Every missing required field (absent, None, or empty
   text unless the parameter allows it) and every value of the wrong type is reported
   together, in `fields`. An empty optional text counts as absent. Types accept what
   models send: "12" and 12.0 for 12, "true"/"yes"/1 for true, one path for a list of
   paths, a JSON string for a list or map. An empty list counts as absent, as empty
   text does. `expected_sha256` digests must be 64 hex digits (`sha256:` prefix and
   capitals allowed).
5. Unicode. Text that cannot be stored as UTF-8 (a lone UTF-16 surrogate such as
   "\\ud83d", half of an escaped emoji) is refused naming its field; a complete pair
   sent as two code units is joined into its character. Whatever is echoed back
   (ignored keys, arguments shown in the outcome) has such code units replaced by U+FFFD,
   so events and the model's result stay valid JSON text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from coding_agent.tools.base import (
    BOOLEAN,
    INTEGER,
    SHA_MAP,
    STRING,
    STRING_LIST,
    TEXT,
    TOOL_INPUT_VALIDATION_FAILED,
    Tool,
    error,
)

WRAPPER_KEYS = ("input", "args", "arguments", "parameters", "payload", "value")
MAX_UNWRAP = 5
MAX_DECODE = 3
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_DIGEST = re.compile(r"[0-9a-f]{64}")
# Values for the example call a JSON error shows, by parameter name, then by kind.
_EXAMPLE_VALUES = {
    "path": "index.html",
    "from_path": "old.css",
    "to_path": "new.css",
    "path_prefix": "src",
    "pattern": "hello",
    "query": "hello",
    "check": "js-syntax",
    "patch": "*** Begin Patch\n*** Update File: index.html\n@@\n-<h1>Hello</h1>\n+<h1>Hi</h1>\n*** End Patch\n",
    "content": "<h1>Hi</h1>\n",
}
_EXAMPLE_KINDS = {
    STRING: "text",
    TEXT: "text",
    INTEGER: 1,
    BOOLEAN: True,
    STRING_LIST: ["index.html"],
    SHA_MAP: {},
}


class ArgumentError(Exception):
    def __init__(self, message: str, *, fields: list[str] | None = None, partial: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = list(fields or [])
        self.partial = partial or {}  # what could be normalised, for the outcome's `args`
        self.ignored: list[str] = []

    def as_error(self) -> dict:
        return error(TOOL_INPUT_VALIDATION_FAILED, self.message, fields=self.fields)


@dataclass
class Arguments:
    values: dict
    ignored: list[str] = field(default_factory=list)


def normalise(tool: Tool, raw: Any) -> Arguments:
    """Canonical, typed arguments for `tool`, or ArgumentError."""
    ignored: list[str] = []
    try:
        data = parse(raw, tool)
        data, noise = unwrap(data, known_keys(tool))
        values, ignored = canonical_names(tool, data)
        ignored = printable(noise + ignored)
        values = check(tool, values)
    except ArgumentError as exc:
        exc.partial = printable(exc.partial)
        exc.ignored = ignored
        if ignored:
            exc.message += f" Ignored unknown argument(s): {', '.join(ignored)}."
        raise
    return Arguments(values=values, ignored=ignored)


def parse(raw: Any, tool: Tool | None = None) -> dict:
    value = raw
    for _ in range(MAX_DECODE):
        if isinstance(value, bytes | bytearray):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str):
            break
        if value.strip() == "":
            return {}
        try:
            value = json.loads(value, strict=False)
        except json.JSONDecodeError as exc:
            # Some of json's messages end in "at" ("Unterminated string starting at").
            raise ArgumentError(
                f"The arguments are not valid JSON: {exc.msg.removesuffix(' at')} at line {exc.lineno} "
                f"column {exc.colno} (char {exc.pos}). Send one JSON object, quoting each name and "
                f'text and escaping `\\` and `"` inside text, for example {example_call(tool)}.'
            )
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ArgumentError(f"The arguments must be a JSON object of named values, not {_describe(value)}.")
    return value


def example_call(tool: Tool | None) -> str:
    """A small valid argument object for `tool`, as JSON: its required parameters, or
    the first of a one-of group, or its first parameter."""
    if tool is None:
        return '{"name": "value"}'
    params = [p for p in tool.params if p.required]
    if not params and tool.one_of:
        params = [p for p in (tool.param(tool.one_of[0][0]),) if p is not None]
    params = params or list(tool.params[:1])
    example = {p.name: _EXAMPLE_VALUES.get(p.name, _EXAMPLE_KINDS[p.kind]) for p in params}
    return json.dumps(example, ensure_ascii=False)


def known_keys(tool: Tool) -> set[str]:
    keys = set()
    for param in tool.params:
        keys.add(param.name)
        keys.update(param.aliases)
    return keys


def unwrap(data: dict, known: set[str]) -> tuple[dict, list[str]]:
    """Remove wrapper objects (see the module docstring); returns (dict, ignored keys)."""
    ignored: list[str] = []
    for _ in range(MAX_UNWRAP):
        keys = [str(k) for k in data]
        wrappers = [k for k in keys if k in WRAPPER_KEYS]
        if len(wrappers) != 1 or any(k in known for k in keys):
            break
        inner = data[wrappers[0]]
        if isinstance(inner, str):
            try:
                inner = json.loads(inner, strict=False)
            except json.JSONDecodeError:
                break
        if not isinstance(inner, dict):
            break
        ignored += [k for k in keys if k != wrappers[0]]
        data = inner
    return data, ignored


def canonical_names(tool: Tool, data: dict) -> tuple[dict, list[str]]:
    """Rename aliases; refuse conflicting spellings; drop and list unknown keys."""
    by_alias = {}
    for param in tool.params:
        by_alias[param.name] = param.name
        for alias in param.aliases:
            by_alias[alias] = param.name
    seen: dict[str, list[tuple[str, Any]]] = {}
    ignored = []
    for key, value in data.items():
        name = by_alias.get(key) if isinstance(key, str) else None
        if name is None:
            ignored.append(str(key))
            continue
        if value is None:
            continue
        seen.setdefault(name, []).append((key, value))
    values = {}
    for name, given in seen.items():
        distinct = [given[0]]
        for key, value in given[1:]:
            if all(value != other for _, other in distinct):
                distinct.append((key, value))
        if len(distinct) > 1:
            keys = [key for key, _ in given]
            raise ArgumentError(
                f"{' and '.join(f'`{k}`' for k in keys)} are spellings of the same argument with "
                f"different values; send only `{name}`.",
                fields=keys,
                partial={k: v for k, v in data.items() if isinstance(k, str)},
            )
        values[name] = given[0][1]
    return values, ignored


def check(tool: Tool, values: dict) -> dict:
    """Required fields present and every value of its parameter's type."""
    missing, invalid, problems = [], [], []
    out = {}
    for param in tool.params:
        if param.name not in values:
            if param.required:
                missing.append(param.name)
            continue
        value = values[param.name]
        if isinstance(value, str) and value.strip() == "" and not param.allow_empty:
            if param.required:
                missing.append(param.name)
            continue  # empty optional text: as if not given
        try:
            value = valid_unicode(value, param.name)
            value = coerce(param.kind, value, param.name, minimum=param.minimum)
        except ValueError as exc:
            invalid.append(param.name)
            problems.append(str(exc))
            continue
        if param.kind == STRING_LIST and not value:
            if param.required:
                missing.append(param.name)
            continue  # an empty list, like empty text: as if not given
        out[param.name] = value
    for group in tool.one_of:
        if not any(name in out for name in group) and not any(name in invalid for name in group):
            missing.extend(name for name in group if name not in missing)
            problems.insert(0, f"give {' or '.join(f'`{n}`' for n in group)} (or both)")
    if missing or invalid:
        parts = []
        required_missing = [n for n in missing if not any(n in g for g in tool.one_of)]
        if required_missing:
            parts.append(f"missing required argument(s): {', '.join(f'`{n}`' for n in required_missing)}")
        parts += problems
        message = f"{tool.name} was not run: " + "; ".join(parts) + f". Signature: {tool.signature()}."
        raise ArgumentError(message, fields=missing + invalid, partial=values)
    return out


def coerce(kind: str, value: Any, name: str, *, minimum: int | None = None) -> Any:
    """The value as `kind`, or ValueError with a message naming `name`."""
    if kind in (STRING, TEXT):
        if isinstance(value, str):
            return value
        raise ValueError(f"`{name}` must be text, not {_describe(value)}")
    if kind == INTEGER:
        number = _integer(value)
        if number is None:
            raise ValueError(f"`{name}` must be a whole number, not {_show(value)}")
        if minimum is not None and number < minimum:
            raise ValueError(f"`{name}` must be at least {minimum}, not {number}")
        return number
    if kind == BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"`{name}` must be true or false, not {_show(value)}")
    if kind == STRING_LIST:
        return _string_list(value, name)
    if kind == SHA_MAP:
        return _sha_map(value, name)
    raise AssertionError(f"unknown parameter kind {kind!r}")


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit():
            return int(text)
    return None


def _string_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text, strict=False)
            except json.JSONDecodeError:
                raise ValueError(f"`{name}` looks like a JSON list but does not parse")
        else:
            return [value]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f"`{name}` must be a list of paths, not {_describe(value)}")


def _sha_map(value: Any, name: str) -> dict | str:
    """{path: sha256}. A JSON string of one, or a list of {path, sha256}, is accepted too;
    a bare digest stays a string (the patch tool maps it to the patch's only file). Each
    digest must be 64 hex digits: anything else could only ever be reported as a change."""
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("{"):
            if not _is_digest(text):
                raise ValueError(
                    f"`{name}` must be the sha256 from your read (64 hex digits) or a map "
                    f'{{"path": "sha256"}}, not {_show(text)}'
                )
            return text
        try:
            value = json.loads(text, strict=False)
        except json.JSONDecodeError:
            raise ValueError(f"`{name}` looks like a JSON object but does not parse")
    pairs = None
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        pairs = {v.get("path"): v.get("sha256") for v in value}
    elif isinstance(value, dict):
        pairs = dict(value)
    if pairs is None or not all(isinstance(k, str) and isinstance(s, str) for k, s in pairs.items()):
        raise ValueError(f'`{name}` must map each path to the sha256 you read, like {{"app.js": "ab12…"}}')
    bad = [path for path, digest in pairs.items() if not _is_digest(digest)]
    if bad:
        raise ValueError(
            f"`{name}` must map each path to the sha256 from your read (64 hex digits); "
            f"{_show(bad[0])} has {_show(pairs[bad[0]])}"
        )
    return pairs


def _is_digest(text: str) -> bool:
    """What the patch engine compares: case and a `sha256:` prefix do not matter."""
    return _DIGEST.fullmatch(text.strip().lower().removeprefix("sha256:")) is not None


def valid_unicode(value: Any, name: str) -> Any:
    """`value` with every text in it storable as UTF-8, or ValueError naming `name`.

    A surrogate pair split into two code units (as a UTF-16 decoder leaves it) is joined
    into its character; a lone surrogate cannot be, and is refused."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            pass
        try:
            return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
        except UnicodeDecodeError:
            at = next(i for i, ch in enumerate(value) if "\ud800" <= ch <= "\udfff" and not _paired(value, i))
            raise ValueError(
                f"`{name}` is not valid Unicode text: character {at + 1} is a lone surrogate "
                f"(\\u{ord(value[at]):04x}, half of a UTF-16 pair, as a cut emoji escape leaves it); "
                "send the character itself, or both halves of its pair"
            ) from None
    if isinstance(value, list | tuple):
        return [valid_unicode(v, name) for v in value]
    if isinstance(value, dict):
        return {valid_unicode(k, name): valid_unicode(v, name) for k, v in value.items()}
    return value


def _paired(text: str, i: int) -> bool:
    ch = text[i]
    if ch <= "\udbff":
        return i + 1 < len(text) and "\udc00" <= text[i + 1] <= "\udfff"
    return i > 0 and "\ud800" <= text[i - 1] <= "\udbff"


def printable(value: Any) -> Any:
    """`value` with lone surrogates replaced by U+FFFD, for echoing back what was sent."""
    if isinstance(value, str):
        if value.isascii():  # the usual case, and the cheapest test
            return value
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(value, list | tuple):
        return [printable(v) for v in value]
    if isinstance(value, dict):
        return {printable(k) if isinstance(k, str) else k: printable(v) for k, v in value.items()}
    return value


def _describe(value: Any) -> str:
    kinds = {list: "a list", dict: "an object", bool: "a boolean", int: "a number", float: "a number"}
    return kinds.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:39] + "…"
