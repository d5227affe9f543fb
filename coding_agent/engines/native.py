"""The native engine: our LangGraph loop, a chat model with the toolpack bound, durable by run id.

`execute` builds the graph for one run and drives it with `stream_mode="updates"`,
checking for cancellation after every step. The graph state is checkpointed after each
step (`durability="sync"`, thread id = run id), so a run taken over by another worker
resumes where the last one stopped.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import os
import queue
import threading
import time

from django.conf import settings
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.messages.ai import add_ai_message_chunks

from coding_agent import checkpointer as checkpoints
from coding_agent import graph as agent_graph
from coding_agent import lifecycle, models_catalog, prompts, tools
from coding_agent.events import LeaseLost, append_event, append_events
from coding_agent.models import AgentRun, ChatModel, RunEvent, ToolCall
from coding_agent.toolcalls import ledger_key, run_tool_calls
from coding_agent.tools.arguments import printable
from sandbox.workspaces import open_workspace

log = logging.getLogger(__name__)

DELTA_INTERVAL_S = 0.05  # at most ~20 assistant.delta events per second per run
STREAM_POLL_S = 0.25  # a silent model stream is checked this often for a cancel or a lost lease
NUDGE = (
    "Please reply to me in plain language now: briefly say what you did (or found) and what, "
    "if anything, is left. Do not call tools."
)
FALLBACK_TEXT = "I've finished working on your request."


class Cancelled(Exception):
    pass


class ModelFailure(Exception):
    pass


# Where the providers' clients go without a base URL.
DEFAULT_ENDPOINTS = {
    ChatModel.Provider.OPENAI: "https://api.openai.com/v1",
    ChatModel.Provider.ANTHROPIC: "https://api.anthropic.com",
}


class DeltaBuffer:
    """Coalesces streamed text: an event at most every `interval` seconds, and no text held
    longer than that (`ModelStream` wakes the run's thread when it is due, also while the
    model is silent); never drops text (`flush` sends the rest)."""

    def __init__(self, emit, interval: float = DELTA_INTERVAL_S):
        self.emit = emit
        self.interval = interval
        self.pending: list[str] = []
        self.since = 0.0  # when the oldest pending text arrived

    def add(self, text: str) -> None:
        if not text:
            return
        now = time.monotonic()
        if not self.pending:
            self.since = now
        self.pending.append(text)
        if now - self.since >= self.interval:
            self.flush()

    def tick(self) -> None:
        """Send pending text that has waited `interval` (when the model pauses, or streams
        tool-call arguments, no new text comes to push it out)."""
        if self.pending and time.monotonic() - self.since >= self.interval:
            self.flush()

    def due_in(self, otherwise: float) -> float:
        """Seconds until pending text is due (`otherwise` when nothing is pending)."""
        if not self.pending:
            return otherwise
        return max(0.0, min(otherwise, self.since + self.interval - time.monotonic()))

    def take(self) -> str:
        """The pending text, removed without being sent."""
        text = "".join(self.pending)
        self.pending = []
        return text

    def flush(self) -> None:
        if self.pending:
            self.emit(self.take())


class _Failed:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException):
        self.exc = exc


_END = object()


class _Readers:
    """Daemon threads that read model streams, kept between turns: starting a thread per
    turn cost more than the turn's own handoffs. One idle for IDLE_S exits; one reading an
    abandoned stream stays busy until that request ends, and others serve meanwhile.

    `_idle` is the number of waiting threads minus the jobs queued for them: `submit`
    takes one of them, or starts a thread when there is none.
    """

    IDLE_S = 30.0

    def __init__(self):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def submit(self, job) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                threading.Thread(target=self._serve, name="model-stream", daemon=True).start()
        self._jobs.put(job)

    def _serve(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self.IDLE_S)
            except queue.Empty:
                with self._lock:
                    if self._idle:  # otherwise a job was promised to a waiting thread: wait on
                        self._idle -= 1
                        return
                continue
            job()
            with self._lock:
                self._idle += 1


_readers = _Readers()


class ModelStream:
    """A model's stream, read in a thread of its own so that the run's thread can act while
    the model is silent: send held text once it is due (`buffer.due_in`), and notice a
    cancel or a lost lease (`check`) within STREAM_POLL_S instead of when the next chunk
    or the request's timeout comes. Leaving early abandons the reader (a daemon thread of
    `_readers`): it stops at its next chunk, or when its request ends."""

    def __init__(self, chunks, buffer: DeltaBuffer, check):
        self.buffer = buffer
        self.check = check
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._abandoned = threading.Event()
        # The reader carries this thread's context (LangChain keeps callbacks and tracing there).
        self._job = functools.partial(contextvars.copy_context().run, self._read, chunks)

    def _read(self, chunks) -> None:
        inbox = self._inbox
        try:
            for chunk in chunks():
                if self._abandoned.is_set():
                    return
                inbox.put(chunk)
            inbox.put(_END)
        except BaseException as exc:  # handed over, raised in the run's thread
            inbox.put(_Failed(exc))

    def __enter__(self):
        _readers.submit(self._job)
        return self

    def __exit__(self, *exc) -> None:
        self._abandoned.set()

    def __iter__(self):
        inbox, buffer = self._inbox, self.buffer
        while True:
            try:
                item = inbox.get(timeout=buffer.due_in(STREAM_POLL_S))
            except queue.Empty:
                self.check()
                buffer.tick()
                continue
            if item is _END:
                return
            if type(item) is _Failed:
                raise item.exc
            yield item


def _turn_index(messages) -> int:
    """AI turns since the run's input (a nudge message does not start a new count)."""
    count = 0
    for message in reversed(messages):
        if isinstance(message, HumanMessage) and not message.additional_kwargs.get("nudge"):
            break
        if isinstance(message, AIMessage):
            count += 1
    return count


class NativeRun:
    def __init__(self, run: AgentRun, *, owner: str, heartbeat):
        self.run = run
        self.owner = owner
        self.heartbeat = heartbeat
        # Only a resumed attempt can find its own earlier events and ledger rows.
        self.resumed = run.attempt > 1
        chat_model = ChatModel.objects.filter(pk=run.resolved_model_id).first()
        if chat_model is None:
            raise models_catalog.ModelUnavailable(
                f"The run's model {run.resolved_model_id!r} no longer exists."
            )
        self.chat_model = chat_model
        self.model = models_catalog.build_chat_model(chat_model)
        self.secret = os.environ.get(chat_model.api_key_env) if chat_model.api_key_env else None
        self.legacy_write = settings.APPS_CODING_AGENT_ENABLE_LEGACY_WRITE_FILE
        specs = tools.tool_specs(legacy_write_file=self.legacy_write)
        self.bound = self.model.bind_tools(specs)
        # The closing reply calls no tools, but Anthropic refuses a history holding
        # tool_use/tool_result blocks unless tools are defined: keep them, forbid their use.
        # (The dict: langchain-anthropic reads the string "none" as a tool of that name.)
        self.closing = (
            self.model.bind_tools(specs, tool_choice={"type": "none"})
            if chat_model.provider == ChatModel.Provider.ANTHROPIC
            else self.model
        )
        base = run.base_revision.manifest if run.base_revision_id else {}
        self.manifest = run.workspace_manifest if run.workspace_manifest is not None else base
        self.workspace = open_workspace(run.pk, self.manifest)
        self.ctx = tools.ToolContext(
            root=self.workspace.root,
            checks=run.app.checks or {},
            hash_cache=self.workspace.hash_cache,
            outline_cache=self.workspace.outline_cache,
            timeout_s=settings.APPS_CODING_AGENT_TOOL_TIMEOUT_S,
            cancel=self.should_stop,
            legacy_write_file=self.legacy_write,
            auto_verify_patch=settings.APPS_CODING_AGENT_AUTO_VERIFY_PATCH,
        )
        self.system = SystemMessage(
            prompts.system_prompt(checks=run.app.checks or {}, compaction=run.compaction)
        )

    def should_stop(self) -> bool:
        return self.heartbeat.should_stop()

    def _check(self) -> None:
        if self.heartbeat.lost.is_set():
            raise LeaseLost(f"run {self.run.pk}: lease lost")
        if self.heartbeat.cancelled.is_set():
            raise Cancelled()

    def _describe(self, exc: Exception) -> str:
        """The client's error, plus where it was going when it could not get there: the
        clients' own words ("Connection error.") name no address."""
        text = f"{type(exc).__name__}: {exc}"
        if any(word in type(exc).__name__ for word in ("Connection", "Connect", "Timeout")):
            where = self.chat_model.base_url or DEFAULT_ENDPOINTS.get(self.chat_model.provider, "")
            if where:
                text += f" (could not reach the {self.chat_model.provider} endpoint at {where})"
        return text

    def _redact(self, text: str) -> str:
        return text.replace(self.secret, "***") if self.secret else text

    # --- nodes -----------------------------------------------------------------------
    def agent(self, state):
        # Text still buffered when the model asks for tools is not written on its own: it
        # goes with the first call's start (one commit for both), kept in the graph state
        # meanwhile so a resumed run still has it.
        message, unsent = self._model_turn(state["messages"], self.bound, hold=True)
        return {"messages": [message], "unsent": unsent}

    def reply(self, state):
        nudge = HumanMessage(NUDGE, additional_kwargs={"nudge": True})
        return {"messages": [nudge, self._model_turn([*state["messages"], nudge], self.closing)[0]]}

    def tools(self, state):
        last = state["messages"][-1]
        round_no = state.get("tool_rounds", 0) + 1
        calls = [(c.get("id"), c.get("name"), c.get("args")) for c in last.tool_calls]
        calls += [(c.get("id"), c.get("name"), c.get("args")) for c in last.invalid_tool_calls]
        results, self.manifest = run_tool_calls(
            run_id=self.run.pk,
            owner=self.owner,
            round_no=round_no,
            calls=calls,
            ctx=self.ctx,
            workspace=self.workspace,
            manifest=self.manifest,
            check=self._check,
            resumed=self.resumed,
            lead=_unsent_event(state),
        )
        return {"messages": results, "tool_rounds": round_no, "unsent": None}

    def flush_unsent(self, state) -> None:
        """The last turn's text held back for its first tool call's start, when that call
        never started (the run was cancelled, or out of tool rounds, in between)."""
        lead = _unsent_event(state)
        if lead is None:
            return
        last = state["messages"][-1]
        first = (last.tool_calls or last.invalid_tool_calls or [{}])[0]
        key = ledger_key(state.get("tool_rounds", 0) + 1, first.get("id"), 0)
        if not ToolCall.objects.filter(run_id=self.run.pk, tool_call_id=key).exists():
            append_events(self.run.pk, [lead], owner=self.owner)

    def _model_turn(self, messages, model, *, hold: bool = False) -> tuple[AIMessage, dict | None]:
        """The model's answer, its text streamed as `assistant.delta`. With `hold`, text still
        buffered at the end of a turn that asks for tools is returned (as {"text", "turn"})
        instead of written."""
        turn = _turn_index(messages)
        # A turn interrupted by a crash is streamed again on resume: skip the text the
        # watchers already have, when the model says the same (scripted models do).
        already = ""
        if self.resumed:
            deltas = RunEvent.objects.filter(
                run_id=self.run.pk, event="assistant.delta", diagnostics__turn=turn
            )
            already = "".join(e.payload.get("text", "") for e in deltas.order_by("seq"))
        buffer = DeltaBuffer(
            lambda text: append_event(
                self.run.pk, "assistant.delta", {"text": text}, diagnostics={"turn": turn}, owner=self.owner
            )
        )
        streamed = ""
        skip = bool(already)
        chunks = []
        prompt = [self.system, *messages]
        stream = ModelStream(lambda: model.stream(prompt), buffer, self._check)
        try:
            with stream:
                for chunk in stream:
                    self._check()
                    chunks.append(chunk)
                    text = printable(agent_graph.message_text(chunk))
                    if not text:
                        buffer.tick()
                        continue
                    streamed += text
                    if not skip:
                        buffer.add(text)
                    elif streamed.startswith(already):
                        skip = False  # past what was already shown
                        buffer.add(streamed[len(already) :])
                    elif not already.startswith(streamed):
                        skip = False  # a different answer this time: show all of it
                        buffer.add(streamed)
        except (Cancelled, LeaseLost):
            buffer.flush()
            raise
        except Exception as exc:
            buffer.flush()
            raise ModelFailure(self._redact(self._describe(exc))[:2000]) from exc
        if not chunks:
            return AIMessage(content=""), None
        # One merge at the end: adding chunk by chunk re-parses the tool arguments every time.
        chunk_sum = add_ai_message_chunks(chunks[0], *chunks[1:])
        message = AIMessage(
            # A lone UTF-16 surrogate (a cut emoji escape) cannot be stored as UTF-8: in the
            # events, the ledger or the graph's checkpoint it would fail the run. It becomes U+FFFD.
            content=printable(chunk_sum.content),
            tool_calls=printable(chunk_sum.tool_calls),
            invalid_tool_calls=printable(chunk_sum.invalid_tool_calls),
            usage_metadata=chunk_sum.usage_metadata,
            response_metadata=chunk_sum.response_metadata,
            id=chunk_sum.id,
        )
        if hold and agent_graph.wants_tools(message) and buffer.pending:
            return message, {"text": buffer.take(), "turn": turn}
        buffer.flush()
        return message, None


def _unsent_event(state) -> tuple[str, dict, dict] | None:
    unsent = state.get("unsent")
    if not unsent:
        return None
    return "assistant.delta", {"text": unsent["text"]}, {"turn": unsent["turn"]}


def _usage(messages) -> dict:
    total = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "model_calls": 0}
    for message in messages:
        if isinstance(message, AIMessage):
            total["model_calls"] += 1
            for key in ("input_tokens", "output_tokens", "total_tokens"):
                total[key] += (message.usage_metadata or {}).get(key, 0) or 0
    return total


def _run_messages(messages):
    """The messages this run produced (after its input)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, HumanMessage) and not message.additional_kwargs.get("nudge"):
            return messages[index + 1 :]
    return messages


def execute(run: AgentRun, *, owner: str, heartbeat) -> lifecycle.Outcome:
    try:
        native = NativeRun(run, owner=owner, heartbeat=heartbeat)
    except models_catalog.ModelUnavailable as exc:
        return lifecycle.failed("MODEL_UNAVAILABLE", exc.message)
    saver = checkpoints.get_checkpointer()
    graph = agent_graph.build(
        max_tool_rounds=settings.APPS_CODING_AGENT_MAX_TOOL_ITERATIONS, checkpointer=saver
    )
    config = {
        "configurable": {"thread_id": str(run.pk)},
        "recursion_limit": 4 * settings.APPS_CODING_AGENT_MAX_TOOL_ITERATIONS + 10,
    }
    # Only a resumed attempt can find a checkpoint of its own.
    resuming = native.resumed and saver.get_tuple(config) is not None
    if resuming:
        start = None
    else:
        history, _ = prompts.conversation(
            messages=run.messages or [],
            user_input=run.input,
            budget_chars=settings.APPS_CODING_AGENT_MESSAGE_BUDGET_CHARS,
        )
        start = {"messages": history, "tool_rounds": 0}
    state: dict = {}  # the graph's state after its last step, as streamed (no read back)
    try:
        for state in graph.stream(start, config, context=native, stream_mode="values", durability="sync"):  # noqa: B007 (read after)
            native._check()
    except Cancelled:
        state = state or graph.get_state(config).values
        native.flush_unsent(state)
        return lifecycle.cancelled(usage=_usage(_run_messages(state.get("messages", []))))
    except tools.ToolTimeout as exc:
        return lifecycle.failed("TOOL_TIMEOUT", str(exc))
    except ModelFailure as exc:
        return lifecycle.failed("MODEL_ERROR", f"The model call failed: {exc}")

    native.flush_unsent(state)
    produced = _run_messages(state.get("messages", []))
    usage = _usage(produced)
    last = produced[-1] if produced else None
    if last is not None and agent_graph.wants_tools(last):
        limit = settings.APPS_CODING_AGENT_MAX_TOOL_ITERATIONS
        return lifecycle.failed(
            "MAX_TOOL_ITERATIONS",
            f"The agent used all {limit} tool round{'s' if limit != 1 else ''} without finishing; "
            "the work so far is kept as a partial revision.",
            usage=usage,
        )
    final_text = agent_graph.message_text(last).strip() if last is not None else ""
    if not final_text:
        final_text = FALLBACK_TEXT
        append_event(
            run.pk, "assistant.delta", {"text": final_text}, diagnostics={"fallback": True}, owner=owner
        )
    return lifecycle.Outcome(status=AgentRun.Status.COMPLETED, final_text=final_text, usage=usage)
