"""Tools that look at the workspace without changing it: index, read, search, context."""

from __future__ import annotations

from coding_agent.tools.base import (
    BOOLEAN,
    INTEGER,
    STRING,
    STRING_LIST,
    Param,
    Reply,
    Tool,
    ToolContext,
    plural,
    quoted,
)
from coding_agent.tools.rendering import CONTENT_CAP_BYTES, compact, size
from sandbox.files import MIN_READ_BYTES, read_file_range
from sandbox.index import workspace_index
from sandbox.search import MIN_CONTEXT_BYTES, collect_context, search

# Budgets count bytes as the model receives them (JSON, escapes included), and leave
# room within the 24 KB content cap for the result's other fields, so the cap never
# has to cut into what a result says it holds.
READ_BUDGET_BYTES = 20_000
CONTEXT_BUDGET_BYTES = 20_000
INDEX_BUDGET_BYTES = 20_000
DEFAULT_INDEX_FILES = 500

PATH_ALIASES = ("file_path", "filePath", "filepath", "file", "filename", "fileName")
PREFIX_ALIASES = ("pathPrefix", "prefix", "dir", "directory", "folder", "path")
MAX_BYTES_ALIASES = ("maxBytes",)


def index_tool(args: dict, ctx: ToolContext) -> Reply:
    result = workspace_index(
        ctx.root,
        path_prefix=args.get("path_prefix"),
        include_symbols=args.get("include_symbols", True),
        max_files=args.get("max_files", DEFAULT_INDEX_FILES),
        offset=args.get("offset", 0),
        max_bytes=INDEX_BUDGET_BYTES,
        cache=ctx.outline_cache,
    )
    count, total, offset = result["listed_files"], result["total_files"], result["offset"]
    where = f" in {result['path_prefix']}" if result["path_prefix"] else ""
    if offset and count:
        span = f"{offset + 1}\u2013{offset + count}" if count > 1 else str(offset + 1)
        title = f"Indexed {'files' if count > 1 else 'file'} {span}{where} of {total}"
    else:
        title = f"Indexed {plural(count, 'file')}{where}"
        if count < total:
            title += f" of {total}"
    return Reply(
        body={"ok": True, **result},
        summary={
            "path_prefix": result["path_prefix"],
            "files": count,
            "total_files": total,
            "offset": offset,
            "truncated": result["truncated"],
            "next_offset": result["next_offset"],
        },
        title=title,
    )


def read_tool(args: dict, ctx: ToolContext) -> Reply:
    budget = max(MIN_READ_BYTES, min(args.get("max_bytes", READ_BUDGET_BYTES), READ_BUDGET_BYTES))
    args["max_bytes"] = budget  # what actually ran
    result = read_file_range(
        ctx.root,
        path=args["path"],
        start_line=args.get("start_line"),
        end_line=args.get("end_line"),
        context_lines=args.get("context_lines", 0),
        max_bytes=budget,
    )
    first, last = result["start_line"], result["end_line"]
    if result["total_lines"] == 0:
        title = f"Read {result['path']} (empty)"
    elif first == last:
        title = f"Read {result['path']} line {first}"
    else:
        title = f"Read {result['path']} lines {first}\u2013{last}"
    return Reply(
        body={"ok": True, **result},
        summary={
            "path": result["path"],
            "start_line": first,
            "end_line": last,
            "total_lines": result["total_lines"],
            "truncated": result["truncated"],
            "sha256": result["sha256"],
        },
        title=title,
    )


def search_tool(args: dict, ctx: ToolContext) -> Reply:
    result = search(
        ctx.root,
        pattern=args["pattern"],
        path_prefix=args.get("path_prefix"),
        regex=args.get("regex", False),
        max_results=args.get("max_results", 50),
        case_sensitive=args.get("case_sensitive", True),
    )
    count = len(result["hits"])
    hits = plural(count, "hit")
    if result["truncated"]:
        hits = f"{count}+ hits"
    return Reply(
        body={"ok": True, **result},
        summary={
            "pattern": result["pattern"],
            "regex": result["regex"],
            "path_prefix": result["path_prefix"],
            "hits": count,
            "files_with_hits": result["files_with_hits"],
            "truncated": result["truncated"],
        },
        title=f"Searched for {quoted(result['pattern'])} ({hits})",
    )


def context_tool(args: dict, ctx: ToolContext) -> Reply:
    budget = max(MIN_CONTEXT_BYTES, min(args.get("max_bytes", 16_000), CONTEXT_BUDGET_BYTES))
    result = collect_context(ctx.root, query=args.get("query"), paths=args.get("paths"), max_bytes=budget)
    # The echoed query and paths and their errors share the cap with the windows: when
    # they are long, collect again with the windows' budget smaller by the overflow.
    over = size(compact({"ok": True, **result})) - CONTENT_CAP_BYTES
    if over > 0 and budget > MIN_CONTEXT_BYTES:
        budget = max(MIN_CONTEXT_BYTES, budget - over)
        result = collect_context(ctx.root, query=args.get("query"), paths=args.get("paths"), max_bytes=budget)
    args["max_bytes"] = budget  # what actually ran
    windows = result["windows"]
    if result["query"] is not None:
        subject = f"for {quoted(result['query'])}"
    else:
        subject = f"from {plural(len(result['paths']), 'file')}"
    return Reply(
        body={"ok": True, **result},
        summary={
            "query": result["query"],
            "paths": result["paths"],
            "windows": len(windows),
            "files": len({w["path"] for w in windows}),
            "truncated": result["truncated"],
            "errors": len(result["errors"]),
        },
        title=f"Collected context {subject} ({plural(len(windows), 'window')})",
    )


def _context_subject(args: dict) -> str | None:
    if args.get("query"):
        return f"for {quoted(args['query'])}"
    return None


TOOLS = (
    Tool(
        name="coding_agent_workspace_index",
        description=(
            "List the files of the app's workspace with their size, sha256, language and (by default) "
            "a symbol outline: functions, classes, CSS selectors, HTML ids, each with its line number. "
            "Call this first to find your way; then read only the lines you need with "
            "coding_agent_read_file_range. Paths are relative to the workspace root. Use `path_prefix` "
            "(a directory like `src` or a single file) to narrow the listing, and "
            "`include_symbols: false` for a quick file list. A large workspace comes in pages: "
            "`listed_files` of `total_files` are listed, and when `truncated` is true, call again "
            "with `offset` set to the result's `next_offset` to list the next files."
        ),
        params=(
            Param(
                "path_prefix",
                STRING,
                "Directory or file to list, relative to the workspace root. Omit for the whole workspace.",
                aliases=PREFIX_ALIASES,
            ),
            Param(
                "include_symbols",
                BOOLEAN,
                "Include each file's symbol outline (default true).",
                aliases=("includeSymbols", "symbols", "with_symbols"),
            ),
            Param(
                "max_files",
                INTEGER,
                f"List at most this many files (default {DEFAULT_INDEX_FILES}); fewer when their "
                "outlines would pass the size limit. All are counted in `total_files`.",
                aliases=("maxFiles", "limit"),
                minimum=1,
            ),
            Param(
                "offset",
                INTEGER,
                "Skip this many files (in listing order) and list from the next; pass the "
                "previous result's `next_offset` (default 0).",
                aliases=("next_offset", "nextOffset", "skip"),
                minimum=0,
            ),
        ),
        handler=index_tool,
        verb="index",
        fallback="Couldn't index the workspace",
        subject=lambda args: args.get("path_prefix") or "the workspace",
    ),
    Tool(
        name="coding_agent_read_file_range",
        description=(
            "Read numbered lines of one text file. Each line comes back as `<number>| <text>`; the "
            "number and `| ` are not part of the file, so never copy them into a patch. Omit "
            "`start_line`/`end_line` to read from the top; a long read stops at the byte budget with "
            "`truncated: true` and `next_start_line` to continue from. The result's `sha256` is the "
            "whole file's hash: pass it as `expected_sha256` to coding_agent_apply_patch so an edit "
            "based on this read is refused if the file changed since. Always read the lines you are "
            "about to change before writing a patch."
        ),
        params=(
            Param(
                "path",
                STRING,
                "File path relative to the workspace root, e.g. `index.html` or `src/app.js`.",
                required=True,
                aliases=PATH_ALIASES,
            ),
            Param(
                "start_line",
                INTEGER,
                "First line to return (1-based, default 1).",
                aliases=("startLine", "start", "line_start", "from_line"),
                minimum=1,
            ),
            Param(
                "end_line",
                INTEGER,
                "Last line to return (inclusive; default: end of file).",
                aliases=("endLine", "end", "line_end", "to_line"),
                minimum=1,
            ),
            Param(
                "context_lines",
                INTEGER,
                "Extra lines to include before and after the range (default 0).",
                aliases=("contextLines", "context"),
                minimum=0,
            ),
            Param(
                "max_bytes",
                INTEGER,
                "Byte budget for the returned lines, counted as sent (JSON-escaped; default and "
                f"maximum {READ_BUDGET_BYTES}).",
                aliases=MAX_BYTES_ALIASES,
                minimum=1,
            ),
        ),
        handler=read_tool,
        verb="read",
        fallback="Couldn't read a file",
    ),
    Tool(
        name="coding_agent_search",
        description=(
            "Find lines containing `pattern` in the workspace's text files. Literal text by default; "
            "set `regex: true` for a regular expression (Python syntax). Returns hits as "
            "`{path, line, column, text}` with 1-based line numbers, at most `max_results` (default "
            "50). Narrow with `path_prefix` (a directory or a file, relative to the workspace root). "
            "Read around a hit with coding_agent_read_file_range before changing it."
        ),
        params=(
            Param(
                "pattern",
                STRING,
                "Text to find (or a regular expression when `regex` is true).",
                required=True,
                aliases=("query", "search", "text", "term", "q"),
            ),
            Param(
                "path_prefix",
                STRING,
                "Only search under this directory or in this file, relative to the workspace root.",
                aliases=PREFIX_ALIASES,
            ),
            Param(
                "regex", BOOLEAN, "Treat `pattern` as a regular expression.", aliases=("isRegex", "is_regex")
            ),
            Param(
                "max_results",
                INTEGER,
                "Stop after this many hits (default 50, at most 500).",
                aliases=("maxResults", "limit"),
                minimum=1,
            ),
            Param(
                "case_sensitive",
                BOOLEAN,
                "Match case exactly (default true).",
                aliases=("caseSensitive",),
            ),
        ),
        handler=search_tool,
        verb="search for",
        fallback="Couldn't search",
        subject=lambda args: quoted(args["pattern"]) if args.get("pattern") else None,
    ),
    Tool(
        name="coding_agent_collect_context",
        description=(
            "Gather what you need before an edit in one call: numbered windows of 5 lines around each "
            "place `query` occurs (literal, case-insensitive) and the first 40 lines of each file in "
            "`paths`, merged and kept within `max_bytes`. Each window carries its file's `sha256` for "
            "`expected_sha256`. Give `query`, `paths` (relative to the workspace root), or both."
        ),
        params=(
            Param(
                "query",
                STRING,
                "Text to find across the workspace (literal, case-insensitive).",
                aliases=("pattern", "search", "q"),
            ),
            Param(
                "paths",
                STRING_LIST,
                "Files to include from their first line, relative to the workspace root (at most 20).",
                aliases=("files", "file_paths", "filePaths", "path"),
            ),
            Param(
                "max_bytes",
                INTEGER,
                "Byte budget for all windows, counted as sent (JSON-escaped; default 16000, at most "
                f"{CONTEXT_BUDGET_BYTES}).",
                aliases=MAX_BYTES_ALIASES,
                minimum=1,
            ),
        ),
        handler=context_tool,
        verb="collect context",
        fallback="Couldn't collect context",
        subject=_context_subject,
        one_of=(("query", "paths"),),
    ),
)
