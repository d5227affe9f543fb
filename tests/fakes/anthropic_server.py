"""A local Anthropic Messages API server, driven by a script of turns.

The Anthropic twin of `openai_server.py`: tests point the real client library
(`ChatAnthropic`, the `anthropic` SDK) at it, so what is tested is the real wire format:

    with AnthropicServer(script) as server:       # or: with serve(script) as base_url:
        model = ChatAnthropic(base_url=server.base_url, api_key="k", model="claude-fake")
        ...
        server.message_requests[-1].body["tools"]  # every request is recorded

A script is a list of turns, like the scripted chat model's (coding_agent/scripted.py):
`{"text": str?, "tool_calls": [{"id"?, "name", "args": dict | str}]?, "delay_ms": int?}`.
A turn may also set `"usage": {"input_tokens", "output_tokens", "cache_read_input_tokens",
"cache_creation_input_tokens"}` (what the answer reports; estimated from lengths otherwise)
and `"stop_reason"` (default `tool_use` when it calls tools, else `end_turn`).
`"gate": threading.Event` with `"gate_after": n` makes a streamed turn send n text deltas,
then fall silent until the test sets the event (at most GATE_WAIT_S).

Errors, in Anthropic's body shape (`{"type": "error", "error": {"type", "message"},
"request_id"}`):
- `{"http_status": 529, "error": "message"?, "error_type"?: str, "retry_after"?: seconds}`
  answers the request with that status (the type follows from the status, as ERROR_TYPES
  says). With `"times": n` only the first n requests for this turn are refused; later ones
  play the rest of the turn, so a retried request succeeds.
- `{"text": ..., "stream_error": "overloaded_error", "error_after": n}` starts a stream (200),
  sends n text deltas, then an `event: error`, as the API does when it is overloaded mid-answer.

The turn is chosen from the request, never from server state (except for `times`): the
number of assistant messages after the last user message that is neither only tool results
nor a nudge (`is_nudge(message)`), plus the nudges in between (each one follows an empty
assistant turn, which the client leaves out of the history). Past the last turn the answer
is "Done.".

Streaming (`"stream": true`) answers server-sent events as api.anthropic.com does:
`message_start` (usage so far), a `ping`, then one content block at a time
(`content_block_start`, `content_block_delta`s, `content_block_stop`): the text as
`text_delta`s, each tool call as a `tool_use` block whose input JSON is split over several
`input_json_delta`s (the first one empty), then `message_delta` (stop reason, cumulative
usage) and `message_stop`. Without `stream` the answer is one `message` object.

Requests are checked as the API checks them, answering 400 `invalid_request_error`: the
`anthropic-version` header, `model`, `max_tokens`, non-empty messages and text blocks,
tool definitions when the history has `tool_use` or `tool_result` blocks, and every
`tool_use` answered by a `tool_result` in the next message (and no result without its call).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from tests.fakes import scripted_server as shared
from tests.fakes.scripted_server import JsonHandler, RecordedRequest, ScriptedServer

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")


@dataclass
class AnthropicServer(ScriptedServer):
    thread_name = "fake-anthropic"  # base_url is the API root: the client adds /v1/messages
    model: str = "claude-fake"

    def __post_init__(self):
        super().__post_init__()
        self._refused: dict[int, int] = {}  # turn index -> errors answered (for `times`)

    @property
    def message_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.split("?")[0].rstrip("/").endswith("/v1/messages")]

    def refuse(self, index: int, turn: dict) -> bool:
        """Whether this request for turn `index` gets the turn's error (counting it when it does)."""
        if not turn.get("http_status"):
            return False
        with self._lock:
            answered = self._refused.get(index, 0)
            if "times" in turn and answered >= turn["times"]:
                return False
            self._refused[index] = answered + 1
            return True

    def turn_for(self, messages: list[dict]) -> tuple[int, dict]:
        start = 0
        for i in range(len(messages) - 1, -1, -1):
            message = messages[i]
            if message.get("role") == "user" and not _only_tool_results(message) and not self.nudge(message):
                start = i + 1
                break
        later = messages[start:]
        index = sum(1 for m in later if m.get("role") == "assistant")
        index += sum(1 for m in later if m.get("role") == "user" and self.nudge(m))
        return index, self.scripted(index)


def message_text(message: dict) -> str:
    """The text of a request message, whose content is a string or a list of blocks."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(
        b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"
    )


def blocks(message: dict, kind: str) -> list[dict]:
    """The message's content blocks of one type (`tool_use`, `tool_result`, `text`)."""
    content = message.get("content")
    return (
        [b for b in content if isinstance(b, dict) and b.get("type") == kind]
        if isinstance(content, list)
        else []
    )


def _only_tool_results(message: dict) -> bool:
    content = message.get("content")
    return (
        isinstance(content, list) and bool(content) and all(b.get("type") == "tool_result" for b in content)
    )


def _usage(turn: dict, body: dict, text: str, calls: list[dict]) -> dict:
    """The answer's usage as the API reports it: input tokens exclude the cached ones."""
    prompt = json.dumps([body.get("system"), body.get("tools"), body["messages"]])
    usage = {
        "input_tokens": shared.tokens(prompt),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": shared.output_tokens(text, calls),
    }
    usage.update(turn.get("usage") or {})
    return usage


def _problem(body: Any) -> str | None:
    """Why the API would refuse this request (its wording), or None."""
    if not isinstance(body, dict):
        return "The request body is not a JSON object."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    system = body.get("system")
    text_blocks = isinstance(system, list) and all(b.get("type") == "text" for b in system)
    if system is not None and not isinstance(system, str) and not text_blocks:
        return "system: Input should be a valid string or a list of text blocks"
    tools = body.get("tools") or []
    for i, tool in enumerate(tools):
        if not TOOL_NAME_RE.match(str(tool.get("name", ""))):
            return f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
        if (tool.get("input_schema") or {}).get("type") != "object":
            return f"tools.{i}.custom.input_schema.type: Input should be 'object'"
    has_tool_blocks = False
    for i, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        last_assistant = i == len(messages) - 1 and role == "assistant"
        if not content and not last_assistant:
            return (
                f"messages.{i}: all messages must have non-empty content except for the optional "
                "final assistant message"
            )
        for j, block in enumerate(content if isinstance(content, list) else []):
            if block.get("type") == "text" and not block.get("text"):
                return f"messages.{i}.content.{j}.text: text content blocks must be non-empty"
        used = [b["id"] for b in blocks(message, "tool_use")]
        answered = [b["tool_use_id"] for b in blocks(message, "tool_result")]
        has_tool_blocks = has_tool_blocks or bool(used or answered)
        if role == "assistant" and used:
            following = messages[i + 1] if i + 1 < len(messages) else None
            results = {b["tool_use_id"] for b in blocks(following, "tool_result")} if following else set()
            if missing := [u for u in used if u not in results]:
                return (
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately "
                    f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                    "`tool_result` block in the next message."
                )
        if answered:
            previous = messages[i - 1] if i > 0 else {}
            calls = {b["id"] for b in blocks(previous, "tool_use")}
            if stray := [a for a in answered if a not in calls]:
                return (
                    f"messages.{i}: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{', '.join(stray)}. Each `tool_result` block must have a corresponding "
                    "`tool_use` block in the previous message."
                )
    if has_tool_blocks and not tools:
        return "Requests which include `tool_use` or `tool_result` blocks must define tools."
    return None


class _Handler(JsonHandler):
    owner: AnthropicServer

    def _json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        request_id = payload.get("request_id") or self.owner.next_id("req_")
        self.send_json(status, payload, {"request-id": request_id, **(headers or {})})

    def _error(
        self, status: int, message: str, kind: str | None = None, retry_after: float | None = None
    ) -> None:
        kind = kind or ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
        headers = {"retry-after": str(retry_after)} if retry_after is not None else None
        payload = {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": self.owner.next_id("req_"),
        }
        self._json(status, payload, headers)

    def _authorized(self, request: RecordedRequest) -> bool:
        expected = self.owner.api_key
        if expected is None or request.api_key == expected:
            return True
        self._error(401, "invalid x-api-key")
        return False

    # --- routes ----------------------------------------------------------------------------
    def do_GET(self):
        request = self.record(None)
        if not self._authorized(request):
            return
        if self.path_is("/v1/models"):
            model = {
                "type": "model",
                "id": self.owner.model,
                "display_name": "Claude (fake)",
                "created_at": "2025-01-01T00:00:00Z",
            }
            return self._json(
                200, {"data": [model], "has_more": False, "first_id": model["id"], "last_id": model["id"]}
            )
        self._error(404, f"Not found: {self.path}")

    def do_POST(self):
        request, is_json = self.read_json()
        if not is_json:
            return self._error(400, "The request body is not valid JSON.")
        body = request.body
        if not self._authorized(request):
            return
        if not self.path_is("/v1/messages"):
            return self._error(404, f"Not found: {self.path}")
        if not self.headers.get("anthropic-version"):
            return self._error(400, "anthropic-version: header is required")
        if problem := _problem(body):
            return self._error(400, problem)

        index, turn = self.owner.turn_for(body["messages"])
        if self.owner.refuse(index, turn):
            return self._error(
                turn["http_status"],
                turn.get("error") or "Scripted error.",
                turn.get("error_type"),
                turn.get("retry_after"),
            )
        calls = shared.tool_calls(index, turn, "toolu_")
        if body.get("stream"):
            return self._stream(turn, body, calls)
        return self._complete(turn, body, calls)

    def _message(self, turn: dict, content: list[dict], stop_reason: str | None, usage: dict) -> dict:
        return {
            "id": self.owner.next_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": self.owner.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }

    def _complete(self, turn: dict, body: dict, calls: list[dict]) -> None:
        text = turn.get("text") or ""
        content: list[dict] = [{"type": "text", "text": text}] if text else []
        content += [
            {"type": "tool_use", "id": c["id"], "name": c["name"], "input": json.loads(c["arguments"])}
            for c in calls
        ]
        stop_reason = turn.get("stop_reason") or ("tool_use" if calls else "end_turn")
        self._json(200, self._message(turn, content, stop_reason, _usage(turn, body, text, calls)))

    def _stream(self, turn: dict, body: dict, calls: list[dict]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("request-id", self.owner.next_id("req_"))
        # No length: the stream ends when the connection closes.
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        delay = (turn.get("delay_ms") or 0) / 1000
        text = turn.get("text") or ""
        usage = _usage(turn, body, text, calls)

        def event(kind: str, payload: dict) -> None:
            data = json.dumps({"type": kind, **payload})
            self.wfile.write(f"event: {kind}\ndata: {data}\n\n".encode())
            self.wfile.flush()
            if delay:
                time.sleep(delay)

        try:
            start_usage = {**usage, "output_tokens": 1}
            event("message_start", {"message": self._message(turn, [], None, start_usage)})
            event("ping", {})
            block = 0
            if text:
                event("content_block_start", {"index": block, "content_block": {"type": "text", "text": ""}})
                gate, stop_at = turn.get("gate"), turn.get("error_after")
                for n, piece in enumerate(shared.split(text, shared.TEXT_CHUNK)):
                    if gate is not None and n == turn.get("gate_after", 1):
                        gate.wait(shared.GATE_WAIT_S)
                    if turn.get("stream_error") and n == stop_at:
                        return self._stream_error(event, turn)
                    event(
                        "content_block_delta",
                        {"index": block, "delta": {"type": "text_delta", "text": piece}},
                    )
                event("content_block_stop", {"index": block})
                block += 1
            if turn.get("stream_error"):
                return self._stream_error(event, turn)
            for call in calls:
                head = {"type": "tool_use", "id": call["id"], "name": call["name"], "input": {}}
                event("content_block_start", {"index": block, "content_block": head})
                for piece in ["", *shared.split(call["arguments"], shared.ARGS_CHUNK)]:
                    delta = {"type": "input_json_delta", "partial_json": piece}
                    event("content_block_delta", {"index": block, "delta": delta})
                event("content_block_stop", {"index": block})
                block += 1
            stop_reason = turn.get("stop_reason") or ("tool_use" if calls else "end_turn")
            event(
                "message_delta",
                {"delta": {"stop_reason": stop_reason, "stop_sequence": None}, "usage": usage},
            )
            event("message_stop", {})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away mid-stream (a cancelled run): nothing to clean up

    def _stream_error(self, event, turn: dict) -> None:
        kind = turn["stream_error"]
        message = turn.get("error") or {"overloaded_error": "Overloaded"}.get(kind, "Scripted error.")
        event(
            "error", {"error": {"type": kind, "message": message}, "request_id": self.owner.next_id("req_")}
        )


AnthropicServer.handler = _Handler
serve = AnthropicServer.serve  # `with serve(script) as base_url:`
