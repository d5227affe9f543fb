// Checkpoints, newest first: what each run changed, its diff, and Restore.

import { reloadButton } from "./api.js";

const TIMES_EVERY_MS = 30_000; // "just now" becomes "1 min ago" in its own time
const CONFLICT = "CODING_AGENT_CHECKPOINT_RESTORE_CONFLICT";
const CHANGE_LABELS = { added: "added", modified: "changed", deleted: "deleted", renamed: "renamed" };

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function when(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const seconds = (Date.now() - date.getTime()) / 1000;
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return date.toLocaleString();
}

// git's C escapes in quoted names (quote_c_style); any other byte is written as \ooo octal.
const GIT_ESCAPES = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, "\\": 92 };
const utf8 = new TextEncoder();

// A C-quoted name at the start of `text` ('"a/sp\"ace" …'): {name, end} with `end` the index
// after its closing quote, or null if `text` does not start with a whole quoted name. Octal
// escapes are bytes (UTF-8 when git quotes non-ASCII names, its default), so bytes are
// gathered first and decoded once.
function unquoteAt(text) {
  if (text[0] !== '"') return null;
  const bytes = [];
  for (let i = 1; i < text.length; i += 1) {
    const ch = text[i];
    if (ch === '"') return { name: new TextDecoder().decode(new Uint8Array(bytes)), end: i + 1 };
    if (ch !== "\\") {
      const code = text.codePointAt(i);
      if (code > 0xffff) i += 1; // the other half of a surrogate pair
      bytes.push(...utf8.encode(String.fromCodePoint(code)));
      continue;
    }
    const next = text[i + 1];
    const octal = /^[0-3][0-7]{2}/.exec(text.slice(i + 1, i + 4));
    if (octal) {
      bytes.push(parseInt(octal[0], 8));
      i += 3;
    } else if (next in GIT_ESCAPES) {
      bytes.push(GIT_ESCAPES[next]);
      i += 1;
    } else {
      return null; // not git's quoting: leave the name as it was written
    }
  }
  return null;
}

// A name as git writes it on `---`, `+++` and `rename from/to` lines: C-quoted, or as is;
// git ends a name holding a space with a tab (for patch(1)), which is not part of it.
function gitName(text) {
  const bare = text.endsWith("\t") ? text.slice(0, -1) : text;
  const quoted = unquoteAt(bare);
  return quoted && quoted.end === bare.length ? quoted.name : bare;
}

function stripPrefix(name, prefix) {
  return name !== null && name.startsWith(prefix) ? name.slice(prefix.length) : null;
}

// The two names of a `diff --git` header, without their a/ and b/ prefixes; null for one
// that cannot be told. Unquoted names with spaces are ambiguous ("a/x b/y b/z"): equal names
// are split as git does, otherwise at the last " b/"; the `---`/`+++` and `rename` lines that
// follow name the files for certain and win.
function headerNames(rest) {
  const first = unquoteAt(rest);
  if (first) {
    const second = rest.slice(first.end + 1);
    return [stripPrefix(first.name, "a/"), stripPrefix(gitName(second), "b/")];
  }
  if (rest.endsWith('"')) {
    for (let at = rest.indexOf(' "'); at !== -1; at = rest.indexOf(' "', at + 1)) {
      const second = unquoteAt(rest.slice(at + 1));
      if (second && at + 1 + second.end === rest.length) {
        return [stripPrefix(rest.slice(0, at), "a/"), stripPrefix(second.name, "b/")];
      }
    }
  }
  const half = (rest.length - 1) / 2;
  if (Number.isInteger(half) && rest[half] === " " && rest.slice(2, half) === rest.slice(half + 3)) {
    const name = stripPrefix(rest.slice(0, half), "a/");
    if (name !== null && rest.slice(half + 1, half + 3) === "b/") return [name, name];
  }
  const m = rest.match(/^a\/(.*) b\/(.*)$/);
  return m ? [m[1], m[2]] : [null, null];
}

// A unified diff split per file: [{path, from, kind, adds, dels, lines: [{cls, text}]}].
// Header lines are read only before a file's first hunk: in a hunk, "--- x" is a removed
// line "-- x", not a file name.
export function parseDiff(text) {
  const files = [];
  let file = null;
  let inHunk = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("diff --git ")) {
      const [from, path] = headerNames(line.slice(11));
      file = { path: path ?? from ?? line.slice(11), from, kind: "modified", adds: 0, dels: 0, lines: [] };
      files.push(file);
      inHunk = false;
      continue;
    }
    if (!file) continue;
    if (!inHunk) {
      if (line.startsWith("new file mode")) file.kind = "added";
      else if (line.startsWith("deleted file mode")) file.kind = "deleted";
      else if (line.startsWith("rename from ")) {
        file.kind = "renamed";
        file.from = gitName(line.slice(12));
      } else if (line.startsWith("rename to ")) file.path = gitName(line.slice(10));
      else if (line.startsWith("--- ") || line.startsWith("+++ ")) {
        const name = gitName(line.slice(4));
        const bare = line.startsWith("---") ? stripPrefix(name, "a/") : stripPrefix(name, "b/");
        if (name !== "/dev/null" && bare !== null) {
          if (line.startsWith("---")) file.from = bare;
          else file.path = bare;
        }
      } else if (/^(old mode|new mode|index|similarity index|dissimilarity index|copy from|copy to) /.test(line)) continue;
      else if (line.startsWith("Binary files")) file.lines.push({ cls: "meta", text: "Binary file changed" });
      else if (line.startsWith("@@")) {
        inHunk = true;
        file.lines.push({ cls: "hunk", text: line });
      }
      continue;
    }
    if (line.startsWith("@@")) file.lines.push({ cls: "hunk", text: line });
    else if (line.startsWith("+")) {
      file.adds += 1;
      file.lines.push({ cls: "add", text: line });
    } else if (line.startsWith("-")) {
      file.dels += 1;
      file.lines.push({ cls: "del", text: line });
    } else if (line.startsWith("\\")) file.lines.push({ cls: "meta", text: line });
    else if (line.length) file.lines.push({ cls: "ctx", text: line });
  }
  return files;
}

export class CheckpointList {
  constructor({ api, list, diff, alert, dialog, onRestored }) {
    this.api = api;
    this.listEl = list;
    this.diffEl = diff;
    this.alertEl = alert;
    this.dialog = dialog;
    this.onRestored = onRestored;
    this.items = [];
    this.selected = null;
    this.draftRevisionId = null;
    setInterval(() => this.refreshTimes(), TIMES_EVERY_MS);
  }

  // Only the times' text changes: nothing is redrawn, so focus and scrolling stay.
  refreshTimes() {
    for (const time of this.listEl.querySelectorAll(".checkpoint-when")) {
      const text = when(time.dateTime);
      if (time.textContent !== text) time.textContent = text;
    }
  }

  async load() {
    try {
      this.items = await this.api.checkpoints();
    } catch (err) {
      this.listEl.replaceChildren(el("li", "error small pad", `Could not load checkpoints: ${err.message}`));
      return;
    }
    this.render();
    if (this.selected && !this.items.some((c) => c.id === this.selected)) this.selected = null;
  }

  setDraft(revisionId) {
    this.draftRevisionId = revisionId;
    this.render();
  }

  render() {
    if (!this.items.length) {
      this.listEl.replaceChildren(el("li", "muted small pad", "No checkpoints yet."));
      return;
    }
    // A redraw keeps the keyboard where it was: on the same button of the same checkpoint.
    const focused = this.listEl.contains(document.activeElement) ? document.activeElement : null;
    const item = focused && focused.closest(".checkpoint");
    const rows = this.items.map((checkpoint) => this.renderItem(checkpoint));
    this.listEl.replaceChildren(...rows);
    if (!item) return;
    const again = this.listEl.querySelector(`.checkpoint[data-checkpoint-id="${CSS.escape(item.dataset.checkpointId)}"]`);
    const button =
      again &&
      ((focused.classList.contains("restore-button") && again.querySelector(".restore-button")) ||
        again.querySelector(".checkpoint-show"));
    if (button) button.focus({ preventScroll: true });
  }

  renderItem(checkpoint) {
    const item = el("li", "checkpoint");
    item.dataset.checkpointId = checkpoint.id;
    item.dataset.revisionId = checkpoint.revision_id;
    const current = checkpoint.revision_id === this.draftRevisionId;
    if (current) item.classList.add("is-current");
    if (checkpoint.id === this.selected) item.classList.add("is-selected");

    const show = el("button", "checkpoint-show");
    show.type = "button";
    show.setAttribute("aria-pressed", String(checkpoint.id === this.selected));
    // A long title is cut after a few lines (builder.css); its whole text stays in the title.
    const label = el("span", "checkpoint-label", checkpoint.label || "Checkpoint");
    label.title = checkpoint.label || "Checkpoint";
    show.append(label);
    const meta = el("span", "checkpoint-meta muted small");
    const time = el("time", "checkpoint-when", when(checkpoint.created_at));
    time.dateTime = checkpoint.created_at;
    time.title = new Date(checkpoint.created_at).toLocaleString();
    meta.append(time);
    if (current) meta.append(" · ", el("strong", "current-badge", "current draft"));
    if (checkpoint.partial) meta.append(" · partial");
    show.append(meta);
    show.addEventListener("click", () => this.select(checkpoint.id));
    item.append(show);

    const files = el("ul", "checkpoint-files");
    for (const change of checkpoint.changed_files || []) {
      const row = el("li", `change-${change.change}`);
      row.title = change.path; // a long path is cut with an ellipsis (builder.css)
      row.append(el("span", "change-kind", CHANGE_LABELS[change.change] || change.change), ` ${change.path}`);
      files.append(row);
    }
    if ((checkpoint.changed_files || []).length) item.append(files);

    if (!current) {
      const restore = el("button", "small-button restore-button", "Restore");
      restore.type = "button";
      restore.setAttribute("aria-label", `Restore “${checkpoint.label || "checkpoint"}”`);
      restore.addEventListener("click", () => this.confirmRestore(checkpoint));
      item.append(restore);
    }
    return item;
  }

  async select(checkpointId) {
    const checkpoint = this.items.find((c) => c.id === checkpointId);
    if (!checkpoint) return;
    this.selected = checkpointId;
    this.render();
    this.diffEl.replaceChildren(el("p", "muted small pad", "Loading the changes…"));
    let text;
    try {
      text = await this.api.diff(checkpoint.revision_id);
    } catch (err) {
      this.diffEl.replaceChildren(el("p", "error small pad", `Could not load the changes: ${err.message}`));
      return;
    }
    if (this.selected !== checkpointId) return;
    this.renderDiff(checkpoint, parseDiff(text));
  }

  renderDiff(checkpoint, files) {
    const head = el("div", "diff-head");
    head.append(el("strong", "", checkpoint.label || "Checkpoint"));
    const intro = checkpoint.parent_revision_id ? "Changes from the version before" : "The first version of the app";
    head.append(el("span", "muted small", ` · ${intro}`));
    const nodes = [head];
    if (!files.length) nodes.push(el("p", "muted small pad", "No file changed."));
    for (const file of files) {
      const section = el("section", "diff-file");
      section.dataset.path = file.path;
      const title = el("h3", "diff-file-head");
      title.append(el("span", `change-kind change-${file.kind}`, CHANGE_LABELS[file.kind] || file.kind));
      title.append(el("span", "diff-path", file.from && file.from !== file.path ? `${file.from} → ${file.path}` : file.path));
      title.append(el("span", "diff-count add", `+${file.adds}`), el("span", "diff-count del", `\u2212${file.dels}`));
      section.append(title);
      if (file.lines.length) {
        const pre = el("pre", "diff-lines");
        for (const line of file.lines) {
          const row = el("span", `diff-line diff-${line.cls}`, line.text || " ");
          pre.append(row, "\n");
        }
        section.append(pre);
      }
      nodes.push(section);
    }
    this.diffEl.replaceChildren(...nodes);
    this.diffEl.scrollTop = 0;
  }

  showAlert(text) {
    this.alertEl.textContent = text;
    this.alertEl.hidden = !text;
  }

  confirmRestore(checkpoint) {
    this.showAlert("");
    const dialog = this.dialog;
    dialog.querySelector("#restore-dialog-text").textContent =
      `The draft will become “${checkpoint.label || "this checkpoint"}” again: its files, code and preview.`;
    dialog.returnValue = "";
    dialog.onclose = () => {
      if (dialog.returnValue === "restore") this.restore(checkpoint);
    };
    dialog.showModal();
  }

  async restore(checkpoint) {
    let result;
    try {
      result = await this.api.restore(checkpoint.id);
    } catch (err) {
      this.showAlert(err.code === CONFLICT ? this.conflictText() : `Could not restore: ${err.message}`);
      if (err.sessionEnded) this.alertEl.append(" ", reloadButton());
      return;
    }
    await this.onRestored(result);
  }

  conflictText() {
    return "The agent is working on a run right now, so nothing can be restored yet. Stop the run or wait for it to finish, then restore again.";
  }
}
