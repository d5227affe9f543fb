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

import json
import time
from dataclasses import dataclass
from typing import Any

from tests.fakes.scripted_server import (
    ARGS_CHUNK,
    GATE_WAIT_S,
    TEXT_CHUNK,
    JsonHandler,
    RecordedRequest,
    ScriptedServer,
    output_tokens,
    split,
    tokens,
    tool_calls,
)


@dataclass
class OpenAIServer(ScriptedServer):
    api_root = "/v1"
    thread_name = "fake-openai"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def turn_for(self, messages: list[dict]) -> tuple[int, dict]:
        start = 0
        for i in range(len(messages) - 1, -1, -1):
            message = messages[i]
            if message.get("role") == "user" and not self.nudge(message):
                start = i + 1
                break
        index = sum(1 for m in messages[start:] if m.get("role") == "assistant")
        return index, self.scripted(index)


class _Handler(JsonHandler):
    owner: OpenAIServer

    def _error(self, status: int, message: str, code: str | None = None) -> None:
        kind = "invalid_request_error" if status < 500 else "server_error"
        self.send_json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})

    def _authorized(self) -> bool:
        expected = self.owner.api_key
        if expected is None or self.headers.get("Authorization") == f"Bearer {expected}":
            return True
        self._error(401, "Incorrect API key provided.", "invalid_api_key")
        return False

    # --- routes ----------------------------------------------------------------------------
    def do_GET(self):
        self.record(None)
        if not self._authorized():
            return
        if self.path_is("/v1/models"):
            model = {"id": self.owner.model, "object": "model", "created": 0, "owned_by": "fake"}
            return self.send_json(200, {"object": "list", "data": [model]})
        self._error(404, f"Unknown path {self.path}")

    def do_POST(self):
        request, is_json = self.read_json()
        if not is_json:
            return self._error(400, "The body is not valid JSON.")
        body = request.body
        if not self._authorized():
            return
        if not self.path_is("/chat/completions"):
            return self._error(404, f"Unknown path {self.path}")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self._error(400, "'messages' is required.")

        index, turn = self.owner.turn_for(body["messages"])
        if status := turn.get("http_status"):
            return self._error(status, turn.get("error") or "Scripted error.")
        prompt_tokens = tokens(json.dumps(body["messages"]))
        calls = tool_calls(index, turn, "call_")
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return self._stream(turn, calls, prompt_tokens, include_usage)
        return self._complete(turn, calls, prompt_tokens)

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
        completion = output_tokens(text, calls)
        self.send_json(
            200,
            {
                "id": self.owner.next_id("chatcmpl-"),
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

        completion_id, created = self.owner.next_id("chatcmpl-"), int(time.time())
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
            for n, piece in enumerate(split(text, TEXT_CHUNK)):
                if gate is not None and n == turn.get("gate_after", 1):
                    gate.wait(GATE_WAIT_S)
                event({"content": piece})
            for n, call in enumerate(calls):
                head = {"index": n, "id": call["id"], "type": "function"}
                event({"tool_calls": [{**head, "function": {"name": call["name"], "arguments": ""}}]})
                for piece in split(call["arguments"], ARGS_CHUNK):
                    event({"tool_calls": [{"index": n, "function": {"arguments": piece}}]})
            event({}, "tool_calls" if calls else "stop")
            if include_usage:
                event(None, usage=_usage(prompt_tokens, output_tokens(text, calls)))
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


OpenAIServer.handler = _Handler
serve = OpenAIServer.serve  # `with serve(script) as base_url:`
