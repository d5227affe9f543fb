// The REST API of DESIGN.md §2, as the builder uses it. Every error is an ApiError
// carrying the contract's body: {code, message, field?, fields?}.

export const SESSION_ENDED = "Your session has ended. Reload the page and log in again.";
// config/errors.py: the codes of a request that no longer carries a valid login. Their
// messages ("Authentication credentials were not provided.") are written for API clients.
const SESSION_CODES = new Set(["NOT_AUTHENTICATED", "AUTHENTICATION_FAILED"]);

// The action an ended session calls for, next to the words that say so.
export function reloadButton() {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link-button reload-button";
  button.textContent = "Reload";
  button.addEventListener("click", () => location.reload());
  return button;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `The server answered ${status}.`);
    this.status = status;
    this.code = (body && body.code) || `HTTP_${status}`;
    this.field = body && body.field;
    this.fields = body && body.fields;
    // True when reloading (and logging in again) is the fix: callers offer a Reload action.
    this.sessionEnded = Boolean(body && body.sessionEnded);
  }
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export async function request(method, url, { json, text = false } = {}) {
  const headers = { Accept: text ? "text/plain, */*" : "application/json" };
  if (json !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: json === undefined ? undefined : JSON.stringify(json),
    });
  } catch (err) {
    throw new ApiError(0, {
      code: "NETWORK",
      message: "The server could not be reached. Check the connection and try again.",
    });
  }
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch (err) {
      body = null;
    }
    if (response.status === 401 || response.status === 403) {
      // A 403 without the contract's body (a proxy, a CSRF page) most likely means the same.
      if (!body || !body.message || SESSION_CODES.has(body.code)) {
        body = { ...body, message: SESSION_ENDED, sessionEnded: true };
      }
    }
    throw new ApiError(response.status, body);
  }
  return text ? response.text() : response.json();
}

// Cursor-paginated lists ({"results", "next"}): every page, up to `limit` items.
async function all(url, limit = 1000) {
  const items = [];
  let next = url;
  while (next && items.length < limit) {
    const page = await request("GET", next);
    items.push(...page.results);
    next = page.next;
  }
  return items;
}

function encodePath(path) {
  return path.split("/").map(encodeURIComponent).join("/");
}

function query(params) {
  const parts = Object.entries(params)
    .filter(([, value]) => value !== undefined && value !== null && value !== "")
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

export function makeApi({ appUrl, agentUrl }) {
  return {
    app: () => request("GET", appUrl),
    files: (revision) => request("GET", `${appUrl}/files${query({ revision })}`),
    fileText: (path, revision) =>
      request("GET", `${appUrl}/files/${encodePath(path)}${query({ revision })}`, { text: true }),
    diff: (revision, against) =>
      request("GET", `${appUrl}/revisions/${revision}/diff${query({ against })}`, { text: true }),
    models: () => request("GET", `${agentUrl}/models`),
    // Newest first; `limit` > 0: only about that many of the newest.
    runs: (limit = 1000) => all(`${agentUrl}/runs?page_size=${Math.min(limit, 200)}`, limit),
    run: (runId) => request("GET", `${agentUrl}/runs/${runId}`),
    createRun: (body) => request("POST", `${agentUrl}/runs`, { json: body }),
    cancelRun: (runId) => request("POST", `${agentUrl}/runs/${runId}/cancel`),
    events: (runId, afterSeq = 0) =>
      request("GET", `${agentUrl}/runs/${runId}/events${query({ after_seq: afterSeq })}`),
    checkpoints: () => all(`${agentUrl}/checkpoints?page_size=200`),
    restore: (checkpointId) => request("POST", `${agentUrl}/checkpoints/${checkpointId}/restore`),
    streamUrls: (runId, wsPath) => {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      return {
        ws: `${scheme}//${location.host}${wsPath}/runs/${runId}/stream`,
        sse: `${agentUrl}/runs/${runId}/stream`,
      };
    },
  };
}
