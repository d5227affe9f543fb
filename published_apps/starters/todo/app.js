"use strict";

const STORAGE_KEY = "todo-items";
const form = document.getElementById("new-todo-form");
const input = document.getElementById("new-todo");
const list = document.getElementById("todo-list");
const summary = document.getElementById("summary");

const storageNote = document.getElementById("storage-note");

// Storage can be unavailable: a sandboxed page (the builder's preview, a published app
// served with a sandbox policy) or a private window. The list then lives in memory, and
// the page says so rather than losing items silently on the next reload.
const storage = (() => {
  try {
    const probe = `${STORAGE_KEY}-probe`;
    localStorage.setItem(probe, "1");
    localStorage.removeItem(probe);
    return localStorage;
  } catch (error) {
    return null;
  }
})();
storageNote.hidden = storage !== null;

function loadItems() {
  try {
    return JSON.parse(storage?.getItem(STORAGE_KEY)) || [];
  } catch (error) {
    return [];
  }
}

function saveItems(items) {
  try {
    storage?.setItem(STORAGE_KEY, JSON.stringify(items));
  } catch (error) {
    // Full, or taken away since the page loaded: the list keeps working in memory.
  }
}

let items = loadItems();

function render() {
  list.replaceChildren();
  for (const item of items) {
    const row = document.createElement("li");
    row.className = item.done ? "todo-item done" : "todo-item";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = item.done;
    box.setAttribute("aria-label", `Done: ${item.title}`);
    box.addEventListener("change", () => toggleItem(item.id));
    const title = document.createElement("span");
    title.textContent = item.title;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Delete";
    remove.addEventListener("click", () => removeItem(item.id));
    row.append(box, title, remove);
    list.append(row);
  }
  const open = items.filter((item) => !item.done).length;
  summary.textContent = items.length ? `${open} of ${items.length} left` : "Nothing to do yet.";
}

function addItem(title) {
  items = [...items, { id: Date.now().toString(36), title, done: false }];
  saveItems(items);
  render();
}

function toggleItem(id) {
  items = items.map((item) => (item.id === id ? { ...item, done: !item.done } : item));
  saveItems(items);
  render();
}

function removeItem(id) {
  items = items.filter((item) => item.id !== id);
  saveItems(items);
  render();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const title = input.value.trim();
  if (title) {
    addItem(title);
  }
  form.reset();
});

render();
