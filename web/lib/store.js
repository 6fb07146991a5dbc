// The page's copy of the server's state, and the one way controls change it: send(address, value).

import { Sender, setValue } from "./api.js";

export const app = {
  status: null,
  addresses: null, // GET /api/addresses
  tensors: [], // GET /api/tensors
  byName: new Map(), // tensor name -> tensor entry
  state: null, // GET /api/state
  chosen: null, // a tensor index, "latent", or null
  scenes: null,
  mappings: null,
  lastTouched: null,
};

export const $ = (id) => document.getElementById(id);

let messageTimer = null;
/** One line for the performer: what happened or what went wrong (errors stay longer). */
export function notify(text, kind = "info") {
  const node = $("message");
  node.textContent = text;
  node.dataset.kind = kind;
  node.classList.add("shown");
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => node.classList.remove("shown"), kind === "error" ? 8000 : 3000);
}

const hooks = { resync: () => {}, sent: () => {} };
export function onResync(fn) { hooks.resync = fn; }
export function onSent(fn) { hooks.sent = fn; }

export const sender = new Sender(
  (address, error) => {
    notify(`${address}: ${error.message}`, "error");
    hooks.resync();
  },
  (address, result) => hooks.sent(result?.address ?? address, result?.value),
);

/** A continuous control moved: throttled, latest value wins. */
export function send(address, value) {
  app.lastTouched = address;
  sender.set(address, value);
}

/** A button pressed: sent at once; returns the stored value or null on error. */
export async function act(address, value = 1) {
  try {
    const result = await setValue(address, value);
    hooks.sent(result?.address ?? address, result?.value);
    return result;
  } catch (error) {
    notify(`${address}: ${error.message}`, "error");
    return null;
  }
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
