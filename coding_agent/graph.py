"""The agent loop as a LangGraph graph: nodes and edges only (the nodes live in engines/native.py).

    START -> agent --(tool calls, rounds left)--> tools -> agent
                   --(no text, no tool calls)---> reply -> END     (one forced plain-text turn)
                   --(otherwise)----------------> END

A model turn that still asks for tools after the last allowed round ends the graph with
those calls unanswered; the executor reports that as MAX_TOOL_ITERATIONS.
"""

from __future__ import annotations

import functools
from typing import Annotated, Protocol, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime


class AgentState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    tool_rounds: int
    # The last model turn's text not yet written as assistant.delta ({"text", "turn"}):
    # the tools node writes it with the first call's start.
    unsent: dict | None


def wants_tools(message) -> bool:
    return isinstance(message, AIMessage) and bool(message.tool_calls or message.invalid_tool_calls)


def message_text(message) -> str:
    """The text of a message whose content may be a string or a list of content blocks."""
    content = getattr(message, "content", "")
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(block.get("text", ""))
    return "".join(parts)


class Nodes(Protocol):
    """What the graph runs: the engine's node functions, given per run as the runtime context."""

    def agent(self, state: AgentState) -> dict: ...
    def tools(self, state: AgentState) -> dict: ...
    def reply(self, state: AgentState) -> dict: ...


@functools.cache
def build(*, max_tool_rounds: int, checkpointer=None):
    """The compiled graph, made once per process (and checkpointer): each run passes its
    `Nodes` as `context=` to `stream`."""

    def agent(state: AgentState, runtime: Runtime[Nodes]) -> dict:
        return runtime.context.agent(state)

    def tools(state: AgentState, runtime: Runtime[Nodes]) -> dict:
        return runtime.context.tools(state)

    def reply(state: AgentState, runtime: Runtime[Nodes]) -> dict:
        return runtime.context.reply(state)

    def after_agent(state: AgentState) -> str:
        last = state["messages"][-1]
        if wants_tools(last):
            return "tools" if state.get("tool_rounds", 0) < max_tool_rounds else END
        if not message_text(last).strip():
            return "reply"
        return END

    graph = StateGraph(AgentState)
    graph.add_node("agent", agent)
    graph.add_node("tools", tools)
    graph.add_node("reply", reply)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", after_agent, ["tools", "reply", END])
    graph.add_edge("tools", "agent")
    graph.add_edge("reply", END)
    return graph.compile(checkpointer=checkpointer)
