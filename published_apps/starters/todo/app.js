"use strict";

const STORAGE_KEY = "todo-items";
const form = document.getElementById("new-todo-form");
const input = document.getElementById("new-todo");
const list = document.getElementById("todo-list");
const summary = document.getElementById("summary");

function loadItems() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY)) || [];
  } catch (error) {
    return [];
  }
}

function saveItems(items) {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(items));
  } catch (error) {
    // Storage can be unavailable (private mode, sandboxed preview): keep working in memory.
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
