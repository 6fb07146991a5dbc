// The layer list (every tensor in model order, grouped), the chosen tensor's slot chain, and its
// heat map and histogram before and after the bend.

import { getJSON } from "./api.js";
import { el, slider, select, checkbox, numberBox, pathField, formats, showValue } from "./controls.js";
import { drawHeatmap, drawHistogram, drawMask, fmt } from "./draw.js";
import { $, app, act, send, sender, debounce } from "./store.js";

const GROUPS = {
  pqmf: ["PQMF", "A fixed filter bank: splits the sound into bands before the encoder and merges the decoder's " +
    "bands back into one signal."],
  encoder: ["Encoder", "Turns the sound into a few slowly moving latent numbers."],
  latent: ["Latent", "The model's compressed description of the sound: a few numbers per step, between encoder " +
    "and decoder."],
  decoder: ["Decoder", "Turns the latent numbers back into sound."],
  other: ["Other", "Tensors outside the encoder, decoder and filter bank."],
};
const ORDER = ["pqmf", "encoder", "latent", "decoder", "other"];
const SLOT_FIELDS = ["transform", "amount", "percent", "mode", "seed", "bypass"];
const MODE_WORDS = { random: "random values", spread: "evenly spread", channels: "whole channels" };

// ---------------------------------------------------------------------------------------------
// the list

function shortName(t) {
  const parts = t.name.split(".");
  while (parts.length > 2 && parts[0].toLowerCase() === t.group) parts.shift();
  // RAVE's residual blocks: net.3.aligned.branches.0.net.1.weight reads net.3 › 1.weight
  return parts.join(".").replace(/\.aligned\.branches\.(\d+)\.net\./g,
    (_m, b) => (b === "0" ? " › " : ` › ${b} › `));
}

const shapeText = (shape) => (shape && shape.length ? shape.join("×") : "scalar");

export function isBent(chain) {
  return (chain || []).some((s) => !s.bypass && s.transform !== "none" && s.amount > 0 && s.percent > 0);
}

export function renderLayerList() {
  const list = $("layer-list");
  list.replaceChildren();
  const groups = new Map(ORDER.map((g) => [g, []]));
  for (const t of app.tensors) (groups.get(t.group) || groups.get("other")).push(t);
  const latentSize = app.addresses?.latent?.size || 0;
  for (const group of ORDER) {
    const members = groups.get(group);
    if (group === "latent" ? !latentSize : !members.length) continue;
    const [title, about] = GROUPS[group];
    const listId = `group-${group}`;
    const toggle = el("button", { type: "button", class: "group-toggle", "aria-expanded": "true",
      "aria-controls": listId },
    el("span", { class: "caret", "aria-hidden": "true" }), title,
    el("span", { class: "count" }, group === "latent" ? `${latentSize} dims` : `${members.length}`));
    const ul = el("ul", { id: listId, class: "tensors", role: "list" });
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      ul.hidden = !open;
    });
    if (group === "latent") {
      ul.append(row({ index: "latent", label: "latent bends", kind: "latent", shape: [latentSize],
        title: `${latentSize} latent dimensions: offset and scale each` }));
    } else {
      for (const t of members) {
        ul.append(row({ index: t.index, label: shortName(t), kind: t.kind, shape: t.shape,
          title: t.about ? `${t.name}\n${t.about}` : t.name,
          search: `${t.name} ${t.kind} ${t.role || ""}`.toLowerCase() }));
      }
    }
    list.append(el("section", { class: `group group-${group}`, dataset: { group } },
      el("h3", {}, toggle), el("p", { class: "group-about" }, about), ul));
  }
  updateBadges();
}

function row({ index, label, kind, shape, title, search }) {
  const pick = el("button", { type: "button", class: "pick", title, "aria-expanded": "false",
    dataset: { index: String(index) } },
  el("span", { class: "idx mono" }, index === "latent" ? "z" : `#${index}`),
  el("span", { class: "name" }, label),
  el("span", { class: "kind" }, kind),
  el("span", { class: "shape mono" }, shapeText(shape)),
  el("i", { class: "badge", "aria-hidden": "true" }));
  pick.addEventListener("click", () => choose(index, { fromUser: true }));
  pick.addEventListener("keydown", listKeys);
  return el("li", { class: "tensor", dataset: { index: String(index), search: search || "latent" } }, pick);
}

function listKeys(event) {
  if (!["ArrowDown", "ArrowUp", "Home", "End"].includes(event.key)) return;
  const picks = [...document.querySelectorAll("#layer-list .pick")].filter((p) => p.offsetParent !== null);
  const at = picks.indexOf(event.currentTarget);
  let next = at;
  if (event.key === "ArrowDown") next = Math.min(picks.length - 1, at + 1);
  if (event.key === "ArrowUp") next = Math.max(0, at - 1);
  if (event.key === "Home") next = 0;
  if (event.key === "End") next = picks.length - 1;
  picks[next]?.focus();
  event.preventDefault();
}

export function filterList(text) {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  for (const li of document.querySelectorAll("#layer-list li.tensor")) {
    li.hidden = !words.every((w) => li.dataset.search.includes(w)) && li.dataset.index !== String(app.chosen);
  }
}

export function updateBadges() {
  const tensors = app.state?.tensors || {};
  for (const t of app.tensors) {
    const li = document.querySelector(`#layer-list li[data-index="${t.index}"]`);
    if (!li) continue;
    const chain = tensors[t.name];
    li.classList.toggle("bent", isBent(chain));
    li.querySelector(".badge").textContent = chain && chain.length ? String(chain.length) : "";
  }
  const latent = app.state?.latent;
  const latentLi = document.querySelector('#layer-list li[data-index="latent"]');
  if (latent && latentLi) {
    latentLi.classList.toggle("bent", latent.offset.some((v) => v !== 0) || latent.scale.some((v) => v !== 1));
  }
}

/** Light a tensor's row briefly: something (a knob, a scene, a live coder) just moved it. */
export function flashRow(index) {
  const li = document.querySelector(`#layer-list li[data-index="${index}"]`);
  if (!li) return;
  li.classList.remove("touched");
  void li.offsetWidth;
  li.classList.add("touched");
}

// ---------------------------------------------------------------------------------------------
// the chosen tensor

export function choose(index, { fromUser = false } = {}) {
  if (index !== "latent") index = Number(index);
  const same = app.chosen === index;
  app.chosen = index;
  for (const pick of document.querySelectorAll("#layer-list .pick")) {
    const on = pick.dataset.index === String(index);
    pick.setAttribute("aria-expanded", String(on));
    if (on) pick.setAttribute("aria-controls", "editor"); else pick.removeAttribute("aria-controls");
    pick.closest("li").classList.toggle("chosen", on);
    if (on) pick.setAttribute("aria-current", "true"); else pick.removeAttribute("aria-current");
  }
  renderEditor();
  if (!same) {
    lastHeat = null;
    scheduleHeat(0);
  }
  if (fromUser && index !== "latent" && $("follow").checked && app.state && app.state.selected !== index) {
    sender.set("select/tensor", index); // throttled: quick [ ] presses end on the last one
  }
  if (!same) revealRow(document.querySelector(`#layer-list li[data-index="${index}"]`), fromUser);
  updateAddressList();
}

/** Scroll the layer panel (only it, never the page) so the chosen row and its controls show. */
function revealRow(li, nearest) {
  const panel = li?.closest(".layers");
  if (!panel || panel.scrollHeight <= panel.clientHeight) return;
  const top = li.getBoundingClientRect().top - panel.getBoundingClientRect().top + panel.scrollTop;
  if (nearest) {
    const bottom = top + li.offsetHeight;
    if (top < panel.scrollTop) panel.scrollTop = top - 8;
    else if (bottom > panel.scrollTop + panel.clientHeight) {
      panel.scrollTop = Math.min(top - 8, bottom - panel.clientHeight + 8);
    }
  } else {
    panel.scrollTop = top - 8;
  }
}

/** Rebuild the chosen tensor's controls (keeping keyboard focus on the same address). */
export function renderEditor() {
  const focused = document.activeElement?.dataset?.address;
  document.getElementById("editor")?.remove();
  const li = document.querySelector(`#layer-list li[data-index="${app.chosen}"]`);
  const info = app.chosen === "latent" ? null : app.tensors[app.chosen];
  $("inspector").dataset.kind = app.chosen === "latent" ? "latent" : "tensor";
  if (app.chosen === "latent") {
    $("inspector-title").textContent = "Latent";
    $("inspector-name").textContent = `${app.addresses.latent.size} dimensions`;
    $("inspector-about").textContent = GROUPS.latent[1] +
      " Offsets push each dimension, scales stretch it; the decoder hears the result.";
  } else if (info) {
    $("inspector-title").textContent = `Tensor #${info.index}`;
    $("inspector-name").textContent = info.name;
    $("inspector-about").textContent = info.about || "";
  }
  if (!li || (!info && app.chosen !== "latent")) return;
  const editor = el("div", { id: "editor", class: "editor", role: "group",
    "aria-label": info ? `Bend of ${info.name}` : "Latent bends" });
  if (info) buildTensorEditor(editor, info); else buildLatentEditor(editor);
  li.append(editor);
  if (focused) editor.querySelector(`[data-address="${CSS.escape(focused)}"]`)?.focus();
}

function buildTensorEditor(editor, info) {
  editor.append(
    el("p", { class: "about" }, info.about || ""),
    el("p", { class: "meta mono" }, `${info.kind}${info.role ? ` ${info.role}` : ""} · ${shapeText(info.shape)} · ` +
      `${info.size.toLocaleString()} values`));
  const chain = app.state?.tensors?.[info.name] || [];
  const slots = chain.length ? chain : [null];
  const ol = el("ol", { class: "chain", "aria-label": "Slot chain, applied in order" });
  slots.forEach((slot, i) => ol.append(buildSlot(info, i, slot)));
  editor.append(ol);
  const max = app.addresses?.max_slots ?? 8;
  editor.append(el("div", { class: "row" },
    el("button", { type: "button", disabled: chain.length >= max || !chain.length,
      title: "add a slot at the end of the chain",
      onclick: () => act(`${info.name}/${chain.length}/transform`, "none") }, "+ slot"),
    el("button", { type: "button", class: "warn", disabled: !chain.length,
      title: "this tensor back to its original values", dataset: { address: `${info.name}/reset` },
      onclick: () => act(`${info.name}/reset`, 1) }, "Reset tensor")));
}

function buildSlot(info, i, slot) {
  const base = `${info.name}/${i}`;
  const transforms = app.addresses.slot_fields.transform;
  const described = app.addresses.transforms;
  const t = slot ? slot.transform : "none";
  const desc = described[t] || { params: [], doc: "" };
  const values = slot || { amount: 1, percent: 1, mode: "random", seed: 0, bypass: false, params: {} };
  const fs = el("fieldset", { class: "slot", dataset: { slot: String(i) } },
    el("legend", {}, `Slot ${i + 1}`, slot && slot.bypass ? " (bypassed)" : ""));
  fs.append(select({ address: `${base}/transform`, label: "transform", options: transforms, value: t, send,
    doc: "what this slot does to the values" }));
  fs.append(el("p", { class: "doc" }, desc.doc || desc.description || ""));
  if (!slot) {
    fs.append(el("p", { class: "hint" }, "Pick a transform to bend this tensor."));
    return el("li", {}, fs);
  }
  const f = app.addresses.slot_fields;
  fs.append(slider({ address: `${base}/amount`, label: "amount", min: f.amount.min, max: f.amount.max, def: 1,
    value: values.amount, send, doc: "dry/wet in weight space: 0 the slot's input, 1 fully transformed" }));
  fs.append(slider({ address: `${base}/percent`, label: "percent", min: f.percent.min, max: f.percent.max, def: 1,
    value: values.percent, send, format: formats.percent,
    doc: "share of the values affected (raising it only adds values)" }));
  const params = el("div", { class: "params" });
  for (const p of desc.params || []) {
    const current = slot.params?.[t]?.[p.name] ?? p.default;
    const address = `${base}/${p.name}`;
    if (p.choices) {
      params.append(select({ address, label: p.name, options: p.choices, value: current, send, doc: p.doc }));
    } else if (p.kind === "path" || typeof p.min !== "number" || typeof p.max !== "number") {
      // a file (blend's source model), never a number: text, with the server's model files offered
      params.append(pathField({ address, label: p.name, value: current, send, list: "model-files",
        doc: `${p.doc || p.name}: a path, or pick one of the models` }));
    } else {
      params.append(slider({ address, label: p.name, min: p.min, max: p.max, def: p.default, value: current, send,
        doc: `${p.doc || p.name} (${fmt(p.min)}..${fmt(p.max)}, default ${fmt(p.default)})` }));
    }
  }
  if (params.childElementCount) fs.append(params);
  const row = el("div", { class: "row tight" });
  row.append(select({ address: `${base}/mode`, label: "mask", options: f.mode, value: values.mode, send,
    labels: MODE_WORDS, doc: "which values the percentage picks" }));
  const dice = el("button", { type: "button", class: "icon", title: "a new random seed",
    "aria-label": `new seed for slot ${i + 1}`,
    onclick: () => act(`${base}/seed`, Math.floor(Math.random() * 100000)) }, "⚄");
  row.append(numberBox({ address: `${base}/seed`, label: "seed", value: values.seed, min: f.seed.min,
    max: f.seed.max, send, doc: "the mask and noise drawn (same seed, same bend)", extra: dice }));
  row.append(checkbox({ address: `${base}/bypass`, label: "bypass", value: values.bypass, send,
    doc: "skip this slot" }));
  fs.append(row);
  return el("li", {}, fs);
}

function buildLatentEditor(editor) {
  const latent = app.state?.latent || { offset: [], scale: [] };
  const size = app.addresses.latent.size;
  const labels = app.addresses.latent.labels || [];
  const bound = app.addresses.latent;  // the rig's ranges, written once (rig/values.py)
  const grid = el("div", { class: "latent-grid" });
  for (let i = 0; i < size; i++) {
    const label = labels[i] && labels[i] !== `latent ${i}` ? labels[i] : "";
    grid.append(el("div", { class: "latent-dim" },
      el("span", { class: "dim mono", title: label || `latent dimension ${i}` }, label ? `z${i} ${label}` : `z${i}`),
      slider({ address: `latent/${i}/offset`, label: "offset", min: bound.offset.min, max: bound.offset.max, def: 0,
        value: latent.offset[i] ?? 0, send, doc: `push latent dimension ${i} (${bound.offset.min}..${bound.offset.max})` }),
      slider({ address: `latent/${i}/scale`, label: "scale", min: bound.scale.min, max: bound.scale.max, def: 1,
        value: latent.scale[i] ?? 1, send, doc: `stretch latent dimension ${i} (${bound.scale.min}..${bound.scale.max}, 1 = as is)` })));
  }
  editor.append(el("p", { class: "hint" }, "Double-click a slider to return it to its default."), grid,
    el("div", { class: "row" }, el("button", { type: "button", class: "warn", onclick: resetLatent }, "Reset latent")));
}

async function resetLatent() {
  const size = app.addresses.latent.size;
  for (let i = 0; i < size; i++) {
    if (app.state.latent.offset[i] !== 0) await act(`latent/${i}/offset`, 0);
    if (app.state.latent.scale[i] !== 1) await act(`latent/${i}/scale`, 1);
  }
}

/** The learn field's suggestions: the chosen tensor's addresses, the latent, the globals. */
export function updateAddressList() {
  const list = $("address-list");
  if (!list || !app.addresses) return;
  const out = [...Object.keys(app.addresses.globals), "scene/morph", "select/next", "select/prev"];
  const info = typeof app.chosen === "number" ? app.tensors[app.chosen] : null;
  if (info) {
    const chain = app.state?.tensors?.[info.name] || [];
    chain.forEach((slot, i) => {
      for (const f of ["amount", "percent", "bypass", "seed"]) out.push(`${info.name}/${i}/${f}`);
      for (const p of app.addresses.transforms[slot.transform]?.params || []) out.push(`${info.name}/${i}/${p.name}`);
    });
    if (!chain.length) out.push(`${info.name}/0/amount`, `${info.name}/0/percent`);
  }
  for (let i = 0; i < (app.addresses.latent.size || 0); i++) out.push(`latent/${i}/offset`, `latent/${i}/scale`);
  out.push("selected/0/amount", "selected/0/percent");
  list.replaceChildren(...out.map((a) => el("option", { value: a })));
}

// ---------------------------------------------------------------------------------------------
// applying changes from anywhere

/**
 * A change to a tensor slot (address `<name>/<slot>/<field>`) or `<name>/reset`; returns false
 * when the address is not a tensor's. Structural changes rebuild the editor.
 */
export function applyTensorChange(address, value, { local = false } = {}) {
  const parts = address.split("/");
  const info = app.byName.get(parts[0]);
  if (!info || !app.state) return false;
  const tensors = app.state.tensors;
  if (parts.length === 2 && parts[1] === "reset") {
    delete tensors[info.name];
    afterTensorChange(info, true);
    return true;
  }
  if (parts.length !== 3) return false;
  const slotIndex = Number(parts[1]);
  const field = parts[2];
  const chain = tensors[info.name] || [];
  if (slotIndex >= chain.length) {
    resyncSoon(); // the rig created this slot (and placeholders): fetch the chain as it is
    return true;
  }
  const slot = chain[slotIndex];
  let structural = false;
  if (SLOT_FIELDS.includes(field)) {
    const stored = field === "bypass" ? value === true || Number(value) >= 0.5 : value;
    structural = (field === "transform" || field === "bypass") && slot[field] !== stored;
    slot[field] = stored;
  } else {
    slot.params ||= {};
    (slot.params[slot.transform] ||= {})[field] = value;
  }
  if (!structural && app.chosen === info.index && !sender.busy(address)) {
    for (const node of document.querySelectorAll(`#editor [data-address="${CSS.escape(address)}"]`)) {
      showValue(node, value);
    }
  }
  afterTensorChange(info, structural);
  return true;
}

function afterTensorChange(info, structural) {
  updateBadges();
  if (app.chosen === info.index) {
    if (structural) renderEditor();
    scheduleHeat();
  }
}

let resyncHook = () => {};
export function onResyncSoon(fn) { resyncHook = fn; }
const resyncSoon = debounce(() => resyncHook(), 60);

// ---------------------------------------------------------------------------------------------
// heat map and histogram

let lastHeat = null;
let heatVersion = 0;
let heatTimers = [];
let heatBusy = false;
let heatAgain = false;

let heatNext = null;
let heatLast = -Infinity;
const HEAT_EVERY_MS = 150;

/**
 * Fetch the chosen tensor's heat map soon (at most every 150 ms while a knob moves) and again
 * 0.4 s and 1.2 s after the last change, when the bend worker has installed it.
 */
export function scheduleHeat(first = 60) {
  heatTimers.forEach(clearTimeout);
  heatTimers = [first + 350, first + 1200].map((ms) => setTimeout(fetchHeat, ms));
  if (heatNext !== null) return;
  const wait = Math.max(first, heatLast + HEAT_EVERY_MS - performance.now());
  heatNext = setTimeout(() => {
    heatNext = null;
    fetchHeat();
  }, wait);
}

async function fetchHeat() {
  if (typeof app.chosen !== "number") return;
  if (heatBusy) {
    heatAgain = true;
    return;
  }
  heatBusy = true;
  heatLast = performance.now();
  const index = app.chosen;
  try {
    const data = await getJSON(`/api/tensors/${index}/heatmap`);
    if (index === app.chosen) showHeat(index, data);
  } catch (error) {
    $("heat-readout").textContent = `heat map unavailable: ${error.message}`;
  } finally {
    heatBusy = false;
    if (heatAgain) {
      heatAgain = false;
      fetchHeat();
    }
  }
}

function signature(data) {
  let sum = 0;
  let weighted = 0;
  for (const [r, line] of (data.after || []).entries()) {
    for (const [c, v] of line.entries()) {
      sum += v;
      weighted += v * ((r * 31 + c * 7) % 13);
    }
  }
  let masked = 0;
  for (const line of data.mask || []) for (const v of line) masked += v;
  return `${sum.toPrecision(6)}:${weighted.toPrecision(6)}:${masked.toPrecision(6)}`;
}

function showHeat(index, data) {
  const sig = signature(data);
  const figure = $("heatmap");
  if (lastHeat && lastHeat.index === index && lastHeat.sig === sig) return;
  lastHeat = { index, sig, data };
  heatVersion += 1;
  drawHeat();
  const changed = data.changed ?? meanOf(data.mask);
  figure.dataset.version = String(heatVersion);
  figure.dataset.index = String(index);
  figure.dataset.signature = sig;
  figure.dataset.changed = String(changed);
  $("hist-readout").textContent = `bent: ${(changed * 100).toFixed(changed > 0 && changed < 0.01 ? 2 : 0)}% of values`;
  $("heat-readout").textContent = `${data.rows}×${data.cols} cells`;
}

function meanOf(grid) {
  let sum = 0;
  let n = 0;
  for (const line of grid || []) for (const v of line) { sum += v; n += 1; }
  return n ? sum / n : 0;
}

/** Redraw the last heat map (after a resize or the mask toggle). */
export function drawHeat() {
  if (!lastHeat || typeof app.chosen !== "number") return;
  const { data } = lastHeat;
  let scale = 0;
  for (const line of data.before) for (const v of line) scale = Math.max(scale, Math.abs(v));
  drawHeatmap($("heat-before"), data.before, scale);
  drawHeatmap($("heat-after"), data.after, scale);
  drawMask($("heat-mask"), data.mask);
  drawHistogram($("histogram"), data.histogram);
}

/** Under the pointer: which cell, its values before and after, and how much of it is bent. */
export function heatHover(event) {
  if (!lastHeat) return;
  const { data, index } = lastHeat;
  const canvas = event.currentTarget;
  const box = canvas.getBoundingClientRect();
  const r = Math.min(data.rows - 1, Math.floor(((event.clientY - box.top) / box.height) * data.rows));
  const c = Math.min(data.cols - 1, Math.floor(((event.clientX - box.left) / box.width) * data.cols));
  if (r < 0 || c < 0) return;
  const info = app.tensors[index];
  const first = info.shape[0] || 1;
  const lo = Math.floor((r * first) / data.rows);
  const hi = Math.max(lo, Math.ceil(((r + 1) * first) / data.rows) - 1);
  const rowsText = lo === hi ? `channel ${lo}` : `channels ${lo}–${hi}`;
  $("heat-readout").textContent = `${rowsText}, column ${c}: ${fmt(data.before[r][c])} → ${fmt(data.after[r][c])}` +
    ` (bent ${Math.round((data.mask?.[r]?.[c] ?? 0) * 100)}%)`;
}
