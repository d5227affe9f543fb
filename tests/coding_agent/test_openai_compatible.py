"""An `openai` row built by the catalog, talking through the real client to a local server."""

from __future__ import annotations

import json

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from coding_agent.models_catalog import ModelUnavailable, build_chat_model
from tests.coding_agent.conftest import TEST_KEY_ENV
from tests.fakes.openai_server import serve

pytestmark = pytest.mark.django_db

PATCH = "*** Begin Patch\n*** Update File: index.html\n@@\n-<h1>Old</h1>\n+<h1>New</h1>\n*** End Patch\n"
SCRIPT = [
    {
        "text": "Reading the page before I change anything.",
        "tool_calls": [
            {"id": "call_read", "name": "coding_agent_read_file_range", "args": {"path": "index.html"}}
        ],
    },
    {
        "text": "Patching.",
        "tool_calls": [{"id": "call_patch", "name": "coding_agent_apply_patch", "args": {"patch": PATCH}}],
    },
    {"text": "The headline is updated."},
]


@tool
def coding_agent_read_file_range(
    path: str, start_line: int | None = None, end_line: int | None = None
) -> str:
    """Read numbered lines of a workspace file."""
    return path


@tool
def coding_agent_apply_patch(patch: str) -> str:
    """Apply a patch to the workspace."""
    return patch


def merged_stream(model, messages):
    chunks = list(model.stream(messages))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    return chunks, merged


def test_text_deltas_arrive_in_several_chunks_and_the_tool_call_aggregates(openai_server, openai_chat_model):
    openai_server.script = SCRIPT
    model = build_chat_model(openai_chat_model).bind_tools(
        [coding_agent_read_file_range, coding_agent_apply_patch]
    )

    chunks, merged = merged_stream(model, [HumanMessage("Make the headline friendlier.")])

    text_deltas = [c.content for c in chunks if c.content]
    assert len(text_deltas) >= 5
    assert "".join(text_deltas) == SCRIPT[0]["text"]
    assert sum(1 for c in chunks for tc in c.tool_call_chunks if tc["args"]) >= 3  # args split on the wire
    assert merged.tool_calls == [
        {
            "name": "coding_agent_read_file_range",
            "args": {"path": "index.html"},
            "id": "call_read",
            "type": "tool_call",
        }
    ]
    assert merged.usage_metadata["total_tokens"] > 0
    assert merged.response_metadata["finish_reason"] == "tool_calls"


def test_the_tools_and_the_key_reach_the_endpoint(openai_server, openai_chat_model, openai_key):
    openai_server.script = SCRIPT
    model = build_chat_model(openai_chat_model).bind_tools([coding_agent_read_file_range])
    list(model.stream([HumanMessage("Go.")]))

    request = openai_server.chat_requests[-1]
    assert request.headers["authorization"] == f"Bearer {openai_key}"
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.body["model"] == openai_server.model
    assert [t["function"]["name"] for t in request.body["tools"]] == ["coding_agent_read_file_range"]


def test_the_turn_follows_the_conversation_and_a_patch_arrives_intact(openai_server, openai_chat_model):
    openai_server.script = SCRIPT
    model = build_chat_model(openai_chat_model)
    messages = [
        HumanMessage("Make the headline friendlier."),
        AIMessage(
            "",
            tool_calls=[
                {"name": "coding_agent_read_file_range", "args": {"path": "index.html"}, "id": "call_read"}
            ],
        ),
        ToolMessage("1: <h1>Old</h1>", tool_call_id="call_read"),
    ]
    _, merged = merged_stream(model, messages)
    assert merged.tool_calls[0]["args"] == {"patch": PATCH}

    messages += [merged, ToolMessage("applied", tool_call_id="call_patch")]
    final = model.invoke(messages)
    assert final.content == "The headline is updated."
    assert final.tool_calls == []


def test_unparsable_arguments_from_the_endpoint_become_an_invalid_tool_call(openai_server, openai_chat_model):
    openai_server.script = [
        {"tool_calls": [{"id": "call_bad", "name": "coding_agent_apply_patch", "args": "patch=nope"}]}
    ]
    result = build_chat_model(openai_chat_model).invoke([HumanMessage("Go.")])
    assert result.tool_calls == []
    assert result.invalid_tool_calls[0]["args"] == "patch=nope"


def test_a_non_streaming_build_uses_a_plain_completion(openai_server, openai_chat_model):
    openai_server.script = SCRIPT
    result = build_chat_model(openai_chat_model, streaming=False).invoke([HumanMessage("Go.")])
    assert result.content == SCRIPT[0]["text"]
    assert result.tool_calls[0]["args"] == {"path": "index.html"}
    assert (
        "stream" not in openai_server.chat_requests[-1].body
        or not openai_server.chat_requests[-1].body["stream"]
    )


def test_the_key_never_appears_in_the_model_representation(openai_chat_model, openai_key):
    model = build_chat_model(openai_chat_model)
    for text in (repr(model), str(model), json.dumps(model.model_dump(mode="json"), default=str)):
        assert openai_key not in text


def test_a_missing_key_variable_is_unavailable_and_named(openai_chat_model, monkeypatch):
    monkeypatch.delenv(TEST_KEY_ENV)
    with pytest.raises(ModelUnavailable) as caught:
        build_chat_model(openai_chat_model)
    assert caught.value.code == "CODING_AGENT_MODEL_UNAVAILABLE"
    assert TEST_KEY_ENV in caught.value.message
    assert "fake-openai" in caught.value.message


def test_a_wrong_key_is_refused_by_the_endpoint(openai_server, openai_chat_model, monkeypatch):
    import openai

    openai_server.api_key = "sk-the-right-one"
    monkeypatch.setenv(TEST_KEY_ENV, "sk-a-wrong-one")
    openai_server.script = SCRIPT
    with pytest.raises(openai.AuthenticationError):
        build_chat_model(openai_chat_model).invoke([HumanMessage("Go.")])


def test_the_server_lists_its_model_and_serve_yields_a_base_url():
    with serve([{"text": "hi"}], model="tiny") as base_url:
        answer = httpx.get(f"{base_url}/models", timeout=5).json()
    assert answer["data"][0]["id"] == "tiny"
