// The builder page: wires the panels to the REST API and the run streams.

import { makeApi } from "./api.js";
import { CheckpointList } from "./checkpoints.js";
import { Composer } from "./composer.js";
import { Conversation } from "./conversation.js";
import { FileBrowser } from "./files.js";
import { RunStream, TERMINAL } from "./stream.js";

const ACTIVE = new Set(["queued", "running"]);
const EVENT_LOADS_AT_ONCE = 4;
const RECENT_RUNS = 20;
const ALREADY_WORKING = "The agent is already working on this app. Its run is shown above: wait for it or stop it.";

const root = document.getElementById("builder");
const $ = (id) => document.getElementById(id);
const api = makeApi({ appUrl: root.dataset.appUrl, agentUrl: root.dataset.agentUrl });
// The server keeps at most this many characters of prior turns (APPS_CODING_AGENT_MESSAGE_BUDGET_CHARS).
const messageBudget = Number(root.dataset.messageBudget) || Infinity;

const state = {
  draftRevisionId: root.dataset.draftRevisionId || null,
  previewUrl: root.dataset.previewUrl,
  activeView: null,
  stream: null,
};

// --- Preview ---------------------------------------------------------------------------
const frame = $("preview-frame");
const previewStatus = $("preview-status");

function reloadPreview() {
  // A fresh URL (each GET of the app signs a new one) always navigates the frame.
  frame.src = state.previewUrl;
  $("preview-open").href = state.previewUrl;
  frame.dataset.revisionId = state.draftRevisionId || "";
  previewStatus.textContent = "Updated";
  setTimeout(() => {
    previewStatus.textContent = "";
  }, 2500);
}
frame.dataset.revisionId = state.draftRevisionId || "";

// Re-read the app; when its draft moved, reload the preview and the files. True if it moved.
async function refreshApp() {
  let app;
  try {
    app = await api.app();
  } catch (err) {
    return false;
  }
  state.previewUrl = app.preview_url || state.previewUrl;
  const changed = app.draft_revision_id !== state.draftRevisionId;
  state.draftRevisionId = app.draft_revision_id;
  root.dataset.draftRevisionId = app.draft_revision_id || "";
  checkpoints.setDraft(app.draft_revision_id);
  if (changed) {
    reloadPreview();
    await files.load();
  }
  return changed;
}

$("preview-reload").addEventListener("click", async () => {
  if (!(await refreshApp())) reloadPreview();
});

// Another tab may have run the agent or restored a checkpoint meanwhile: coming back to
// this one brings the draft, the conversation and the checkpoints up to date.
let catchingUp = null;
function catchUp() {
  if (!root.dataset.ready) return; // the first load is still under way
  catchingUp =
    catchingUp ||
    Promise.allSettled([refreshApp(), syncConversation(), checkpoints.load()]).finally(() => {
      catchingUp = null;
    });
}
window.addEventListener("focus", catchUp);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") catchUp();
});

// --- Tabs (Code / Checkpoints) -----------------------------------------------------------
const tabs = [$("tab-code"), $("tab-checkpoints")];
function selectTab(tab) {
  for (const t of tabs) {
    const selected = t === tab;
    t.setAttribute("aria-selected", String(selected));
    t.tabIndex = selected ? 0 : -1;
    $(t.getAttribute("aria-controls")).hidden = !selected;
  }
  // The checkpoints tab opens on the newest one's changes rather than an empty pane.
  if (tab.id === "tab-checkpoints" && !checkpoints.selected && checkpoints.items.length) {
    checkpoints.select(checkpoints.items[0].id);
  }
}
for (const tab of tabs) {
  tab.addEventListener("click", () => selectTab(tab));
  tab.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    selectTab(next);
    next.focus();
  });
}

// --- Panels -------------------------------------------------------------------------------
const files = new FileBrowser({
  api,
  tree: $("file-tree"),
  path: $("code-path"),
  meta: $("code-meta"),
  scroll: $("code-scroll"),
});

const checkpoints = new CheckpointList({
  api,
  list: $("checkpoint-list"),
  diff: $("diff-view"),
  alert: $("checkpoint-alert"),
  dialog: $("restore-dialog"),
  onRestored: async (result) => {
    conversation.announce(`Restored “${result.checkpoint.label}”.`);
    files.markChanged([]);
    await refreshApp();
    await checkpoints.load();
  },
});
checkpoints.draftRevisionId = state.draftRevisionId;

const conversation = new Conversation({
  pane: $("conversation"),
  log: $("conversation-log"),
  empty: $("conversation-empty"),
  latestButton: $("scroll-latest"),
  announcer: $("agent-announcer"),
  onShowCheckpoint: (checkpointId) => {
    selectTab($("tab-checkpoints"));
    checkpoints.select(checkpointId);
  },
  modelLabel: (modelId) => composer.modelLabel(modelId),
});

const composer = new Composer({
  form: $("composer"),
  input: $("composer-input"),
  picker: $("model-picker"),
  note: $("model-note"),
  send: $("send-button"),
  stop: $("stop-button"),
  error: $("composer-error"),
  api,
  onSend: send,
  onStop: stop,
  onModels: () => conversation.showModels(),
});

// --- Runs -----------------------------------------------------------------------------------
const connection = $("agent-connection");

function showConnection(info) {
  if (info.finished) connection.textContent = "";
  else if (info.error) connection.textContent = info.error;
  else if (info.reconnecting) connection.textContent = "Reconnecting…";
  else if (info.connected) connection.textContent = info.transport === "sse" ? "Live (event stream)" : "Live";
  if (info.transport) root.dataset.transport = info.transport;
}

function onLiveEvent(view, envelope) {
  view.apply(envelope);
  const p = envelope.payload || {};
  if (envelope.event === "revision.created") {
    if (!p.partial) files.markChanged(p.changed_files);
    if (p.draft_revision_id && p.draft_revision_id !== state.draftRevisionId) refreshApp();
  } else if (envelope.event === "checkpoint.created") {
    checkpoints.load();
  } else if (envelope.event === "run.completed") {
    conversation.announce(`The agent finished. ${view.finalText}`);
  } else if (envelope.event === "run.failed") {
    conversation.announce(`The run failed: ${p.message || ""}`);
  } else if (envelope.event === "run.cancelled") {
    conversation.announce("The run was stopped.");
  }
}

function follow(view) {
  if (state.stream) state.stream.close();
  state.activeView = view;
  composer.setBusy(true);
  state.stream = new RunStream({
    urls: api.streamUrls(view.run.id, root.dataset.wsPath),
    fetchEvents: (afterSeq) => api.events(view.run.id, afterSeq),
    onEvent: (envelope) => onLiveEvent(view, envelope),
    onState: showConnection,
    onEnd: async ({ error }) => {
      state.stream = null;
      state.activeView = null;
      composer.setBusy(false);
      checkpoints.showAlert(""); // a "run is active" explanation no longer holds
      if (error) {
        // The stream was refused; say so on the run and show what the server has.
        try {
          view.run = await api.run(view.run.id);
        } catch (err) {
          /* keep what we have */
        }
        if (!ACTIVE.has(view.run.status)) view.showSummary(view.run, error);
      }
      await refreshApp();
      checkpoints.load();
    },
  }).start();
}

async function send(text, modelId) {
  // The prior turns are the server's runs, also those another tab made since this one looked.
  try {
    await syncConversation();
  } catch (err) {
    /* send what this tab has; the request itself will say what is wrong */
  }
  if (state.activeView) {
    composer.showError(ALREADY_WORKING, undefined, { untilIdle: true });
    return false;
  }
  let run;
  try {
    run = await api.createRun({ input: text, messages: conversation.priorMessages(messageBudget), model_id: modelId });
  } catch (err) {
    if (err.code === "CODING_AGENT_MODEL_UNAVAILABLE") {
      composer.showError(`${err.message} The model list has been refreshed: pick another model.`, "model_id");
      await composer.loadModels();
      composer.picker.focus();
    } else if (err.code === "CODING_AGENT_RUN_ACTIVE") {
      composer.showError(ALREADY_WORKING, undefined, { untilIdle: true });
      await attachActiveRun();
    } else {
      composer.showError(err.message, err.field, { reload: err.sessionEnded });
    }
    return false;
  }
  // A catch-up that ran meanwhile may have shown (and followed) this run already.
  const view = conversation.find(run.id) || conversation.add(run);
  conversation.scrollToLatest();
  conversation.announce("Sent. The agent is working.");
  if (state.activeView !== view) follow(view);
  return true;
}

async function stop() {
  const view = state.activeView;
  if (!view) return;
  composer.stopping();
  try {
    await api.cancelRun(view.run.id);
  } catch (err) {
    if (err.code !== "CODING_AGENT_RUN_FINISHED") {
      composer.showError(`Could not stop the run: ${err.message}`, undefined, { reload: err.sessionEnded });
      composer.setBusy(true);
    }
  }
}

// A run the page is not following yet (another tab started it): show it and follow it.
async function attachActiveRun() {
  let runs;
  try {
    runs = await api.runs();
  } catch (err) {
    return;
  }
  const active = runs.find((run) => ACTIVE.has(run.status));
  if (!active || (state.activeView && state.activeView.run.id === active.id)) return;
  const view = conversation.find(active.id) || conversation.add(active);
  follow(view);
}

async function loadEventsInto(view) {
  try {
    // A page at a time (the server says has_more): a long run has thousands of events.
    let after = 0;
    let ended = false;
    for (;;) {
      const { events, has_more: more } = await api.events(view.run.id, after);
      for (const envelope of events) view.apply(envelope);
      ended = ended || events.some((e) => TERMINAL.has(e.event));
      if (!more || !events.length) break;
      after = events[events.length - 1].seq;
    }
    if (!ended) view.showSummary(view.run);
  } catch (err) {
    view.showSummary(view.run, "The details of this run could not be loaded.");
  }
}

// Bring the conversation up to the server's list of runs: runs this page has not shown yet
// (the first load, or runs another tab made) are added with their events, and an active
// one is followed. One at a time, each with a fresh list. Throws when the list is refused.
let syncs = Promise.resolve();
function syncConversation() {
  const sync = syncs.then(addMissingRuns);
  syncs = sync.catch(() => {});
  return sync;
}

async function addMissingRuns() {
  // After the first load, new runs are among the newest: read those, and everything only
  // when none of them is known yet (more runs were made meanwhile than that).
  const known = conversation.views.length > 0;
  let runs = await api.runs(known ? RECENT_RUNS : undefined);
  if (known && runs.length >= RECENT_RUNS && !runs.some((run) => conversation.find(run.id))) runs = await api.runs();
  runs.reverse(); // oldest first
  const added = runs.filter((run) => !conversation.find(run.id)).map((run) => conversation.add(run));
  if (!added.length) return;
  conversation.order(runs.map((run) => run.id));
  const finished = added.filter((view) => !ACTIVE.has(view.run.status));
  // Past runs' events, a few requests at a time, each into its own view (order kept).
  let next = 0;
  const worker = async () => {
    while (next < finished.length) await loadEventsInto(finished[next++]);
  };
  await Promise.all(Array.from({ length: EVENT_LOADS_AT_ONCE }, worker));
  const active = added.find((view) => ACTIVE.has(view.run.status));
  if (active && state.activeView !== active) follow(active); // from seq 0: the backlog, then live events
}

async function loadConversation() {
  try {
    await syncConversation();
  } catch (err) {
    composer.showError(`Could not load the conversation: ${err.message}`, undefined, { reload: err.sessionEnded });
    return;
  }
  conversation.scrollToLatest();
}

const loads = await Promise.allSettled([composer.loadModels(), files.load(), checkpoints.load(), loadConversation()]);
for (const load of loads) if (load.status === "rejected") console.error("builder: could not load", load.reason);
root.dataset.ready = "true";
refreshApp();
