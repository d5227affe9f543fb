"""The scripted chat model: streams like a real provider, picks its turn from the conversation."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import ValidationError

from coding_agent.scripted import CLOSING_TEXT, ScriptedChatModel, turn_index, validate_script

SCRIPT = [
    {
        "text": "I'll look at the page first, then change it.",
        "tool_calls": [
            {"id": "call_read", "name": "coding_agent_read_file_range", "args": {"path": "index.html"}},
        ],
    },
    {
        "text": "Patching.",
        "tool_calls": [
            {
                "id": "call_patch",
                "name": "coding_agent_apply_patch",
                "args": '{"patch": "*** Begin Patch\\n"}',
            },
        ],
    },
    {"text": "All done."},
]


@tool
def coding_agent_read_file_range(path: str, start_line: int | None = None) -> str:
    """Read numbered lines of a workspace file."""
    return path


def stream(model, messages):
    chunks = list(model.stream(messages))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    return chunks, merged


def conversation(ai_turns: int = 0, *, nudge_after: bool = False):
    messages = [SystemMessage("You edit web apps."), HumanMessage("Make the headline friendlier.")]
    for n in range(ai_turns):
        messages.append(AIMessage(f"turn {n}", tool_calls=[{"name": "t", "args": {}, "id": f"c{n}"}]))
        messages.append(ToolMessage("ok", tool_call_id=f"c{n}"))
    if nudge_after:
        messages.append(HumanMessage("Answer in plain text now.", additional_kwargs={"nudge": True}))
    return messages


def test_it_streams_the_text_in_several_small_chunks_then_the_tool_call():
    chunks, merged = stream(ScriptedChatModel(script=SCRIPT), conversation())

    text_chunks = [c.content for c in chunks if c.content]
    assert len(text_chunks) >= 4
    assert all(3 <= len(t) <= 12 for t in text_chunks[:-1])
    assert "".join(text_chunks) == SCRIPT[0]["text"]
    first_tool_chunk = next(i for i, c in enumerate(chunks) if c.tool_call_chunks)
    assert not any(c.content for c in chunks[first_tool_chunk:])
    assert merged.tool_calls == [
        {
            "name": "coding_agent_read_file_range",
            "args": {"path": "index.html"},
            "id": "call_read",
            "type": "tool_call",
        }
    ]


def test_tool_call_arguments_arrive_split_across_chunks_like_a_provider_stream():
    chunks, _ = stream(ScriptedChatModel(script=SCRIPT), conversation())
    tool_chunks = [tc for c in chunks for tc in c.tool_call_chunks]

    assert tool_chunks[0]["name"] == "coding_agent_read_file_range"
    assert tool_chunks[0]["id"] == "call_read"
    assert all(tc["name"] is None and tc["id"] is None for tc in tool_chunks[1:])
    assert len(tool_chunks) >= 3
    assert {tc["index"] for tc in tool_chunks} == {0}
    assert "".join(tc["args"] for tc in tool_chunks) == json.dumps({"path": "index.html"})


def test_json_string_args_are_parsed_into_the_tool_call():
    _, merged = stream(ScriptedChatModel(script=SCRIPT), conversation(1))
    assert merged.content == "Patching."
    assert merged.tool_calls[0]["args"] == {"patch": "*** Begin Patch\n"}
    assert merged.tool_calls[0]["id"] == "call_patch"


def test_unparsable_args_reach_the_caller_as_an_invalid_tool_call():
    script = [{"tool_calls": [{"id": "call_bad", "name": "coding_agent_apply_patch", "args": "patch: nope"}]}]
    result = ScriptedChatModel(script=script).invoke(conversation())

    assert result.tool_calls == []
    assert result.invalid_tool_calls[0]["id"] == "call_bad"
    assert result.invalid_tool_calls[0]["args"] == "patch: nope"


def test_a_truncated_json_object_is_completed_by_langchain_like_a_real_stream():
    script = [
        {"tool_calls": [{"id": "call_cut", "name": "coding_agent_read_file_range", "args": '{"path": "ind'}]}
    ]
    result = ScriptedChatModel(script=script).invoke(conversation())
    assert result.tool_calls[0]["args"] == {"path": "ind"}


def test_several_tool_calls_in_one_turn_keep_their_order_and_ids():
    script = [
        {
            "tool_calls": [
                {"name": "coding_agent_read_file_range", "args": {"path": "a.html"}},
                {"name": "coding_agent_read_file_range", "args": {"path": "b.css"}},
            ]
        }
    ]
    result = ScriptedChatModel(script=script).invoke(conversation())
    assert [(c["id"], c["args"]["path"]) for c in result.tool_calls] == [
        ("call_1_1", "a.html"),
        ("call_1_2", "b.css"),
    ]
    assert result.response_metadata["finish_reason"] == "tool_calls"


def test_it_picks_the_turn_from_the_conversation_so_a_resumed_run_continues():
    model = ScriptedChatModel(script=SCRIPT)
    # Two AI messages after the human one: a new process resuming the run plays turn 3.
    assert model.invoke(conversation(2)).content == "All done."
    # The same object replays earlier turns when asked with an earlier conversation.
    assert model.invoke(conversation(0)).tool_calls[0]["id"] == "call_read"
    assert model.invoke(conversation(1)).tool_calls[0]["id"] == "call_patch"


def test_a_nudge_does_not_restart_the_script():
    model = ScriptedChatModel(script=SCRIPT)
    assert turn_index(conversation(2, nudge_after=True)) == 2
    assert model.invoke(conversation(2, nudge_after=True)).content == "All done."


def test_a_new_human_message_starts_counting_again():
    messages = [*conversation(3), AIMessage("All done."), HumanMessage("Now the footer.")]
    assert turn_index(messages) == 0
    assert ScriptedChatModel(script=SCRIPT).invoke(messages).tool_calls[0]["id"] == "call_read"


def test_past_the_last_turn_it_closes_with_a_short_text():
    result = ScriptedChatModel(script=SCRIPT).invoke(conversation(3))
    assert result.content == CLOSING_TEXT
    assert result.tool_calls == []
    assert result.response_metadata["finish_reason"] == "stop"


def test_it_reports_deterministic_usage():
    model = ScriptedChatModel(script=SCRIPT)
    first, second = model.invoke(conversation()), model.invoke(conversation())
    usage = first.usage_metadata
    assert usage == second.usage_metadata
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_bind_tools_accepts_tool_schemas_and_keeps_playing():
    bound = ScriptedChatModel(script=SCRIPT).bind_tools([coding_agent_read_file_range], tool_choice="auto")
    _, merged = stream(bound, conversation())
    assert merged.tool_calls[0]["name"] == "coding_agent_read_file_range"
    assert bound.kwargs["tools"][0]["function"]["name"] == "coding_agent_read_file_range"


def test_invoke_streams_through_callbacks_when_built_with_streaming():
    from langchain_core.callbacks import BaseCallbackHandler

    tokens: list[str] = []

    class Collect(BaseCallbackHandler):
        def on_llm_new_token(self, token, **kwargs):
            tokens.append(token)

    model = ScriptedChatModel(script=SCRIPT, streaming=True)
    result = model.invoke(conversation(), config={"callbacks": [Collect()]})
    assert "".join(tokens) == SCRIPT[0]["text"]
    assert len([t for t in tokens if t]) >= 4
    assert result.tool_calls[0]["id"] == "call_read"


def test_delay_ms_pauses_between_chunks(monkeypatch):
    import coding_agent.scripted

    pauses: list[float] = []
    monkeypatch.setattr(coding_agent.scripted.time, "sleep", pauses.append)
    script = [{"text": "slow text here", "tool_calls": [{"name": "t", "args": {"a": 1}}], "delay_ms": 250}]
    chunks = list(ScriptedChatModel(script=script).stream(conversation()))

    produced = [c for c in chunks if c.content or c.tool_call_chunks]
    assert pauses == [0.25] * (len(produced) - 1)  # between chunks, not before the first
    assert "".join(c.content for c in chunks) == "slow text here"


def test_an_invalid_script_is_refused_with_where_and_why():
    errors = validate_script(
        [
            {"text": "ok", "tool_calls": [{"id": "a", "name": "x"}]},
            {"tool_calls": [{"id": "a", "name": "", "args": 5}], "delay_ms": -1, "extra": 1},
            "not a turn",
            {},
        ]
    )
    assert errors == [
        "script[1]: unknown key(s) extra (allowed: text, tool_calls, delay_ms)",
        "script[1].delay_ms: must be a non-negative integer (milliseconds)",
        "script[1].tool_calls[0].name: must be a non-empty string",
        "script[1].tool_calls[0].args: must be an object or a JSON string, got a number",
        "script[1].tool_calls[0].id: 'a' is already used at script[0].tool_calls[0]; ids must be unique",
        "script[2]: a turn must be an object, got a string",
        "script[3]: a turn needs a non-empty text or at least one tool call",
    ]
    assert validate_script({"text": "x"}) == ["script must be a JSON list of turns, got an object"]
    assert validate_script([]) == ["script must contain at least one turn"]
    with pytest.raises(ValidationError):
        ScriptedChatModel(script=[{"text": 1}])
