// The composer: a multi-line message (Enter sends, Shift+Enter adds a line), the model
// picker (`Auto` + active models) and Send / Stop.

const AUTO = "auto";
const MAX_ROWS_PX = 220;

export class Composer {
  constructor({ form, input, picker, send, stop, error, api, onSend, onStop }) {
    this.form = form;
    this.input = input;
    this.picker = picker;
    this.sendButton = send;
    this.stopButton = stop;
    this.errorEl = error;
    this.api = api;
    this.onSend = onSend;
    this.onStop = onStop;
    this.busy = false;
    this.sending = false;

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
      this.showError(`Could not load the models: ${err.message}`);
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
        return option;
      }),
    );
    const ids = models.map((m) => m.id);
    this.picker.value = ids.includes(wanted) ? wanted : ids.includes(AUTO) ? AUTO : ids[0] || "";
    this.picker.dataset.loaded = "true";
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
      this.showError("The agent is still working. Wait for it to finish, or stop it.");
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
  }

  stopping() {
    this.stopButton.disabled = true;
    this.stopButton.textContent = "Stopping…";
  }

  showError(message, field) {
    this.errorField = message ? field : undefined;
    this.errorEl.textContent = message || "";
    this.errorEl.hidden = !message;
    this.errorEl.dataset.field = field || "";
    if (field === "model_id" && message) this.picker.setAttribute("aria-invalid", "true");
    else this.picker.removeAttribute("aria-invalid");
  }
}
