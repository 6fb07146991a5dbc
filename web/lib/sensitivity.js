// The sensitivity map in the layer list: a strip of six bars beside each tensor (what bending it
// changes: pitch, loudness, brightness, noise, timing, timbre), sorting and filtering the list by
// one of them, "surprise me", and the background measurement with its progress.

import { ApiError, getJSON, post } from "./api.js";
import { el } from "./controls.js";
import { choose } from "./layers.js";
import { $, app, notify } from "./store.js";

const DIMS = ["pitch", "loudness", "brightness", "noise", "timing", "timbre"];
const STRONG = 0.3; // a layer "changes" a dimension from this score on (summary.py's STRONG)
const sens = { on: false, state: "idle", scores: new Map(), summaries: new Map(), done: 0, total: 0 };

/** Fetch the map of the model playing (a server without maps hides the whole part) and build the
 * toolbar once; again after a model swap, for the new model's layers. */
export async function setupSensitivity() {
  let snap;
  try {
    snap = await getJSON("/api/sensitivity");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 409)) notify(`sensitivity: ${error.message}`, "error");
    return;
  }
  sens.on = true;
  if (!$("sensitivity")) $("filter").after(toolbar());
  take(snap);
}

function toolbar() {
  const order = el("select", { id: "sens-order", "aria-label": "Order the layers by what bending them changes" },
    el("option", { value: "" }, "model order"),
    DIMS.map((d) => el("option", { value: d }, `by ${d}`)));
  const strong = el("input", { type: "checkbox", id: "sens-strong" });
  order.addEventListener("change", arrange);
  strong.addEventListener("change", arrange);
  return el("div", { id: "sensitivity", class: "sensitivity", role: "group", "aria-label": "Sensitivity map" },
    el("div", { class: "row" },
      order,
      el("label", { class: "inline small", title: "show only the layers that change the chosen dimension clearly" },
        strong, " only these"),
      el("button", { type: "button", id: "sens-surprise", onclick: surprise,
        title: "pick a layer strong in the chosen dimension (any, in model order)" }, "Surprise me")),
    el("div", { class: "row sens-run" },
      el("progress", { id: "sens-progress", max: "1", value: "0", "aria-label": "sensitivity measured" }),
      el("span", { id: "sens-status", class: "small", role: "status", "aria-live": "polite" }),
      el("button", { type: "button", id: "sens-go", onclick: startOrStop }, "Measure")),
    el("div", { class: "sens-key small", "aria-hidden": "true" },
      DIMS.map((d) => el("span", { class: `k k-${d}` }, d))));
}

/** A whole snapshot (GET /api/sensitivity). */
function take(snap) {
  sens.scores.clear();
  sens.summaries.clear();
  for (const [name, entry] of Object.entries(snap.map?.tensors || {})) {
    sens.scores.set(name, entry.scores);
    sens.summaries.set(name, entry.summary);
  }
  sens.model = snap.model; // absent from a server with one model's map
  sens.state = snap.state;
  sens.done = snap.done;
  sens.total = snap.total;
  sens.measured = snap.map?.measured ?? sens.scores.size;
  sens.count = snap.map?.total ?? app.tensors.length;
  decorateRows();
  arrange();
  showProgress(snap.eta);
}

/** A progress message from the WebSocket: one more tensor, or the run's state. */
export function onSensitivity(message) {
  if (!sens.on) return;
  if (message.model && sens.model && message.model !== sens.model) return; // another model's run
  sens.state = message.state ?? sens.state;
  sens.done = message.done ?? sens.done;
  sens.total = message.total ?? sens.total;
  const t = message.tensor;
  if (t) {
    if (!sens.scores.has(t.name)) sens.measured = (sens.measured || 0) + 1;
    sens.scores.set(t.name, t.scores);
    sens.summaries.set(t.name, t.summary);
    decorateRow(app.tensors[t.index]);
    $("layer-list").classList.add("sensing");
    if ($("sens-order").value) arrange();
  }
  if (message.state === "error") notify(`sensitivity: ${message.error}`, "error");
  if (message.state && message.state !== "running") refresh(); // the settled map, from the server
  showProgress(message.eta);
}

const refresh = () => getJSON("/api/sensitivity").then(take).catch(() => {});

function showProgress(eta) {
  const running = sens.state === "running";
  const measured = sens.measured || 0;
  const count = sens.count || app.tensors.length;
  $("sens-progress").max = running && sens.total ? sens.total : Math.max(1, count);
  $("sens-progress").value = running && sens.total ? sens.done : measured;
  let text;
  if (running) {
    text = sens.total ? `measuring ${sens.done}/${sens.total}` : "measuring…";
    if (eta != null && sens.done) text += `, about ${Math.ceil(eta / 60)} min left`;
  } else if (measured >= count) {
    text = `${count} layers measured`;
  } else {
    text = measured ? `${measured} of ${count} layers measured` : "not measured yet (minutes, in the background)";
  }
  $("sens-status").textContent = text;
  $("sens-go").textContent = running ? "Stop" : measured >= count ? "Measure again" : measured ? "Go on" : "Measure";
  $("sens-go").hidden = !running && measured >= count;
  document.body.dataset.sensitivity = sens.state;
}

async function startOrStop() {
  try {
    if (sens.state === "running") {
      await post("/api/sensitivity/stop");
      sens.state = "stopped";
    } else {
      await post("/api/sensitivity/start");
      sens.state = "running";
    }
    showProgress(null);
  } catch (error) {
    notify(`sensitivity: ${error.message}`, "error");
  }
}

// ---------------------------------------------------------------------------------------------
// the strips

function decorateRows() {
  for (const t of app.tensors) decorateRow(t);
  $("layer-list").classList.toggle("sensing", sens.scores.size > 0);
}

function decorateRow(t) {
  const pick = t && document.querySelector(`#layer-list li.tensor[data-index="${t.index}"] > .pick`);
  if (!pick) return;
  pick.querySelector(".sens")?.remove();
  const scores = sens.scores.get(t.name);
  const strip = el("span", { class: "sens", role: "img" });
  if (scores) {
    for (const d of DIMS) {
      const bar = el("i", { class: `b-${d}` });
      bar.style.height = `${Math.round(Math.max(0.06, scores[d]) * 100)}%`;
      strip.append(bar);
    }
    const words = DIMS.map((d) => `${d} ${scores[d].toFixed(2)}`).join(", ");
    strip.setAttribute("aria-label", `${sens.summaries.get(t.name)} (${words})`);
    strip.title = `${sens.summaries.get(t.name)}\n${words}`;
    strip.dataset.summary = sens.summaries.get(t.name);
  } else {
    strip.classList.add("unmeasured");
    strip.setAttribute("aria-label", "not measured");
    strip.title = "not measured yet";
  }
  pick.querySelector(".badge").before(strip);
}

// ---------------------------------------------------------------------------------------------
// order, filter, surprise

/** Model order (the groups) or one flat list, strongest first; "only these" hides the rest. */
function arrange() {
  const dim = $("sens-order").value;
  const only = $("sens-strong").checked && dim;
  const list = $("layer-list");
  const rows = app.tensors.map((t) => document.querySelector(`#layer-list li.tensor[data-index="${t.index}"]`));
  let flat = $("group-sorted");
  if (dim) {
    if (!flat) {
      flat = el("ul", { id: "group-sorted", class: "tensors", role: "list" });
      list.prepend(el("section", { class: "group group-sorted" },
        el("h3", { id: "sorted-title", class: "sorted-title" }), flat));
    }
    $("sorted-title").textContent = `Strongest in ${dim} first`;
    const score = (t) => sens.scores.get(t.name)?.[dim] ?? -1;
    const ordered = [...app.tensors].sort((a, b) => score(b) - score(a) || a.index - b.index);
    for (const t of ordered) if (rows[t.index]) flat.append(rows[t.index]);
  } else if (flat) {
    for (const t of app.tensors) if (rows[t.index]) $(`group-${t.group}`)?.append(rows[t.index]);
    flat.closest("section").remove();
  }
  list.classList.toggle("sorted", Boolean(dim));
  for (const t of app.tensors) {
    const weak = only && !((sens.scores.get(t.name)?.[dim] ?? 0) >= STRONG);
    rows[t.index]?.classList.toggle("sens-out", Boolean(weak) && app.chosen !== t.index);
  }
}

/** Choose a tensor strong in the chosen dimension (any dimension in model order), by chance
 * weighted towards the strongest; says what it picked and why. */
function surprise() {
  const dim = $("sens-order").value || DIMS[Math.floor(Math.random() * 5)];
  const pool = app.tensors.filter((t) => (sens.scores.get(t.name)?.[dim] ?? 0) >= STRONG && t.index !== app.chosen);
  if (!pool.length) {
    notify(sens.scores.size ? `no layer changes ${dim} clearly${sens.measured < sens.count ? " (yet)" : ""}`
      : "measure the layers first (Measure, below the filter)");
    return;
  }
  const weights = pool.map((t) => sens.scores.get(t.name)[dim] ** 2);
  let r = Math.random() * weights.reduce((a, b) => a + b, 0);
  let pick = pool[pool.length - 1];
  for (let i = 0; i < pool.length; i++) {
    r -= weights[i];
    if (r <= 0) { pick = pool[i]; break; }
  }
  choose(pick.index, { fromUser: true });
  notify(`#${pick.index} ${pick.name}: ${sens.summaries.get(pick.name)} (${dim} ${sens.scores.get(pick.name)[dim].toFixed(2)})`);
}
