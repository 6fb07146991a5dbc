// The side panels (mix, scenes, mappings, input), the status bar and the level meters.

import { getJSON, post } from "./api.js";
import { el, slider, formats, showValue, truthy } from "./controls.js";
import { fmt } from "./draw.js";
import { $, app, act, notify, send, debounce } from "./store.js";

// ---------------------------------------------------------------------------------------------
// mix (globals; bypass is the A/B switch in the header)

const GLOBAL_FORMAT = { "input/gain": formats.db, "output/gain": formats.db, mix: formats.percent };
const GLOBAL_LABEL = { mix: "mix (wet)", "input/gain": "input gain", "output/gain": "output gain" };

export function renderGlobals() {
  const box = $("globals");
  box.replaceChildren();
  const globals = app.addresses.globals;
  const values = app.state?.globals || {};
  for (const name of ["mix", "input/gain", "output/gain"]) {
    const g = globals[name];
    if (!g) continue;
    box.append(slider({ address: name, label: GLOBAL_LABEL[name], min: g.min, max: g.max, def: g.default,
      value: values[name] ?? g.default, send, format: GLOBAL_FORMAT[name], doc: `${name}: ${g.unit}`, wide: true }));
  }
  if (globals.record) {
    const rec = el("button", { type: "button", class: "record",
      "aria-pressed": truthy(values.record) ? "true" : "false",
      dataset: { address: "record" }, title: "record what you hear to a WAV file (on the server)" },
    el("i", { class: "led", "aria-hidden": "true" }), "Record");
    rec.addEventListener("click", () => act("record", rec.getAttribute("aria-pressed") === "true" ? 0 : 1));
    box.append(el("div", { class: "row" }, rec));
  }
  showValue($("ab"), values.bypass ?? 0);
}

export function showGlobals() {
  const values = app.state?.globals || {};
  for (const [name, value] of Object.entries(values)) showGlobal(name, value);
}

export function showGlobal(name, value, busy = false) {
  if (busy) return;
  for (const node of document.querySelectorAll(`[data-address="${CSS.escape(name)}"]`)) showValue(node, value);
}

// ---------------------------------------------------------------------------------------------
// scenes

const scenePick = { a: "", b: "" };

export const refreshScenes = debounce(async () => {
  try {
    app.scenes = await getJSON("/api/scenes");
  } catch (error) {
    $("scene-list").replaceChildren(el("li", { class: "hint" }, `scenes unavailable: ${error.message}`));
    return;
  }
  renderScenes();
}, 40);

function renderScenes() {
  const { scenes = [], current = "", setlist = [], position = -1 } = app.scenes || {};
  const list = $("scene-list");
  list.replaceChildren();
  if (!scenes.length) list.append(el("li", { class: "hint" }, "No scenes yet: name one and save."));
  for (const scene of scenes) {
    const name = scene.name;
    const isCurrent = name === current;
    list.append(el("li", { class: isCurrent ? "current" : "", dataset: { scene: name },
      "aria-current": isCurrent ? "true" : null },
    el("button", { type: "button", class: "recall", title: `recall ${name}`, "aria-label": `recall scene ${name}`,
      onclick: () => recallScene(name) }, name),
    el("span", { class: "when small" }, ago(scene.modified)),
    el("button", { type: "button", class: "pickab", "aria-label": `morph from ${name} (A)`,
      "aria-pressed": String(scenePick.a === name), onclick: () => pickScene("a", name) }, "A"),
    el("button", { type: "button", class: "pickab", "aria-label": `morph to ${name} (B)`,
      "aria-pressed": String(scenePick.b === name), onclick: () => pickScene("b", name) }, "B")));
  }
  for (const side of ["a", "b"]) {
    const sel = $(`scene-${side}`);
    sel.replaceChildren(el("option", { value: "", text: "–" }), ...scenes.map((s) => el("option", { value: s.name,
      text: s.name })));
    sel.value = scenePick[side];
  }
  const ol = $("setlist");
  ol.replaceChildren();
  if (!setlist.length) ol.append(el("li", { class: "hint" }, "No set list (setlist.txt in the scenes folder)."));
  setlist.forEach((name, i) => ol.append(el("li", { class: i === position ? "current" : "",
    "aria-current": i === position ? "step" : null }, name)));
}

function ago(modified) {
  if (!modified) return "";
  const t = typeof modified === "number" ? modified * (modified < 1e12 ? 1000 : 1) : Date.parse(modified);
  if (!Number.isFinite(t)) return String(modified);
  const s = Math.max(0, (Date.now() - t) / 1000);
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}

async function pickScene(side, name) {
  const result = await act(`scene/${side}`, name);
  if (result) {
    scenePick[side] = name;
    renderScenes();
  }
}

export function showScenePick(side, name) {
  scenePick[side] = name ?? "";
  renderScenes();
}

async function recallScene(name) {
  try {
    await post(`/api/scenes/${encodeURIComponent(name)}/recall`);
    notify(`Recalled ${name}`);
  } catch (error) {
    notify(`recall ${name}: ${error.message}`, "error");
  }
  refreshScenes();
}

export function setupScenes(resync) {
  $("scene-save").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("scene-name").value.trim();
    if (!name) return;
    try {
      await post(`/api/scenes/${encodeURIComponent(name)}/save`);
      notify(`Saved ${name}`);
      $("scene-name").value = "";
    } catch (error) {
      notify(`save ${name}: ${error.message}`, "error");
    }
    refreshScenes();
  });
  for (const side of ["a", "b"]) {
    $(`scene-${side}`).addEventListener("change", (event) => {
      if (event.target.value) pickScene(side, event.target.value);
    });
  }
  $("morph-slot").append(slider({ address: "scene/morph", label: "A ↔ B", min: 0, max: 1, def: 0, value: 0, send,
    wide: true, doc: "crossfade between scenes A and B" }));
  $("setlist-prev").addEventListener("click", () => act("setlist/prev", 1));
  $("setlist-next").addEventListener("click", () => act("setlist/next", 1));
  $("undo").addEventListener("click", () => act("undo", 1).then(resync));
  $("redo").addEventListener("click", () => act("redo", 1).then(resync));
  $("panic").addEventListener("click", () => act("panic", 1).then((r) => {
    if (r) notify("Panic: every tensor back to its original");
    resync();
  }));
}

// ---------------------------------------------------------------------------------------------
// mappings and learn

export const refreshMappings = debounce(async () => {
  try {
    app.mappings = await getJSON("/api/mappings");
  } catch (error) {
    $("mappings").replaceChildren(el("p", { class: "hint" }, `mappings unavailable: ${error.message}`));
    return;
  }
  renderMappings();
}, 60);

const MATCH_WORDS = { cc: "CC", cc14: "CC14", nrpn: "NRPN", rpn: "RPN", note: "note", pitchbend: "bend",
  pressure: "pressure", program: "program" };

function describeMatch(m) {
  if (!m) return "?";
  const type = MATCH_WORDS[m.type] || m.type;
  return `${type}${m.number !== null && m.number !== undefined ? ` ${m.number}` : ""} · ch ${m.channel}`;
}

function matchCell(m) {
  if (!m) return "?";
  return el("span", { title: describeMatch(m) }, `${MATCH_WORDS[m.type] || m.type}`,
    m.number !== null && m.number !== undefined ? ` ${m.number}` : "", el("span", { class: "ch" }, `ch${m.channel}`));
}

/** A bank address (selected+k/...) as the tensor it edits now. */
export function resolveAddress(address) {
  const m = /^selected(?:\+(\d+))?(\/.*)$/.exec(address);
  if (!m || !app.tensors.length || !app.state) return address;
  const index = (app.state.selected + Number(m[1] || 0)) % app.tensors.length;
  return `${app.tensors[index].name}${m[2]}`;
}

function renderMappings() {
  const box = $("mappings");
  const rendered = box.querySelectorAll("details.mapping").length > 0;
  const wasOpen = new Set([...box.querySelectorAll("details.mapping[open]")].map((d) => d.dataset.name));
  box.replaceChildren();
  const mappings = app.mappings?.mappings || [];
  if (!mappings.length) box.append(el("p", { class: "hint" }, "No controller mapped. Plug one in or learn below."));
  const fresh = justLearned;
  justLearned = null;
  let freshRow = null;
  let freshMapping = -1;
  mappings.forEach((mapping, k) => {
    const rows = (mapping.controls || []).map((c) => {
      const target = resolveAddress(c.address);
      const value = el("span", { class: "value mono", dataset: { mapAddress: target } }, valueText(c.value));
      const tr = el("tr", {},
        el("td", { class: "mono" }, matchCell(c.match)),
        el("td", {}, el("span", { class: "addr mono", title: target }, c.address),
          c.label ? el("span", { class: "small label" }, c.label) : null),
        el("td", {}, value),
        el("td", {}, el("button", { type: "button", class: "learn", "aria-label": `learn a control for ${c.address}`,
          dataset: { learn: c.address }, onclick: () => learn(c.address) }, "Learn")));
      if (fresh && c.address === fresh.address && sameMatch(c.match, fresh.control)) {
        freshRow = tr;
        freshMapping = k;
        tr.classList.add("fresh");
      }
      return tr;
    });
    const table = el("table", { class: "maptable" },
      el("thead", {}, el("tr", {}, ...["control", "drives", "value", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows));
    const name = mapping.name || "mapping";
    const open = wasOpen.has(name) || (freshMapping === k) || (!rendered && k === 0);
    box.append(el("details", { class: "mapping", open, dataset: { name } },
      el("summary", {}, mapping.name || "mapping",
        mapping.device ? el("span", { class: "small" }, ` · ${mapping.device}`) : null,
        el("span", { class: "count" }, String(rows.length))),
      table));
  });
  freshRow?.scrollIntoView({ block: "nearest" });
}

let justLearned = null;
const sameMatch = (a, b) => !!a && !!b && a.type === b.type && a.channel === b.channel &&
  (a.number ?? null) === (b.number ?? null);

const valueText = (v) => (v === null || v === undefined ? "–" : typeof v === "number" ? fmt(v) : String(v));

export function showMappedValue(address, value) {
  for (const node of document.querySelectorAll(`#mappings [data-map-address="${CSS.escape(address)}"]`)) {
    node.textContent = valueText(value);
    node.classList.remove("flash");
    void node.offsetWidth;
    node.classList.add("flash");
  }
}

let learning = null;

export async function learn(address) {
  address = (address || "").trim();
  if (!address) {
    notify("Learn needs an address: touch a control or type one", "error");
    return;
  }
  try {
    await post("/api/learn", { address });
  } catch (error) {
    $("learn-state").textContent = `Cannot learn ${address}: ${error.message}`;
    $("learn-state").dataset.kind = "error";
    return;
  }
  learning = address;
  document.body.dataset.learning = address;
  $("learn-state").dataset.kind = "waiting";
  $("learn-state").textContent = `Move a MIDI control to bind it to ${address}…`;
  for (const b of document.querySelectorAll("[data-learn]")) b.classList.toggle("armed", b.dataset.learn === address);
}

export function learnResult(message) {
  const state = $("learn-state");
  delete document.body.dataset.learning;
  for (const b of document.querySelectorAll("[data-learn].armed")) b.classList.remove("armed");
  learning = null;
  if (message.control) {
    state.dataset.kind = "done";
    state.textContent = `Learned: ${describeMatch(message.control.match || message.control)} → ${message.address}`;
    notify(state.textContent);
    justLearned = { address: message.address, control: message.control.match || message.control };
    refreshMappings();
  } else {
    state.dataset.kind = "error";
    state.textContent = `No control moved for ${message.address}: learn timed out.`;
  }
}

export function setupLearn() {
  $("learn-form").addEventListener("submit", (event) => {
    event.preventDefault();
    learn($("learn-address").value);
  });
}

/** The learn field follows the last control touched, so "touch, then Learn" binds it. */
export function touched(address) {
  const field = $("learn-address");
  if (field && document.activeElement !== field && !learning) field.value = address;
}

// ---------------------------------------------------------------------------------------------
// input: examples and upload

export const refreshInputs = debounce(async () => {
  let inputs;
  try {
    inputs = await getJSON("/api/inputs");
  } catch (error) {
    $("examples").replaceChildren(el("li", { class: "hint" }, error.status === 404
      ? "This server does not switch inputs (serve --input-file FILE loops a file)."
      : `inputs unavailable: ${error.message}`));
    return;
  }
  const list = $("examples");
  list.replaceChildren();
  // the device (when there is one), the examples, then what was uploaded
  const names = [...(inputs.device ? ["device"] : []), ...(inputs.examples || []), ...(inputs.uploads || [])];
  if (!names.length) list.append(el("li", { class: "hint" }, "No inputs to choose on this server."));
  for (const name of names) {
    const label = name === "device" ? "live input (device)" : name;
    list.append(el("li", {}, el("button", { type: "button", "aria-pressed": String(name === inputs.current),
      onclick: () => useInput(name) }, label)));
  }
}, 30);

async function useInput(name) {
  try {
    await post(`/api/inputs/${encodeURIComponent(name)}`);
    notify(`Input: ${name} (looped)`);
  } catch (error) {
    notify(`input ${name}: ${error.message}`, "error");
  }
  refreshInputs();
}

export function setupUpload() {
  $("upload").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("upload-file").files[0];
    const state = $("upload-state");
    if (!file) {
      state.textContent = "Choose a WAV or FLAC file first.";
      return;
    }
    const form = new FormData();
    form.append("file", file, file.name);
    state.textContent = `Uploading ${file.name}…`;
    try {
      const result = await post("/api/upload", form);
      state.textContent = `Uploaded ${result.name}`;
      await useInput(result.name);
    } catch (error) {
      state.textContent = `Upload failed: ${error.message}`;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// status bar and meters

const seen = { midi: null, osc: null };

function oscCount(osc) {
  if (!osc) return null;
  for (const key of ["messages", "received", "handled"]) if (typeof osc[key] === "number") return osc[key];
  const numbers = Object.values(osc).filter((v) => typeof v === "number");
  return numbers.length ? numbers.reduce((a, b) => a + b, 0) : null;
}

function counters(obj) {
  return Object.entries(obj || {}).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") || "none" : v}`).join("\n");
}

function flash(node, count, key) {
  if (count === null || count === undefined) return;
  if (seen[key] !== null && count !== seen[key]) {
    node.classList.remove("on");
    void node.offsetWidth;
    node.classList.add("on");
  }
  seen[key] = count;
}

export function showStatus(s) {
  app.status = s;
  const bar = $("statusbar");
  $("model-name").textContent = s.model ? `${s.model}${s.sample_rate ? ` · ${s.sample_rate / 1000} kHz` : ""}` : "";
  $("st-state").textContent = s.state ?? "–";
  $("st-state").dataset.state = s.state ?? "";
  const rtf = $("st-rtf");
  rtf.textContent = typeof s.rtf === "number" ? s.rtf.toFixed(2) : "–";
  rtf.parentElement.dataset.level = s.rtf > 1 ? "bad" : s.rtf > 0.8 ? "warn" : "";
  $("st-latency").textContent = typeof s.latency_ms === "number" ? `${s.latency_ms.toFixed(0)} ms` : "–";
  $("st-xruns").textContent = s.xruns ?? "–";
  $("st-xruns").parentElement.dataset.level = s.xruns > 0 ? "warn" : "";
  $("st-late").textContent = s.late_frames ?? "–";
  $("st-late").parentElement.dataset.level = s.late_frames > 0 ? "warn" : "";
  $("st-guard").textContent = s.guard_events ?? "–";
  $("st-guard").parentElement.dataset.level = s.guard_events > 0 ? "bad" : "";
  const midi = s.midi || {};
  const midiNode = $("st-midi");
  midiNode.querySelector("b").textContent = midi.messages ?? "–";
  midiNode.title = `MIDI\n${counters(midi)}`;
  midiNode.dataset.level = midi.errors > 0 ? "warn" : "";
  flash(midiNode, midi.messages, "midi");
  const oscNode = $("st-osc");
  const osc = oscCount(s.osc);
  oscNode.querySelector("b").textContent = osc ?? "–";
  oscNode.title = `OSC\n${counters(s.osc)}`;
  flash(oscNode, osc, "osc");
  for (const key of ["blocks", "rtf", "xruns", "guard_events", "late_frames"]) {
    bar.dataset[camel(key)] = String(s[key] ?? "");
  }
  bar.dataset.midiMessages = String(midi.messages ?? "");
  bar.dataset.updates = String(Number(bar.dataset.updates || 0) + 1);
}

const camel = (k) => k.replace(/_(\w)/g, (_m, c) => c.toUpperCase());

const FLOOR_DB = -60;
const peaks = { input: [], output: [] };

export function showMeters(message) {
  const box = $("meters");
  for (const side of ["input", "output"]) {
    const levels = message[`${side}_db`] || [];
    let group = box.querySelector(`[data-side="${side}"]`);
    if (!group || group.dataset.channels !== String(levels.length)) {
      group?.remove();
      group = el("div", { class: "meter-group", dataset: { side, channels: String(levels.length) } },
        el("span", { class: "map-label" }, side === "input" ? "in" : "out"),
        el("div", { class: "bars" }, levels.map((_v, i) => el("div", { class: "meter", role: "meter",
          "aria-label": `${side} level, channel ${i + 1}`, "aria-valuemin": FLOOR_DB, "aria-valuemax": 0 },
        el("i", { class: "fill" }), el("i", { class: "peak" })))),
        el("span", { class: "db mono" }, ""));
      if (side === "input") box.prepend(group); else box.append(group);
      peaks[side] = [];
    }
    const meters = group.querySelectorAll(".meter");
    levels.forEach((db, i) => {
      const v = Math.max(FLOOR_DB, Math.min(0, db));
      const frac = (v - FLOOR_DB) / -FLOOR_DB;
      const meter = meters[i];
      meter.setAttribute("aria-valuenow", v.toFixed(0));
      meter.firstChild.style.transform = `scaleY(${frac})`;
      meter.dataset.level = db > -3 ? "hot" : db > -12 ? "warm" : "";
      const now = performance.now();
      const peak = peaks[side][i];
      if (!peak || frac >= peak.frac || now - peak.t > 1500) peaks[side][i] = { frac, t: now };
      meter.lastChild.style.bottom = `${peaks[side][i].frac * 100}%`;
    });
    group.querySelector(".db").textContent = levels.length ? `${Math.max(...levels).toFixed(0)}` : "";
  }
}
