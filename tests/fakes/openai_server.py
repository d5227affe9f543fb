"""A local OpenAI-compatible chat-completions server, driven by a script of turns.

Tests point the real client library (`ChatOpenAI`, the `openai` SDK, OpenCode's
`@ai-sdk/openai-compatible`) at it, so what is tested is the real wire format:

    with OpenAIServer(script) as server:          # or: with serve(script) as base_url:
        model = ChatOpenAI(base_url=server.base_url, api_key="k", model="fake-model")
        ...
        server.requests[-1].body["tools"]       # every request is recorded

A script is a list of turns, like the scripted chat model's (coding_agent/scripted.py):
`{"text": str?, "tool_calls": [{"id"?, "name", "args": dict | str}]?, "delay_ms": int?}`;
a turn may instead be `{"http_status": 500, "error": "message"}` to answer an API error.
`"gate": threading.Event` with `"gate_after": n` makes a streamed turn send n content
deltas, then fall silent until the test sets the event (at most GATE_WAIT_S).
The turn is chosen from the request, never from server state: the number of assistant
messages after the last user message (a user message for which `is_nudge(message)` is true
does not count as the last one). Past the last turn the answer is "Done.".

Streaming (`"stream": true`) answers SSE chunks exactly as api.openai.com does: a role
chunk, content deltas, tool calls as `delta.tool_calls` whose `function.arguments` string is
split over several chunks, a final chunk with `finish_reason`, a usage chunk (empty
`choices`) when `stream_options.include_usage` is set, then `data: [DONE]`.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CLOSING_TEXT = "Done."
TEXT_CHUNK = 5  # characters per content delta
ARGS_CHUNK = 8  # characters per tool-call arguments delta
GATE_WAIT_S = 60  # a gated stream's longest silence, so a failing test cannot hang the server


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any = None


@dataclass
class OpenAIServer:
    script: list[dict] = field(default_factory=list)
    model: str = "fake-model"
    api_key: str | None = None  # when set, other keys are answered 401 like the real API
    is_nudge: Callable[[dict], bool] | None = None
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._counter = 0

    # --- lifecycle --------------------------------------------------------------------
    def start(self) -> OpenAIServer:
        handler = type("Handler", (_Handler,), {"owner": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        # A short poll interval: shutdown() waits for the loop's next poll.
        loop = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        loop.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def next_completion_id(self) -> str:
        with self._lock:
            self._counter += 1
            return f"chatcmpl-fake{self._counter:04d}"

    # --- turns -------------------------------------------------------------------------
    def turn_for(self, messages: list[dict]) -> tuple[int, dict]:
        start = 0
        for i in range(len(messages) - 1, -1, -1):
            message = messages[i]
            if message.get("role") == "user" and not (self.is_nudge and self.is_nudge(message)):
                start = i + 1
                break
        index = sum(1 for m in messages[start:] if m.get("role") == "assistant")
        return index, (self.script[index] if index < len(self.script) else {"text": CLOSING_TEXT})


def serve(script: list[dict], **options) -> contextlib.AbstractContextManager[str]:
    """`with serve(script) as base_url:` — a started server for the block's duration."""

    @contextlib.contextmanager
    def running() -> Iterator[str]:
        with OpenAIServer(script=script, **options) as server:
            yield server.base_url

    return running()


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _tool_calls(index: int, turn: dict) -> list[dict]:
    """The turn's calls with their arguments as the string sent on the wire; ids default to call_<turn>_<n>."""
    calls = []
    for n, call in enumerate(turn.get("tool_calls") or []):
        args = call.get("args", {})
        arguments = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        calls.append(
            {
                "id": call.get("id") or f"call_{index + 1}_{n + 1}",
                "name": call["name"],
                "arguments": arguments,
            }
        )
    return calls


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    # --- plumbing ------------------------------------------------------------------------
    def _record(self, body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.owner.record(RecordedRequest(self.command, self.path, headers, body))

    def _json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, code: str | None = None) -> None:
        kind = "invalid_request_error" if status < 500 else "server_error"
        self._json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})

    def _authorized(self) -> bool:
        expected = self.owner.api_key
        if expected is None or self.headers.get("Authorization") == f"Bearer {expected}":
            return True
        self._error(401, "Incorrect API key provided.", "invalid_api_key")
        return False

    # --- routes ----------------------------------------------------------------------------
    def do_GET(self):
        self._record(None)
        if not self._authorized():
            return
        if self.path.rstrip("/").endswith("/v1/models"):
            model = {"id": self.owner.model, "object": "model", "created": 0, "owned_by": "fake"}
            return self._json(200, {"object": "list", "data": [model]})
        self._error(404, f"Unknown path {self.path}")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"null")
        except json.JSONDecodeError:
            self._record(raw.decode("utf-8", "replace"))
            return self._error(400, "The body is not valid JSON.")
        self._record(body)
        if not self._authorized():
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self._error(404, f"Unknown path {self.path}")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self._error(400, "'messages' is required.")

        index, turn = self.owner.turn_for(body["messages"])
        if status := turn.get("http_status"):
            return self._error(status, turn.get("error") or "Scripted error.")
        prompt_tokens = _tokens(json.dumps(body["messages"]))
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return self._stream(turn, _tool_calls(index, turn), prompt_tokens, include_usage)
        return self._complete(turn, _tool_calls(index, turn), prompt_tokens)

    def _complete(self, turn: dict, calls: list[dict], prompt_tokens: int) -> None:
        text = turn.get("text") or ""
        message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
        if calls:
            message["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for c in calls
            ]
        completion = _tokens(text + "".join(c["name"] + c["arguments"] for c in calls))
        self._json(
            200,
            {
                "id": self.owner.next_completion_id(),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.owner.model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": "tool_calls" if calls else "stop",
                    }
                ],
                "usage": _usage(prompt_tokens, completion),
            },
        )

    def _stream(self, turn: dict, calls: list[dict], prompt_tokens: int, include_usage: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        # No length: the stream ends when the connection closes, as with a proxy-less API.
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        completion_id, created = self.owner.next_completion_id(), int(time.time())
        delay = (turn.get("delay_ms") or 0) / 1000

        def event(delta: dict | None, finish_reason: str | None = None, usage: dict | None = None) -> None:
            chunk: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.owner.model,
                "system_fingerprint": "fp_fake",
                "choices": []
                if delta is None
                else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            if include_usage:
                chunk["usage"] = usage
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()
            if delay:
                time.sleep(delay)

        text = turn.get("text") or ""
        try:
            event({"role": "assistant", "content": "", "refusal": None})
            gate = turn.get("gate")
            for n, piece in enumerate(_split(text, TEXT_CHUNK)):
                if gate is not None and n == turn.get("gate_after", 1):
                    gate.wait(GATE_WAIT_S)
                event({"content": piece})
            for n, call in enumerate(calls):
                head = {"index": n, "id": call["id"], "type": "function"}
                event({"tool_calls": [{**head, "function": {"name": call["name"], "arguments": ""}}]})
                for piece in _split(call["arguments"], ARGS_CHUNK):
                    event({"tool_calls": [{"index": n, "function": {"arguments": piece}}]})
            event({}, "tool_calls" if calls else "stop")
            if include_usage:
                completion = _tokens(text + "".join(c["name"] + c["arguments"] for c in calls))
                event(None, usage=_usage(prompt_tokens, completion))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away mid-stream (a cancelled run): nothing to clean up


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
