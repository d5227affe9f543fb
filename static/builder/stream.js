// Following one run's events (DESIGN.md §3): websocket first, server-sent events when
// a socket cannot open, and the REST `events` list to fill gaps.
//
// Every transport resumes after the last applied `seq`, so reconnecting is cheap and
// safe: envelopes at or below it are dropped (nothing shown twice), envelopes that
// arrive early wait in `pending` until the ones before them are in (nothing applied out
// of order), and a gap that does not close by itself is fetched over REST (nothing
// missing). The stream ends after the run's one terminal event.

export const EVENT_TYPES = [
  "run.accepted",
  "assistant.delta",
  "tool.started",
  "tool.completed",
  "tool.failed",
  "revision.created",
  "checkpoint.created",
  "run.completed",
  "run.failed",
  "run.cancelled",
];
export const TERMINAL = new Set(["run.completed", "run.failed", "run.cancelled"]);

// Close codes of the websocket consumer that no retry can fix.
const REFUSALS = {
  4400: "The stream address was not valid.",
  4401: "Your session has ended. Reload the page and log in again.",
  4404: "This run is no longer available.",
};
const BACKOFF_MS = [300, 600, 1200, 2500, 5000, 8000];
const SILENCE_MS = 45000; // reconnect a transport that has said nothing for this long
const GAP_WAIT_MS = 400;

// Once a socket cannot open (a proxy without websocket support, say), later runs on
// this page go straight to SSE instead of failing the same way again.
let socketsUnavailable = false;

export class RunStream {
  constructor({ urls, fetchEvents, afterSeq = 0, onEvent, onEnd, onState }) {
    this.urls = urls;
    this.fetchEvents = fetchEvents;
    this.lastSeq = afterSeq;
    this.onEvent = onEvent;
    this.onEnd = onEnd || (() => {});
    this.onState = onState || (() => {});
    this.pending = new Map();
    this.conn = null;
    this.attempts = 0;
    this.socketFailures = 0;
    this.done = false;
    this.closed = false;
    this.timers = new Set();
    this.lastHeard = Date.now();
  }

  start() {
    this.connect();
    this.watchdog = setInterval(() => this.checkSilence(), 5000);
    return this;
  }

  close() {
    this.closed = true;
    this.teardown();
    clearInterval(this.watchdog);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  later(fn, ms) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  connect() {
    if (this.done || this.closed) return;
    this.teardown();
    this.lastHeard = Date.now();
    if (!socketsUnavailable && typeof WebSocket !== "undefined") this.openSocket();
    else this.openEventSource();
  }

  teardown() {
    const conn = this.conn;
    this.conn = null;
    if (!conn) return;
    if (conn.ws) {
      conn.ws.onopen = conn.ws.onmessage = conn.ws.onclose = conn.ws.onerror = null;
      try {
        conn.ws.close(1000);
      } catch (err) {
        /* already closed */
      }
    }
    if (conn.es) conn.es.close();
  }

  openSocket() {
    let ws;
    try {
      ws = new WebSocket(`${this.urls.ws}?after_seq=${this.lastSeq}`);
    } catch (err) {
      socketsUnavailable = true;
      this.openEventSource();
      return;
    }
    const conn = { kind: "websocket", ws, opened: false, frames: 0 };
    this.conn = conn;
    ws.onopen = () => {
      conn.opened = true;
      this.onState({ transport: "websocket", connected: true });
    };
    ws.onmessage = (message) => {
      conn.frames += 1;
      this.heard();
      this.receive(parse(message.data));
    };
    ws.onclose = (event) => {
      if (this.conn !== conn) return;
      this.conn = null;
      if (this.done || this.closed) return;
      if (REFUSALS[event.code]) {
        this.fail(REFUSALS[event.code]);
        return;
      }
      // A socket that never opened, or twice opened and closed without a frame, is
      // not going to work here: fall back to SSE for this page.
      if (!conn.opened) this.socketFailures += 2;
      else if (conn.frames === 0) this.socketFailures += 1;
      else this.socketFailures = 0;
      if (this.socketFailures >= 2) {
        socketsUnavailable = true;
        this.onState({ transport: "sse", connected: false, fallback: true });
        this.connect();
        return;
      }
      this.retry();
    };
    ws.onerror = () => {}; // a close event always follows
  }

  openEventSource() {
    const es = new EventSource(`${this.urls.sse}?after_seq=${this.lastSeq}`);
    const conn = { kind: "sse", es };
    this.conn = conn;
    es.onopen = () => {
      if (this.conn === conn) this.onState({ transport: "sse", connected: true });
    };
    const handle = (message) => {
      if (this.conn !== conn) return;
      this.heard();
      this.receive(parse(message.data));
    };
    for (const type of EVENT_TYPES) es.addEventListener(type, handle);
    es.onmessage = handle; // events without a name, should the server ever send them
    es.onerror = () => {
      // EventSource would reconnect by itself; we do it ourselves, from our own seq,
      // with our own backoff, the same way for both transports.
      if (this.conn !== conn) return;
      this.teardown();
      if (!this.done && !this.closed) this.retry();
    };
  }

  heard() {
    this.lastHeard = Date.now();
    this.attempts = 0;
  }

  retry() {
    const delay = BACKOFF_MS[Math.min(this.attempts, BACKOFF_MS.length - 1)];
    this.attempts += 1;
    this.onState({ connected: false, reconnecting: true });
    // After a few failed attempts the REST list keeps the panel current meanwhile.
    if (this.attempts >= 3) this.catchUp();
    this.later(() => this.connect(), delay * (0.8 + Math.random() * 0.4));
  }

  checkSilence() {
    if (this.done || this.closed || !this.conn) return;
    if (Date.now() - this.lastHeard > SILENCE_MS) {
      this.catchUp();
      this.connect(); // a socket can die without a close event; a fresh one costs little
    }
  }

  receive(envelope) {
    if (this.done || this.closed || !envelope || typeof envelope.seq !== "number") return;
    if (envelope.seq <= this.lastSeq) return; // already applied
    this.pending.set(envelope.seq, envelope);
    while (this.pending.has(this.lastSeq + 1)) {
      const next = this.pending.get(this.lastSeq + 1);
      this.pending.delete(next.seq);
      this.lastSeq = next.seq;
      try {
        this.onEvent(next);
      } catch (err) {
        console.error("could not apply event", next, err);
      }
      if (TERMINAL.has(next.event)) {
        this.finish();
        return;
      }
    }
    if (this.pending.size && !this.gapTimer) {
      this.gapTimer = true;
      this.later(() => {
        this.gapTimer = false;
        if (this.pending.size) this.catchUp();
      }, GAP_WAIT_MS);
    }
  }

  async catchUp() {
    if (this.done || this.closed || this.catchingUp) return;
    this.catchingUp = true;
    try {
      const { events } = await this.fetchEvents(this.lastSeq);
      for (const envelope of events) this.receive(envelope);
    } catch (err) {
      /* the transports keep trying */
    } finally {
      this.catchingUp = false;
    }
  }

  finish() {
    this.done = true;
    this.pending.clear();
    this.close();
    this.onState({ connected: false, finished: true });
    this.onEnd({ lastSeq: this.lastSeq });
  }

  fail(message) {
    this.close();
    this.onState({ connected: false, error: message });
    this.onEnd({ lastSeq: this.lastSeq, error: message });
  }
}

function parse(data) {
  try {
    return JSON.parse(data);
  } catch (err) {
    return null;
  }
}
