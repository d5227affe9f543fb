// The composer: a multi-line message (Enter sends, Shift+Enter adds a line), the model
// picker (`Auto` + active models, each with the server's note when it cannot run here)
// and Send / Stop.

import { reloadButton } from "./api.js";

const AUTO = "auto";
const MAX_ROWS_PX = 220;
const STILL_WORKING = "The agent is still working. Wait for it to finish, or stop it.";

export class Composer {
  constructor({ form, input, picker, note, send, stop, error, api, onSend, onStop, onModels = () => {} }) {
    this.form = form;
    this.input = input;
    this.picker = picker;
    this.noteEl = note;
    this.sendButton = send;
    this.stopButton = stop;
    this.errorEl = error;
    this.api = api;
    this.onSend = onSend;
    this.onStop = onStop;
    this.onModels = onModels; // the model list (and so the models' labels) was loaded
    this.busy = false;
    this.sending = false;
    this.labels = new Map(); // model id -> its label, for the runs' status lines

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey && !event.metaKey) {
        event.preventDefault();
        this.submit();
      }
    });
    input.addEventListener("input", () => this.autosize());
    picker.addEventListener("change", () => {
      this.remember();
      this.showNote();
      this.fitPicker();
      if (this.errorField === "model_id") this.showError("");
    });
    stop.addEventListener("click", () => this.onStop());
  }

  storageKey() {
    return `builder.model.${this.form.closest("[data-app-id]").dataset.appId}`;
  }

  remember() {
    try {
      localStorage.setItem(this.storageKey(), this.picker.value);
    } catch (err) {
      /* private mode: the choice just does not persist */
    }
  }

  async loadModels() {
    let models;
    try {
      ({ models } = await this.api.models());
    } catch (err) {
      this.showError(`Could not load the models: ${err.message}`, undefined, { reload: err.sessionEnded });
      return;
    }
    let wanted = this.picker.value;
    if (!this.loadedOnce) {
      try {
        wanted = localStorage.getItem(this.storageKey()) || wanted;
      } catch (err) {
        /* ignore */
      }
      this.loadedOnce = true;
    }
    this.picker.replaceChildren(
      ...models.map((model) => {
        const option = document.createElement("option");
        option.value = model.id;
        option.textContent = model.label;
        if (model.note) {
          // A run on this model would fail for want of its API key on this server.
          option.textContent = `${model.label} — key not set`;
          option.title = model.note;
          option.dataset.note = model.note;
        }
        return option;
      }),
    );
    const ids = models.map((m) => m.id);
    this.picker.value = ids.includes(wanted) ? wanted : ids.includes(AUTO) ? AUTO : ids[0] || "";
    this.labels = new Map(models.filter((m) => m.id !== AUTO).map((m) => [m.id, m.label]));
    this.picker.dataset.loaded = "true";
    this.showNote();
    this.fitPicker();
    if (document.fonts && !this.fontsWaited) {
      this.fontsWaited = true;
      document.fonts.ready.then(() => this.fitPicker());
    }
    this.onModels();
  }

  // The label of a model of the list (runs name their model by id); undefined if not listed.
  modelLabel(modelId) {
    return this.labels.get(modelId);
  }

  // The picker is as wide as its selected label needs (builder.css lets the buttons move to
  // a line of their own instead of cutting it), and says the whole label on hover, should
  // the pane be narrower still. The width is measured on a hidden copy of the picker that
  // holds only that label: it has the picker's font, padding and arrow.
  fitPicker() {
    const option = this.picker.selectedOptions[0];
    const label = option ? option.textContent : "";
    this.picker.title = label;
    if (!this.sizer) {
      const box = document.createElement("span");
      box.className = "picker-sizer-box";
      box.setAttribute("aria-hidden", "true");
      box.inert = true;
      this.sizer = document.createElement("select");
      this.sizer.className = "picker-sizer";
      this.sizer.tabIndex = -1;
      this.sizer.append(document.createElement("option"));
      box.append(this.sizer);
      this.picker.after(box);
    }
    this.sizer.options[0].textContent = label;
    const width = this.sizer.getBoundingClientRect().width;
    if (width > 0) this.picker.style.setProperty("--picker-width", `${Math.ceil(width)}px`);
  }

  // The selected model's note, next to the picker, before anything is sent.
  showNote() {
    const option = this.picker.selectedOptions[0];
    const note = (option && option.dataset.note) || "";
    this.noteEl.textContent = note;
    this.noteEl.hidden = !note;
  }

  autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight + 2, MAX_ROWS_PX)}px`;
  }

  modelId() {
    const value = this.picker.value;
    return !value || value === AUTO ? null : value;
  }

  async submit() {
    const text = this.input.value;
    if (this.busy || this.sending) {
      this.showError(STILL_WORKING, undefined, { untilIdle: true });
      return;
    }
    if (!text.trim()) {
      this.showError("Write a message for the agent first.");
      this.input.focus();
      return;
    }
    this.showError("");
    this.sending = true;
    this.sendButton.disabled = true;
    try {
      const sent = await this.onSend(text, this.modelId());
      if (sent) {
        this.input.value = "";
        this.autosize();
      }
    } finally {
      this.sending = false;
      this.sendButton.disabled = this.busy;
    }
  }

  setBusy(busy) {
    this.busy = busy;
    this.sendButton.disabled = busy || this.sending;
    this.stopButton.hidden = !busy;
    this.stopButton.disabled = false;
    this.stopButton.textContent = "Stop";
    this.form.dataset.busy = String(busy);
    if (!busy && this.errorUntilIdle) this.showError(""); // "still working" no longer holds
  }

  stopping() {
    this.stopButton.disabled = true;
    this.stopButton.textContent = "Stopping…";
  }

  // `untilIdle`: the error explains that the agent is busy, so it goes when the composer is
  // idle again. `reload`: the session ended, and reloading the page is the way on.
  showError(message, field, { untilIdle = false, reload = false } = {}) {
    this.errorField = message ? field : undefined;
    this.errorUntilIdle = Boolean(message) && untilIdle;
    this.errorEl.textContent = message || "";
    if (message && reload) this.errorEl.append(" ", reloadButton());
    this.errorEl.hidden = !message;
    this.errorEl.dataset.field = field || "";
    if (field === "model_id" && message) this.picker.setAttribute("aria-invalid", "true");
    else this.picker.removeAttribute("aria-invalid");
  }
}
