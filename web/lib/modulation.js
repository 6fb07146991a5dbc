// The Modulation tab: the tempo with its source and a beat indicator, each modulator with its
// settings, a trace of its output and, per target, the knob's value against the heard one.
// Settings go through POST /api/set like any control; live values come from GET /api/modulation
// (Modulation.describe()), polled only while the tab is open.

import { getJSON } from "./api.js";
import { checkbox, el, formats, select, slider } from "./controls.js";
import { $, act, app, send } from "./store.js";

const KINDS = ["off", "sine", "triangle", "saw", "square", "sh", "smooth", "steps",
  "envelope", "loudness", "flux", "onset", "pitch"];
const BEATS = { 0.25: "1/16", 0.5: "1/8", 1: "1 beat", 2: "2 beats", 4: "1 bar", 8: "2 bars", 16: "4 bars", 32: "8 bars" };
const POLL_MS = 66; // about 15 Hz: enough to see an LFO move, light on the server
const TRACE = 90;

const view = { timer: null, shape: "", traces: new Map(), missing: false };

export function setupModulation() {
  const pane = $("pane-modulation");
  if (!pane) return;
  new MutationObserver(() => (pane.hidden ? stop() : start())).observe(pane, { attributes: true, attributeFilter: ["hidden"] });
  $("mod-add").addEventListener("click", addModulator);
  if (!pane.hidden) start();
}

function start() {
  if (view.timer === null) view.timer = setInterval(poll, POLL_MS);
  poll();
}

function stop() {
  clearInterval(view.timer);
  view.timer = null;
}

async function poll() {
  let data;
  try {
    data = await getJSON("/api/modulation");
  } catch (error) {
    if (!view.missing) {
      view.missing = true;
      $("mod-tempo").replaceChildren(el("p", { class: "small", text: error.status === 404
        ? "This show runs without modulation (the server has no /api/modulation)."
        : `Modulation: ${error.message}` }));
    }
    return;
  }
  view.missing = false;
  const shape = JSON.stringify(data.modulators.map((m) => [m.index, m.kind, m.sync, m.targets.map((t) => t.address)]))
    + JSON.stringify(data.tempo.source);
  if (shape !== view.shape) {
    view.shape = shape;
    render(data);
  }
  update(data);
}

function render(data) {
  const t = data.tempo;
  $("mod-tempo").replaceChildren(
    el("div", { class: "row tempo-row" },
      el("span", { class: "bpm mono", id: "mod-bpm", title: "tempo (BPM)" }),
      el("span", { class: "beats", id: "mod-beats", "aria-hidden": "true" },
        ...Array.from({ length: t.quantum || 4 }, () => el("i"))),
      select({ address: "tempo/source", label: "source", options: t.sources, value: t.source, send: act })),
    t.source === "midi" ? null
      : slider({ address: "tempo", label: "tempo", min: 20, max: 300, value: t.tempo, def: 120, step: 0.1, send }),
    el("p", { class: "small", id: "mod-tempo-note", role: "status", "aria-live": "polite" }));
  $("mod-list").replaceChildren(...data.modulators.map(modulatorBox));
  if (!data.modulators.length) {
    $("mod-list").append(el("p", { class: "small", text: "No modulators yet. Add one, then give it a target." }));
  }
}

function modulatorBox(m) {
  const p = `mod/${m.index}`;
  const rate = m.sync >= 0.5
    ? select({ address: `${p}/beats`, label: "every", options: Object.keys(BEATS), value: String(m.beats), send: act, labels: BEATS })
    : slider({ address: `${p}/rate`, label: "rate Hz", min: 0.01, max: 20, value: m.rate, def: 1, step: 0.01, send });
  const targets = m.targets.map((t) => el("div", { class: "mod-target", dataset: { slot: t.slot } },
    el("span", { class: "mono ellipsis", title: t.address, text: t.address }),
    el("span", { class: "meter-bar", title: "knob (line) and heard value (bar)" }, el("b"), el("i")),
    el("button", { type: "button", class: "small-button", text: "×", title: "remove this target",
      "aria-label": `remove target ${t.address}`, onclick: () => act(`${p}/target/${t.slot}`, "") }),
    slider({ address: `${p}/target/${t.slot}/depth`, label: "depth", min: -1, max: 1, value: t.depth, def: 0.5, send })));
  const free = [0, 1, 2, 3, 4, 5, 6, 7].find((k) => !m.targets.some((t) => t.slot === k));
  const input = el("input", { type: "text", list: "address-list", placeholder: "target address", spellcheck: "false" });
  const addTarget = el("form", { class: "row", onsubmit: (event) => {
    event.preventDefault();
    if (input.value && free !== undefined) act(`${p}/target/${free}`, input.value.trim());
  } }, input, el("button", { type: "submit", text: "Add", disabled: free === undefined }));
  return el("fieldset", { class: "slot mod", dataset: { index: m.index } },
    el("legend", {}, `mod ${m.index} `, el("output", { class: "mono", dataset: { role: "value" } })),
    el("canvas", { class: "trace", width: TRACE * 2, height: 36, "aria-label": `mod ${m.index} output over time` }),
    select({ address: `${p}/kind`, label: "kind", options: KINDS, value: m.kind, send: act }),
    checkbox({ address: `${p}/sync`, label: "sync to beat", value: m.sync, send: act }),
    rate,
    slider({ address: `${p}/depth`, label: "depth", min: 0, max: 1, value: m.depth, def: 1, format: formats.percent, send }),
    slider({ address: `${p}/offset`, label: "offset", min: -1, max: 1, value: m.offset, def: 0, send }),
    select({ address: `${p}/polarity`, label: "polarity", options: ["bipolar", "unipolar"], value: m.polarity, send: act }),
    el("div", { class: "mod-targets" }, ...targets),
    addTarget,
    el("button", { type: "button", class: "small-button", text: "Remove modulator", onclick: () => act(`${p}/reset`, 1) }));
}

function update(data) {
  const t = data.tempo;
  const bpm = $("mod-bpm");
  if (bpm) bpm.textContent = `${t.tempo.toFixed(1)} BPM${t.link_peers !== undefined ? ` · ${t.link_peers} peers` : ""}`;
  const dots = $("mod-beats")?.children ?? [];
  const inBar = Math.floor(((t.beat % (t.quantum || 4)) + (t.quantum || 4)) % (t.quantum || 4));
  [...dots].forEach((dot, i) => dot.classList.toggle("on", i === inBar));
  const note = $("mod-tempo-note");
  if (note) note.textContent = t.messages.at(-1) ?? "";
  for (const m of data.modulators) {
    const box = document.querySelector(`fieldset.mod[data-index="${m.index}"]`);
    if (!box) continue;
    box.querySelector('[data-role="value"]').textContent = formats.plain(m.value);
    const trace = view.traces.get(m.index) ?? [];
    trace.push(m.value);
    if (trace.length > TRACE) trace.shift();
    view.traces.set(m.index, trace);
    drawTrace(box.querySelector("canvas"), trace);
    for (const target of m.targets) {
      const row = box.querySelector(`.mod-target[data-slot="${target.slot}"] .meter-bar`);
      const range = rangeOf(target.address);
      if (!row || !range || typeof target.value !== "number") continue;
      const at = (v) => `${(100 * (v - range[0])) / (range[1] - range[0])}%`;
      row.querySelector("b").style.width = at(target.value);
      row.querySelector("i").style.left = at(target.knob ?? target.value);
    }
  }
}

/** min..max of a continuous address, from /api/addresses (kept by the page) where it can. */
function rangeOf(address) {
  const globals = app.addresses?.globals;
  if (globals?.[address]) return [globals[address].min, globals[address].max];
  if (address.startsWith("latent/")) return [-8, 8];
  if (/\/(amount|percent)$/.test(address)) return [0, 1];
  return [-10, 10]; // transform parameters: most span -10..10
}

function drawTrace(canvas, values) {
  const g = canvas.getContext("2d");
  const { width, height } = canvas;
  g.clearRect(0, 0, width, height);
  g.strokeStyle = "#2a303b";
  g.beginPath();
  g.moveTo(0, height / 2);
  g.lineTo(width, height / 2);
  g.stroke();
  g.strokeStyle = "#ffb02e";
  g.lineWidth = 2;
  g.beginPath();
  values.forEach((v, i) => {
    const x = (i / (TRACE - 1)) * width;
    const y = height / 2 - (v * (height - 4)) / 2;
    if (i === 0) g.moveTo(x, y);
    else g.lineTo(x, y);
  });
  g.stroke();
}

async function addModulator() {
  let data;
  try {
    data = await getJSON("/api/modulation");
  } catch {
    return;
  }
  const used = new Set(data.modulators.map((m) => m.index));
  const free = Array.from({ length: 16 }, (_, i) => i).find((i) => !used.has(i));
  if (free !== undefined) {
    await act(`mod/${free}/kind`, "sine");
    poll();
  }
}
