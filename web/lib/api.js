// The server's API: REST calls with the page's token, throttled sets (latest value wins), and a
// WebSocket that reconnects with backoff. No network access beyond the page's own server.

const TOKEN = new URLSearchParams(location.search).get("token");

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

/** A URL on the page's server, with the token when the page was opened with one. */
export function apiUrl(path, protocol) {
  const url = new URL(path, location.href);
  if (TOKEN) url.searchParams.set("token", TOKEN);
  if (protocol) url.protocol = protocol;
  return url.toString();
}

async function request(method, path, body) {
  const init = { method, headers: {} };
  if (TOKEN) init.headers.Authorization = `Bearer ${TOKEN}`;
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(apiUrl(path), init);
  let data = null;
  const text = await response.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!response.ok) {
    const detail = data && typeof data === "object" && "detail" in data ? data.detail : (data || response.statusText);
    throw new ApiError(response.status, detail);
  }
  return data;
}

export const getJSON = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body);
export const setValue = (address, value) => post("/api/set", { address, value });

/**
 * Sets sent at most every `interval` ms per address, and one at a time per address: while a
 * request is in flight the newest value waits, older ones are dropped (latest wins), and the
 * last value of a drag is always sent.
 */
export class Sender {
  constructor(onError, onSent, interval = 33) {
    this.onError = onError;
    this.onSent = onSent;
    this.interval = interval;
    this.entries = new Map();
  }

  set(address, value) {
    let e = this.entries.get(address);
    if (!e) {
      e = { value, last: -Infinity, timer: null, inflight: false, dirty: false };
      this.entries.set(address, e);
    }
    e.value = value;
    e.dirty = true;
    this._schedule(address, e);
  }

  /** True while a value for `address` is waiting or on its way: remote echoes are stale. */
  busy(address) {
    const e = this.entries.get(address);
    return !!e && (e.dirty || e.inflight || performance.now() - e.last < 250);
  }

  _schedule(address, e) {
    if (e.timer || e.inflight || !e.dirty) return;
    const wait = Math.max(0, e.last + this.interval - performance.now());
    e.timer = setTimeout(() => this._flush(address, e), wait);
  }

  async _flush(address, e) {
    e.timer = null;
    e.dirty = false;
    e.inflight = true;
    e.last = performance.now();
    const value = e.value;
    try {
      const result = await setValue(address, value);
      this.onSent?.(address, result);
    } catch (error) {
      this.onError?.(address, error);
    } finally {
      e.inflight = false;
      e.last = performance.now();
      this._schedule(address, e);
    }
  }
}

/**
 * The WebSocket at /api/ws, reconnecting with exponential backoff (0.5 s doubling to 8 s,
 * reset after a connection that lasted). onState gets "open", "closed" (with the retry delay).
 */
export class LiveSocket {
  constructor(onMessage, onState) {
    this.onMessage = onMessage;
    this.onState = onState;
    this.delay = 500;
    this.socket = null;
    this.retry = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this._open();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    this.socket?.close();
  }

  _open() {
    const protocol = location.protocol === "https:" ? "wss:" : "ws:";
    let socket;
    try {
      socket = new WebSocket(apiUrl("/api/ws", protocol));
    } catch {
      this._again();
      return;
    }
    this.socket = socket;
    let opened = 0;
    socket.onopen = () => {
      opened = performance.now();
      this.onState("open");
    };
    socket.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      this.onMessage(message);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      if (opened && performance.now() - opened > 5000) this.delay = 500;
      this._again();
    };
    socket.onerror = () => socket.close();
  }

  _again() {
    if (this.stopped) return;
    const delay = this.delay;
    this.delay = Math.min(8000, this.delay * 2);
    this.onState("closed", delay);
    this.retry = setTimeout(() => this._open(), delay);
  }
}
