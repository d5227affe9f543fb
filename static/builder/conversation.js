// The agent panel's conversation: one <article> per run, oldest first. A run's view is
// built only from its event envelopes (the REST backlog and the live stream go through
// the same `apply`), so a reloaded page and a live one show the same thing.

import { renderMarkdown } from "./markdown.js";

const ACTIVE = new Set(["queued", "running"]);
const STICK_PX = 48; // this close to the bottom counts as "at the latest"

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function squash(text) {
  return (text || "").replace(/\s+/g, " ").trim();
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export class RunView {
  constructor(run, { onChanged, onShowCheckpoint, modelLabel = () => undefined }) {
    this.run = run;
    this.onChanged = onChanged;
    this.onShowCheckpoint = onShowCheckpoint;
    this.modelLabel = modelLabel;
    this.segments = []; // {kind: "text", text, el, turn} | {kind: "tool", el, id}
    this.tools = new Map(); // tool_call_id -> the latest row for it
    this.finalText = run.final_text || "";
    this.status = run.status;

    this.el = el("article", "turn");
    this.el.dataset.runId = run.id;
    if (run.resolved_model_id) this.el.dataset.model = run.resolved_model_id;
    const summary = run.input.trim().split("\n")[0];
    this.el.setAttribute("aria-label", `Request: ${summary.length > 80 ? `${summary.slice(0, 79)}…` : summary}`);
    const user = el("div", "msg msg-user");
    user.append(el("span", "visually-hidden", "You said:"), el("div", "bubble", run.input));
    const agent = el("div", "msg msg-agent");
    agent.append(el("span", "visually-hidden", "Agent:"));
    this.body = el("div", "agent-body");
    this.thinking = el("div", "thinking");
    this.thinking.innerHTML = '<span class="dots" aria-hidden="true"><i></i><i></i><i></i></span> Thinking…';
    this.notes = el("div", "run-notes");
    this.end = el("div", "run-end");
    this.end.hidden = true;
    agent.append(this.body, this.thinking, this.notes, this.end);
    this.el.append(user, agent);
    this.setStatus(run.status);
  }

  get active() {
    return ACTIVE.has(this.status);
  }

  setStatus(status) {
    this.status = status;
    this.el.dataset.status = status;
    this.thinking.hidden = !this.active;
  }

  apply(envelope) {
    const p = envelope.payload || {};
    switch (envelope.event) {
      case "run.accepted":
        if (p.resolved_model_id) this.el.dataset.model = p.resolved_model_id;
        break;
      case "assistant.delta":
        if (this.status === "queued") this.setStatus("running");
        this.appendText(p.text || "", envelope.diagnostics && envelope.diagnostics.turn);
        this.thinking.hidden = true;
        break;
      case "tool.started":
        if (this.status === "queued") this.setStatus("running");
        this.startTool(p);
        this.thinking.hidden = true;
        break;
      case "tool.completed":
      case "tool.failed":
        this.finishTool(p, envelope.event === "tool.completed" ? "completed" : "failed");
        this.thinking.hidden = !this.active || this.runningTools() > 0;
        break;
      case "revision.created":
        this.noteRevision(p);
        break;
      case "checkpoint.created":
        this.noteCheckpoint(p);
        break;
      case "run.completed":
        this.finish("completed", p);
        break;
      case "run.failed":
        this.finish("failed", p);
        break;
      case "run.cancelled":
        this.finish("cancelled", p);
        break;
      default:
        break; // an event this page does not know yet is not shown
    }
    this.onChanged();
  }

  appendText(text, turn) {
    if (!text) return;
    let last = this.segments[this.segments.length - 1];
    const newTurn = turn !== undefined && last && last.turn !== undefined && last.turn !== turn;
    if (!last || last.kind !== "text" || newTurn) {
      this.settleText();
      last = { kind: "text", text: "", turn, el: el("div", "md streaming") };
      this.segments.push(last);
      this.body.append(last.el);
    }
    last.text += text;
    this.scheduleRender(last);
  }

  scheduleRender(segment) {
    segment.dirty = true;
    if (this.renderQueued) return;
    this.renderQueued = true;
    const flush = () => {
      this.renderQueued = false;
      this.renderNow();
      this.onChanged();
    };
    // At most one markdown render per frame however many deltas arrive in it.
    if (document.hidden) flush();
    else requestAnimationFrame(flush);
  }

  renderNow() {
    for (const s of this.segments) {
      if (s.kind === "text" && s.dirty) {
        s.el.innerHTML = renderMarkdown(s.text);
        s.dirty = false;
      }
    }
  }

  // Only the text being written shows the typing caret.
  settleText() {
    for (const s of this.segments) if (s.kind === "text") s.el.classList.remove("streaming");
  }

  startTool(p) {
    this.settleText();
    const row = el("div", "tool-row");
    row.dataset.state = "running";
    row.dataset.toolCallId = p.tool_call_id || "";
    row.dataset.tool = p.tool || "";
    const icon = el("span", "tool-icon");
    icon.setAttribute("aria-hidden", "true");
    // The server titles every call: "Reading app.js lines 1–80…" while it runs.
    const title = el("span", "tool-title", p.title || "Running a tool…");
    const state = el("span", "visually-hidden tool-state", " (running)");
    row.append(icon, title, state);
    const segment = { kind: "tool", el: row, id: p.tool_call_id, title: p.title, tool: p.tool };
    this.segments.push(segment);
    this.body.append(row);
    this.tools.set(p.tool_call_id, segment);
    return segment;
  }

  finishTool(p, state) {
    let segment = this.tools.get(p.tool_call_id);
    if (!segment || segment.el.dataset.state !== "running") segment = this.startTool(p);
    const row = segment.el;
    row.dataset.state = state;
    row.querySelector(".tool-title").textContent =
      p.title || (segment.title || "").replace(/…$/, "") || p.tool || "Tool call";
    row.querySelector(".tool-state").textContent = state === "completed" ? " (done)" : " (failed)";
    if (state === "failed" && p.code === "TOOL_CANCELLED") {
      row.classList.add("is-stopped");
    } else if (state === "failed" && p.message) {
      // The message is written for the model (what to re-read, how to retry): one click away.
      const detail = el("details", "tool-detail");
      detail.append(el("summary", "", "Details"), el("div", "tool-detail-text", p.message));
      row.append(detail);
    }
    if (typeof p.duration_ms === "number") row.title = `${(p.duration_ms / 1000).toFixed(1)} s`;
  }

  runningTools() {
    return this.body.querySelectorAll('.tool-row[data-state="running"]').length;
  }

  noteRevision(p) {
    const count = (p.changed_files || []).length;
    const what = count ? ` (${plural(count, "file")} changed)` : "";
    const note = el("div", "run-note", p.partial ? `Partial work kept as a version${what}` : `Saved as a new version${what}`);
    note.dataset.revisionId = p.revision_id || "";
    this.notes.append(note);
    this.revisionNote = note;
  }

  noteCheckpoint(p) {
    const note = this.revisionNote;
    if (!note || !p.checkpoint_id || !this.onShowCheckpoint) return;
    const button = el("button", "link-button", "View changes");
    button.type = "button";
    button.addEventListener("click", () => this.onShowCheckpoint(p.checkpoint_id));
    note.append(" · ", button);
  }

  finish(status, p) {
    // Any rows still running when the run ended did not finish.
    for (const row of this.body.querySelectorAll('.tool-row[data-state="running"]')) {
      row.dataset.state = "failed";
      row.classList.add("is-stopped");
      row.querySelector(".tool-state").textContent = " (stopped)";
    }
    this.setStatus(status);
    this.renderNow();
    this.settleText();
    const lastText = [...this.segments].reverse().find((s) => s.kind === "text");
    if (lastText) lastText.el.classList.add("final-answer");
    if (status === "completed" && p.final_text) this.finalText = p.final_text;
    if (!this.finalText && lastText) this.finalText = lastText.text.trim();

    this.end.hidden = false;
    this.end.dataset.state = status;
    this.end.textContent = "";
    if (status === "completed") {
      this.end.append(el("span", "run-end-label", "Completed"));
    } else if (status === "cancelled") {
      this.end.append(el("span", "run-end-label", "Stopped"));
      this.end.append(el("span", "run-end-detail", ` — ${p.reason || "the run was stopped before it finished."}`));
    } else {
      this.end.append(el("span", "run-end-label", "Failed"));
      // When the agent's text already says what went wrong (the server writes "I couldn't
      // finish this request: <message>" for a run that failed before saying anything), the
      // box only marks the run as failed: the message shows once.
      if (!this.saysAlready(p.message)) {
        this.end.append(el("span", "run-end-detail", `: ${p.message || "the run could not finish."}`));
      }
    }
    if (this.el.dataset.model) {
      const model = el("span", "muted run-model");
      model.dataset.modelId = this.el.dataset.model;
      this.end.append(model);
      this.showModel();
    }
  }

  saysAlready(message) {
    const wanted = squash(message);
    return Boolean(wanted) && this.segments.some((s) => s.kind === "text" && squash(s.text).includes(wanted));
  }

  // The run's model by its label (the list's), or by its id when the list does not have it.
  showModel() {
    const model = this.end.querySelector(".run-model");
    if (!model) return;
    const id = model.dataset.modelId;
    const label = this.modelLabel(id);
    model.textContent = ` · ${label || id}`;
    model.title = label && label !== id ? `Model: ${label} (${id})` : `Model: ${id}`;
  }

  // A finished run whose events could not be loaded: what the run resource says.
  showSummary(run, problem) {
    if (run.final_text && !this.segments.some((s) => s.kind === "text")) this.appendText(run.final_text);
    const p = run.error || {};
    this.finish(run.status, { final_text: run.final_text, message: p.message });
    if (problem) this.notes.append(el("div", "run-note", problem));
  }

  assistantText() {
    return this.finalText || this.segments.filter((s) => s.kind === "text").map((s) => s.text).join("\n\n").trim();
  }
}

export class Conversation {
  constructor({ pane, log, empty, latestButton, announcer, onShowCheckpoint, modelLabel }) {
    this.pane = pane;
    this.log = log;
    this.empty = empty;
    this.latestButton = latestButton;
    this.announcer = announcer;
    this.onShowCheckpoint = onShowCheckpoint;
    this.modelLabel = modelLabel;
    this.views = [];
    this.stick = true;
    pane.addEventListener("scroll", () => {
      this.stick = this.nearBottom();
      this.updateLatest();
    });
    latestButton.addEventListener("click", () => this.scrollToLatest());
    if (window.ResizeObserver) new ResizeObserver(() => this.changed()).observe(log);
    this.updateEmpty();
  }

  nearBottom() {
    const { scrollTop, scrollHeight, clientHeight } = this.pane;
    return scrollHeight - scrollTop - clientHeight <= STICK_PX;
  }

  updateLatest() {
    this.latestButton.hidden = this.stick || this.pane.scrollHeight <= this.pane.clientHeight;
  }

  updateEmpty() {
    this.empty.hidden = this.views.length > 0;
  }

  changed() {
    if (this.stick) this.pane.scrollTop = this.pane.scrollHeight;
    this.updateLatest();
  }

  scrollToLatest() {
    this.stick = true;
    this.pane.scrollTop = this.pane.scrollHeight;
    this.updateLatest();
  }

  announce(text) {
    // Re-set so the same words are announced again when they repeat.
    this.announcer.textContent = "";
    setTimeout(() => {
      this.announcer.textContent = text;
    }, 30);
  }

  add(run) {
    const view = new RunView(run, {
      onChanged: () => this.changed(),
      onShowCheckpoint: this.onShowCheckpoint,
      modelLabel: this.modelLabel,
    });
    this.views.push(view);
    this.log.append(view.el);
    this.updateEmpty();
    this.changed();
    return view;
  }

  // The model list arrived (or changed): name the runs' models by their labels.
  showModels() {
    for (const view of this.views) view.showModel();
  }

  find(runId) {
    return this.views.find((view) => view.run.id === runId);
  }

  // Keep the views in the server's order after runs made elsewhere were added. `runIds`:
  // the newest runs, oldest first; views of runs not among them are older still.
  order(runIds) {
    const rank = new Map(runIds.map((id, index) => [id, index]));
    const place = (view) => (rank.has(view.run.id) ? rank.get(view.run.id) : -1);
    const sorted = [...this.views].sort((a, b) => place(a) - place(b));
    if (sorted.every((view, index) => view === this.views[index])) return;
    this.views = sorted;
    for (const view of sorted) this.log.append(view.el);
    this.changed();
  }

  // Prior turns for a new run: each earlier run's input and the assistant's answer, the
  // latest ones whose contents add up to at most `budget` characters. The server keeps
  // no more than that (prompts.conversation drops the oldest messages first), so what is
  // left out here would be left out there, and the request stays small however long the
  // conversation grows.
  priorMessages(budget = Infinity) {
    const messages = [];
    for (const view of this.views) {
      if (view.active) continue;
      messages.push({ role: "user", content: view.run.input });
      const answer = view.assistantText();
      if (answer) messages.push({ role: "assistant", content: answer });
    }
    let start = messages.length;
    let remaining = budget;
    while (start > 0) {
      const size = codePoints(messages[start - 1].content);
      if (size > remaining) break;
      remaining -= size;
      start -= 1;
    }
    return messages.slice(start);
  }
}

// A text's length as the server counts it (Python's len: code points, where JavaScript's
// length counts an emoji twice).
function codePoints(text) {
  let count = text.length;
  for (let i = 0; i < text.length; i += 1) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xdc00 && unit <= 0xdfff && i > 0) {
      const before = text.charCodeAt(i - 1);
      if (before >= 0xd800 && before <= 0xdbff) count -= 1;
    }
  }
  return count;
}
