// The model picker: which model plays (model/load, the same /api/set as every control), the
// crossfade (model/crossfade), a swap's progress and its failures. A swap takes its time:
// model/load answers at once, and the `model` change arrives over the WebSocket once the new model
// plays; then the page rebuilds its layers for it (onSwapped). While a swap is under way
// GET /api/models is polled, which is where a failure shows up (the model playing goes on).

import { getJSON, setValue } from "./api.js";
import { el } from "./controls.js";
import { $, notify } from "./store.js";

const POLL_MS = 400;
const models = {
  info: null, // GET /api/models
  shown: null, // the model file the page's layers were built for
  wanted: null, // the name asked for, while a swap is under way
  failedBefore: 0,
  poll: null,
  onSwapped: async () => {},
};

/** Fetch the models and wire the picker; `onSwapped()` rebuilds the page for a new model. */
export async function setupModels(onSwapped) {
  models.onSwapped = onSwapped;
  $("model-pick").addEventListener("change", (event) => pick(event.target.value));
  $("model-crossfade").addEventListener("change", setCrossfade);
  const info = await refreshModels();
  models.shown = info?.loaded ?? null;
}

export async function refreshModels() {
  let info;
  try {
    info = await getJSON("/api/models");
  } catch (error) {
    say(`models unavailable: ${error.message}`, "error");
    return null;
  }
  models.info = info;
  render(info);
  return info;
}

function render(info) {
  const box = $("model-box");
  const select = $("model-pick");
  box.dataset.swap = String(info.swap);
  box.dataset.playing = info.playing;
  const names = info.swap ? [...info.names] : [];
  if (!names.includes(info.playing)) names.unshift(info.playing); // played, but in no model folder
  const wanted = models.wanted;
  select.replaceChildren(...names.map((name) => el("option", { value: name,
    text: name === info.playing ? `▶ ${name}` : name })));
  select.value = wanted && names.includes(wanted) ? wanted : info.playing;
  select.disabled = !info.swap;
  const fade = $("model-crossfade");
  fade.disabled = !info.swap;
  if (info.swap && document.activeElement !== fade) fade.value = String(Math.round(info.crossfade_ms));
  $("model-files").replaceChildren(...(info.sources || []).map((path) => el("option", { value: path,
    label: path.split("/").pop().replace(/\.ts$/, "") })));
  if (!info.swap && !box.dataset.state) say("This server plays one model (no model/load).", "off");
  else if (!box.dataset.state || box.dataset.state === "off") say(playingText(info), "idle");
}

function playingText(info) {
  const last = info.last;
  let text = `${info.playing} playing`;
  if (last && last.name === info.playing) {
    text += `: swapped in ${Math.round(last.total_ms)} ms (load ${Math.round(last.load_ms)}, warm-up ` +
      `${Math.round(last.warm_ms)})`;
    if (last.latency_change_ms > 0.05) text += `, latency +${last.latency_change_ms.toFixed(1)} ms`;
  }
  return text;
}

/** The picker's line: kind idle | loading | done | error | off (data-state, for the looks and tests). */
function say(text, kind) {
  const line = $("model-state");
  line.textContent = text;
  $("model-box").dataset.state = kind;
}

async function pick(name) {
  const info = models.info;
  if (!name || (info && name === info.playing && !models.wanted)) return;
  const failedBefore = info?.failed ?? 0;
  say(`loading ${name}…`, "loading");
  try {
    const result = await setValue("model/load", name);
    watch(result?.value ?? name, failedBefore);
  } catch (error) {
    models.wanted = null;
    say(error.message, "error");
    notify(error.message, "error");
    if (info) $("model-pick").value = info.playing;
  }
}

/** A swap to `name` is under way (asked for here or elsewhere: MIDI, OSC, another page). */
function watch(name, failedBefore) {
  if (!models.poll) {
    models.failedBefore = failedBefore ?? models.info?.failed ?? 0;
    models.poll = setInterval(check, POLL_MS);
  }
  models.wanted = name;
  say(`loading ${name}…`, "loading");
}

function stopWatching() {
  clearInterval(models.poll);
  models.poll = null;
  models.wanted = null;
}

async function check() {
  const info = await refreshModels();
  if (!info || !models.wanted) return;
  if (info.failed > models.failedBefore) {
    const failure = info.failures[info.failures.length - 1] || `model ${models.wanted} not loaded`;
    stopWatching();
    render(info);
    say(failure, "error");
    notify(failure, "error");
    return;
  }
  // the model event may be on its way, or was missed: what plays is known now
  if (!info.busy || info.playing === models.wanted) await settled(info);
}

/** The `model` change (a swap ended) arrived over the WebSocket. */
export async function onModelChange() {
  const info = await refreshModels();
  if (info) await settled(info);
}

/** After a reconnect: a swap that ended while the page was away rebuilds it. */
export async function catchUp() {
  const info = await refreshModels();
  if (info && info.loaded !== models.shown) await settled(info);
}

/** `model/load` changed: a swap was asked for, maybe by another controller. */
export function onModelLoad(name) {
  if (typeof name !== "string" || !models.info) return;
  if (name === models.info.playing && !models.wanted) return;
  watch(name);
}

async function settled(info) {
  if (models.wanted && info.playing !== models.wanted && info.busy) return; // a newer request is on its way
  stopWatching();
  render(info);
  if (info.loaded !== models.shown) {
    models.shown = info.loaded; // before waiting: a second report of the same swap rebuilds nothing
    say(`${info.playing}: reading its layers…`, "loading");
    await models.onSwapped(info);
    notify(`Model: ${info.playing}`);
  }
  say(playingText(info), "done");
  if (info.busy) setTimeout(lateResult, POLL_MS); // the crossfade goes on: its timings come after it
}

/** The swap's timings, once its crossfade has ended (the model plays from its first block on). */
async function lateResult() {
  if (models.wanted || $("model-box").dataset.state !== "done") return;
  const info = await refreshModels();
  if (!info || models.wanted || $("model-box").dataset.state !== "done") return;
  say(playingText(info), "done");
  if (info.busy) setTimeout(lateResult, POLL_MS);
}

async function setCrossfade(event) {
  const node = event.target;
  try {
    const result = await setValue("model/crossfade", Number(node.value));
    node.value = String(Math.round(result.value));
  } catch (error) {
    notify(error.message, "error");
    if (models.info?.crossfade_ms != null) node.value = String(Math.round(models.info.crossfade_ms));
  }
}

/** `model/crossfade` changed elsewhere. */
export function showCrossfade(value) {
  const node = $("model-crossfade");
  if (document.activeElement !== node && typeof value === "number") node.value = String(Math.round(value));
  if (models.info) models.info.crossfade_ms = value;
}
