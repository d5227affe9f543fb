// The draft's file tree and the read-only code view.

import { highlight } from "./highlight.js";

const TEXT_EXTENSIONS = new Set(
  "html htm css js mjs cjs json txt md svg xml ts webmanifest map csv yml yaml toml".split(" "),
);
const MAX_SHOWN_BYTES = 1_000_000;
const BADGES = { added: "A", modified: "M", renamed: "R" }; // deleted files are not in the tree

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function humanSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function isText(path) {
  const name = path.split("/").pop();
  if (!name.includes(".")) return true;
  return TEXT_EXTENSIONS.has(name.split(".").pop().toLowerCase());
}

// {dirs: {name: node}, files: [entry]} from the flat manifest.
function buildTree(entries) {
  const root = { dirs: {}, files: [] };
  for (const entry of entries) {
    const parts = entry.path.split("/");
    let node = root;
    for (const part of parts.slice(0, -1)) {
      node.dirs[part] = node.dirs[part] || { dirs: {}, files: [] };
      node = node.dirs[part];
    }
    node.files.push({ ...entry, name: parts[parts.length - 1] });
  }
  return root;
}

export class FileBrowser {
  constructor({ api, tree, path, meta, scroll }) {
    this.api = api;
    this.treeEl = tree;
    this.pathEl = path;
    this.metaEl = meta;
    this.scrollEl = scroll;
    this.entries = [];
    this.selected = null;
    this.revisionId = null;
    this.changed = new Map(); // path -> change, from the latest run
    this.collapsed = new Set();
    this.loadToken = 0;
  }

  async load() {
    const token = ++this.loadToken;
    let listing;
    try {
      listing = await this.api.files();
    } catch (err) {
      if (token !== this.loadToken) return;
      this.treeEl.replaceChildren(el("p", "error small pad", `Could not load the files: ${err.message}`));
      return;
    }
    if (token !== this.loadToken) return; // a newer load is under way
    this.entries = listing.results;
    this.revisionId = listing.revision_id;
    this.treeEl.dataset.revisionId = this.revisionId || "";
    this.renderTree();
    const paths = new Set(this.entries.map((e) => e.path));
    const keep = this.selected && paths.has(this.selected) ? this.selected : null;
    const fallback = paths.has("index.html") ? "index.html" : this.entries[0] && this.entries[0].path;
    const target = keep || fallback;
    if (target) await this.open(target, { focus: false });
    else this.showEmpty();
  }

  markChanged(changedFiles) {
    this.changed = new Map((changedFiles || []).map((c) => [c.path, c.change]));
    this.renderTree();
  }

  renderTree() {
    const list = this.renderDir(buildTree(this.entries), "");
    list.classList.add("tree-root");
    if (!this.entries.length) {
      this.treeEl.replaceChildren(el("p", "muted small pad", "This revision has no files."));
      return;
    }
    this.treeEl.replaceChildren(list);
  }

  renderDir(node, prefix) {
    const list = el("ul", "tree-list");
    for (const name of Object.keys(node.dirs).sort()) {
      const dirPath = `${prefix}${name}/`;
      const item = el("li", "tree-dir");
      const open = !this.collapsed.has(dirPath);
      const button = el("button", "tree-item tree-folder", name);
      button.type = "button";
      button.setAttribute("aria-expanded", String(open));
      button.addEventListener("click", () => {
        if (this.collapsed.has(dirPath)) this.collapsed.delete(dirPath);
        else this.collapsed.add(dirPath);
        this.renderTree();
        const again = this.treeEl.querySelector(`[data-dir="${CSS.escape(dirPath)}"]`);
        if (again) again.focus();
      });
      button.dataset.dir = dirPath;
      item.append(button);
      if (open) item.append(this.renderDir(node.dirs[name], dirPath));
      list.append(item);
    }
    for (const file of node.files.sort((a, b) => a.name.localeCompare(b.name))) {
      const item = el("li", "tree-file");
      const button = el("button", "tree-item", file.name);
      button.type = "button";
      button.dataset.path = file.path;
      button.title = `${file.path} · ${humanSize(file.size)}`;
      if (file.path === this.selected) button.setAttribute("aria-current", "true");
      const change = this.changed.get(file.path);
      if (change) {
        const badge = el("span", `change-badge change-${change}`, BADGES[change] || "M");
        badge.title = `${change} by the last run`;
        badge.setAttribute("aria-label", `(${change} by the last run)`);
        button.append(badge);
      }
      button.addEventListener("click", () => this.open(file.path, { focus: false }));
      item.append(button);
      list.append(item);
    }
    return list;
  }

  showEmpty() {
    this.selected = null;
    this.pathEl.textContent = "No file selected";
    this.metaEl.textContent = "";
    this.scrollEl.replaceChildren(el("p", "muted small pad", "Select a file to read it."));
  }

  async open(path, { focus = true } = {}) {
    const entry = this.entries.find((e) => e.path === path);
    if (!entry) return;
    this.selected = path;
    for (const button of this.treeEl.querySelectorAll("button[data-path]")) {
      if (button.dataset.path === path) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
    this.pathEl.textContent = path;
    this.metaEl.textContent = `${humanSize(entry.size)} · read-only`;
    const revision = this.revisionId;
    if (!isText(path) || entry.size > MAX_SHOWN_BYTES) {
      const why = isText(path) ? "This file is too large to show here." : "This file is not text, so it is not shown here.";
      this.scrollEl.replaceChildren(el("p", "muted small pad", why));
      return;
    }
    let text;
    try {
      text = await this.api.fileText(path, revision);
    } catch (err) {
      if (this.selected === path) {
        this.scrollEl.replaceChildren(el("p", "error small pad", `Could not load ${path}: ${err.message}`));
      }
      return;
    }
    if (this.selected !== path || this.revisionId !== revision) return; // superseded
    this.renderCode(path, text);
    if (focus) this.scrollEl.focus();
  }

  renderCode(path, text) {
    const lineCount = text.length ? text.split("\n").length - (text.endsWith("\n") ? 1 : 0) : 1;
    const gutter = el("pre", "code-gutter");
    gutter.setAttribute("aria-hidden", "true");
    gutter.textContent = Array.from({ length: lineCount }, (_, i) => i + 1).join("\n");
    const pre = el("pre", "code-text");
    const code = el("code");
    code.innerHTML = highlight(path, text);
    pre.append(code);
    const wrap = el("div", "code-lines");
    wrap.append(gutter, pre);
    this.scrollEl.replaceChildren(wrap);
    this.scrollEl.scrollTop = 0;
    this.scrollEl.dataset.path = path;
  }
}
