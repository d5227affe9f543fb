"""The `scripted` chat model: plays a JSON script of assistant turns (DESIGN.md §8).

A script is a list of turns, played one per model call within a run:

    [{"text": "I'll look at the page first.",
      "tool_calls": [{"id": "call_1", "name": "coding_agent_read_file_range",
                      "args": {"path": "index.html"}}],
      "delay_ms": 50},
     ...]

- `text` (optional) is streamed in small deterministic chunks (3-12 characters).
- `tool_calls` (optional) follow the text, shaped like a real provider's stream: a first
  chunk with the call's `id`, `name` and `index`, then the JSON arguments string split over
  several chunks. `args` may be an object (sent as its JSON) or a string (sent verbatim, as
  real models sometimes send invalid JSON). LangChain parses the aggregated string with
  `parse_partial_json`: a string that parses to an object becomes `tool_calls[i].args`
  (note that a *truncated* object such as `{"path": "a` is completed by that parser and
  still counts as valid); anything else (not JSON, or JSON that is not an object) lands
  in `invalid_tool_calls` with the raw string, exactly as with ChatOpenAI.
- `delay_ms` (optional) sleeps between chunks, so tests can cancel or kill a run
  mid-stream.
- `id` of a tool call is optional; when omitted it is `call_<turn>_<n>` (1-based), so a
  replayed turn always produces the same ids (the tool-call ledger relies on that).

Which turn to play is derived from the conversation, never from in-memory state: the
executor may crash and resume in another process, and one model object serves many calls.
Turn index = number of AI messages after the last human message that is not a nudge
(`additional_kwargs["nudge"] is True`; the executor's "answer in plain text" prompt must
not restart the script). Past the last turn the model answers `CLOSING_TEXT`.

Usage is reported as characters / 4 (rounded up), so it is deterministic.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, generate_from_stream
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, model_validator

CLOSING_TEXT = "Done."
TURN_KEYS = {"text", "tool_calls", "delay_ms"}
TOOL_CALL_KEYS = {"id", "name", "args"}
# Chunk sizes cycle through these, so the stream is deterministic yet uneven like a real one.
TEXT_CHUNK_SIZES = (4, 7, 3, 9, 5, 12, 6, 8)


def validate_script(script: Any) -> list[str]:
    """Every problem with a script's shape, each naming where it is (`script[1].tool_calls[0].name`)."""
    if not isinstance(script, list):
        return [f"script must be a JSON list of turns, got {_json_type(script)}"]
    if not script:
        return ["script must contain at least one turn"]
    errors: list[str] = []
    seen_ids: dict[str, str] = {}
    for t, turn in enumerate(script):
        where = f"script[{t}]"
        if not isinstance(turn, dict):
            errors.append(f"{where}: a turn must be an object, got {_json_type(turn)}")
            continue
        if unknown := sorted(set(turn) - TURN_KEYS):
            errors.append(
                f"{where}: unknown key(s) {', '.join(unknown)} (allowed: text, tool_calls, delay_ms)"
            )
        text, calls = turn.get("text"), turn.get("tool_calls")
        if text is not None and not isinstance(text, str):
            errors.append(f"{where}.text: must be a string, got {_json_type(text)}")
        if calls is not None and not isinstance(calls, list):
            errors.append(f"{where}.tool_calls: must be a list, got {_json_type(calls)}")
            calls = None
        if not text and not calls:
            errors.append(f"{where}: a turn needs a non-empty text or at least one tool call")
        delay = turn.get("delay_ms")
        if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int) or delay < 0):
            errors.append(f"{where}.delay_ms: must be a non-negative integer (milliseconds)")
        for c, call in enumerate(calls or []):
            errors.extend(_validate_call(call, f"{where}.tool_calls[{c}]", seen_ids))
    return errors


def _validate_call(call: Any, where: str, seen_ids: dict[str, str]) -> list[str]:
    if not isinstance(call, dict):
        return [f"{where}: a tool call must be an object, got {_json_type(call)}"]
    errors = []
    if unknown := sorted(set(call) - TOOL_CALL_KEYS):
        errors.append(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: id, name, args)")
    name = call.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(f"{where}.name: must be a non-empty string")
    args = call.get("args", {})
    if not isinstance(args, dict | str):
        errors.append(f"{where}.args: must be an object or a JSON string, got {_json_type(args)}")
    call_id = call.get("id")
    if call_id is not None:
        if not isinstance(call_id, str) or not call_id:
            errors.append(f"{where}.id: must be a non-empty string")
        elif call_id in seen_ids:
            # The run's tool-call ledger treats a repeated id as already executed.
            errors.append(
                f"{where}.id: {call_id!r} is already used at {seen_ids[call_id]}; ids must be unique"
            )
        else:
            seen_ids[call_id] = where
    return errors


def _json_type(value: Any) -> str:
    for kind, name in ((bool, "a boolean"), (dict, "an object"), (list, "a list"), (str, "a string")):
        if isinstance(value, kind):
            return name
    if value is None:
        return "null"
    return "a number" if isinstance(value, int | float) else type(value).__name__


def turn_index(messages: Sequence[BaseMessage]) -> int:
    """How many AI turns were already played since the last real (non-nudge) human message."""
    start = 0
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if isinstance(message, HumanMessage) and message.additional_kwargs.get("nudge") is not True:
            start = i + 1
            break
    return sum(1 for message in messages[start:] if isinstance(message, AIMessage))


def _pieces(text: str, sizes: tuple[int, ...]) -> Iterator[str]:
    pos, n = 0, 0
    while pos < len(text):
        size = sizes[n % len(sizes)]
        yield text[pos : pos + size]
        pos, n = pos + size, n + 1


def _thirds(text: str) -> list[str]:
    """Arguments in (up to) three chunks: split as providers split them, but without the
    per-chunk re-parsing of the partial JSON that small chunks cost LangChain (quadratic)."""
    step = max(1, -(-len(text) // 3))
    return [text[i : i + step] for i in range(0, len(text), step)] or [""]


def _tokens(chars: int) -> int:
    return math.ceil(chars / 4)


def _message_chars(message: BaseMessage) -> int:
    content = message.content if isinstance(message.content, str) else json.dumps(message.content)
    calls = getattr(message, "tool_calls", None) or []
    return len(content) + sum(len(json.dumps(c.get("args", {}))) + len(c.get("name", "")) for c in calls)


class ScriptedChatModel(BaseChatModel):
    """A chat model that plays `script` (see the module docstring); no network, no randomness."""

    script: list[dict[str, Any]] = Field(default_factory=list)
    model_name: str = "scripted"
    # Set explicitly by `build_chat_model`, so `invoke` streams through callbacks like a
    # real provider built with streaming=True (LangGraph's "messages" stream mode).
    streaming: bool = False

    @model_validator(mode="after")
    def _check_script(self):
        if errors := validate_script(self.script):
            raise ValueError("invalid script: " + "; ".join(errors))
        return self

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any):
        """Accept tool schemas like a real provider (converting them proves they are valid) and ignore them."""
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def _turn(self, messages: Sequence[BaseMessage]) -> tuple[int, dict[str, Any]]:
        index = turn_index(messages)
        if index < len(self.script):
            return index, self.script[index]
        return index, {"text": CLOSING_TEXT}

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # Token callbacks are fired by BaseChatModel.stream / _generate_with_cache for each
        # chunk we yield; firing them here too would deliver every delta twice.
        index, turn = self._turn(messages)
        delay = (turn.get("delay_ms") or 0) / 1000
        out_chars = 0
        first = True

        def pause():
            nonlocal first
            if delay and not first:
                time.sleep(delay)
            first = False

        for piece in _pieces(turn.get("text") or "", TEXT_CHUNK_SIZES):
            pause()
            out_chars += len(piece)
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))

        calls = turn.get("tool_calls") or []
        for n, call in enumerate(calls):
            args = call.get("args", {})
            args_text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
            call_id = call.get("id") or f"call_{index + 1}_{n + 1}"
            pause()
            out_chars += len(call["name"])
            head = {"name": call["name"], "args": "", "id": call_id, "index": n, "type": "tool_call_chunk"}
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[head]))
            for piece in _thirds(args_text):
                pause()
                out_chars += len(piece)
                part = {"name": None, "args": piece, "id": None, "index": n, "type": "tool_call_chunk"}
                yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[part]))

        input_tokens = _tokens(sum(_message_chars(m) for m in messages))
        output_tokens = _tokens(out_chars)
        usage = UsageMetadata(
            input_tokens=input_tokens, output_tokens=output_tokens, total_tokens=input_tokens + output_tokens
        )
        finish_reason = "tool_calls" if calls else "stop"
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=usage,
                response_metadata={"finish_reason": finish_reason, "model_name": self.model_name},
                chunk_position="last",
            ),
            generation_info={"finish_reason": finish_reason, "model_name": self.model_name},
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # Same chunks aggregated, so invoke() and stream() agree on tool-call parsing.
        return generate_from_stream(self._stream(messages, stop=stop, **kwargs))
