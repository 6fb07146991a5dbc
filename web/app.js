// Performer dashboard: boot, the live socket, and where each change from the server goes.

import { getJSON, LiveSocket } from "./lib/api.js";
import { Spectrogram } from "./lib/draw.js";
import {
  applyTensorChange, choose, drawHeat, filterList, flashRow, heatHover, onResyncSoon, renderEditor,
  renderLayerList, scheduleHeat, updateAddressList, updateBadges,
} from "./lib/layers.js";
import {
  learnResult, refreshInputs, refreshMappings, refreshScenes, renderGlobals, resolveAddress, setupLearn,
  setupScenes, setupUpload, showGlobal, showGlobals, showMappedValue, showMeters, showScenePick, showStatus,
  touched,
} from "./lib/panels.js";
import { setupModulation } from "./lib/modulation.js";
import { catchUp as catchUpModels, onModelChange, onModelLoad, setupModels, showCrossfade } from "./lib/models.js";
import { onSensitivity, setupSensitivity } from "./lib/sensitivity.js";
import { $, app, act, debounce, notify, onResync, onSent, sender } from "./lib/store.js";

const spectra = { input: null, output: null };

async function boot() {
  let status, addresses, tensors, state;
  try {
    [status, addresses, tensors, state] = await Promise.all([
      getJSON("/api/status"), getJSON("/api/addresses"), getJSON("/api/tensors"), getJSON("/api/state")]);
  } catch (error) {
    const auth = error.status === 401 || error.status === 403;
    notify(auth ? "This dashboard needs its token: open the address `performer serve` printed (…?token=…)."
      : `Cannot reach the server: ${error.message}`, "error");
    document.body.dataset.ws = "error";
    setTimeout(boot, 3000);
    return;
  }
  await showModel(status, addresses, tensors, state);
  await setupModels(reloadModel);
  setupScenes(resync);
  setupLearn();
  setupUpload();
  refreshScenes();
  refreshMappings();
  refreshInputs();
  setupModulation();
  spectra.input = new Spectrogram($("spec-in"));
  spectra.output = new Spectrogram($("spec-out"));
  requestAnimationFrame(frame);
  new LiveSocket(onMessage, onSocketState).start();
  document.body.dataset.ready = "true";
}

/** Build everything that belongs to the model playing: the layer list, its map, the latent, the editor. */
async function showModel(status, addresses, tensors, state) {
  app.addresses = addresses;
  app.tensors = tensors;
  app.byName = new Map(tensors.map((t) => [t.name, t]));
  app.state = state;
  showStatus(status);
  renderLayerList();
  await setupSensitivity();
  filterList($("filter").value);
  renderGlobals();
  app.chosen = null; // the same index in another model is another tensor: choose it afresh
  choose(tensors.length ? state.selected ?? 0 : "latent");
  document.body.dataset.model = status.model ?? "";
}

/** A swap ended (model/load): the page again, for the model now playing. */
async function reloadModel() {
  try {
    const [status, addresses, tensors, state] = await Promise.all([
      getJSON("/api/status"), getJSON("/api/addresses"), getJSON("/api/tensors"), getJSON("/api/state")]);
    await showModel(status, addresses, tensors, state);
  } catch (error) {
    notify(`the new model's layers: ${error.message}`, "error");
    return;
  }
  updateAddressList();
  refreshMappings();
}

function frame() {
  requestAnimationFrame(frame);
  try {
    spectra.input.draw();
    spectra.output.draw();
  } catch (error) {
    console.error("spectrogram", error);
  }
}

/** Everything from the server again (after a reconnect, a whole-state load, an error). */
async function resync() {
  try {
    app.state = await getJSON("/api/state");
  } catch (error) {
    notify(`state: ${error.message}`, "error");
    return;
  }
  showGlobals();
  updateBadges();
  renderEditor();
  updateAddressList();
  scheduleHeat();
  if ($("follow").checked && app.state.selected !== app.chosen && typeof app.chosen === "number") {
    choose(app.state.selected);
  }
}
const resyncSoon = debounce(resync, 50);
onResync(resyncSoon);
onResyncSoon(resyncSoon);
onSent((address, value) => applyChange(address, value, "web", true));

function onSocketState(state, delay) {
  const conn = $("conn");
  document.body.dataset.ws = state;
  if (state === "open") {
    conn.lastChild.textContent = "live";
    resync();
    catchUpModels(); // a swap while the page was away rebuilds it
    refreshScenes();
    refreshMappings();
    refreshInputs();
  } else {
    conn.lastChild.textContent = `reconnecting in ${(delay / 1000).toFixed(1)} s`;
  }
}

function onMessage(message) {
  switch (message.type) {
    case "change":
      applyChange(message.address, message.value, message.source, false);
      break;
    case "status":
      showStatus(message);
      break;
    case "meters":  // one frame per model block: levels, and the spectra for the spectrograms
      showMeters(message);
      spectra.input?.push(message.spectrum?.input || []);
      spectra.output?.push(message.spectrum?.output || []);
      break;
    case "learn":
      learnResult(message);
      break;
    case "sensitivity":  // the background measurement: one more tensor, or its state
      onSensitivity(message);
      break;
    default:
      break;
  }
}

/** A change from anywhere (this page's own sets too, `local`): the state, controls, list, ticker. */
function applyChange(address, value, source, local) {
  if (!app.state || typeof address !== "string") return;
  if (!local) {
    $("last-change").textContent = `${address} = ${typeof value === "number" ? +value.toFixed(4) : value}` +
      (source ? ` · ${source}` : "");
  }
  showMappedValue(address, value);
  if (address === "model") { // a swap ended: another model plays, every address means it now
    onModelChange();
    return;
  }
  if (address === "model/load") {
    if (!local) onModelLoad(value);
    return;
  }
  if (address === "model/crossfade") {
    showCrossfade(value);
    return;
  }
  const globals = app.state.globals;
  if (address in globals) {
    globals[address] = value;
    showGlobal(address, value, sender.busy(address));
    return;
  }
  const latent = /^latent\/(\d+)\/(offset|scale)$/.exec(address);
  if (latent) {
    app.state.latent[latent[2]][Number(latent[1])] = value;
    if (!sender.busy(address)) showGlobal(address, value);
    updateBadges();
    if (!local) flashRow("latent");
    return;
  }
  if (address === "select/tensor") {
    app.state.selected = Number(value);
    if ($("follow").checked && app.chosen !== Number(value) && !sender.busy(address)) choose(Number(value));
    refreshMappings();
    return;
  }
  if (address === "state" || address === "bends/reset" || address === "undo" || address === "redo" ||
      address === "panic") {
    resyncSoon();
    if (address !== "bends/reset") refreshScenes();
    return;
  }
  if (address === "scene/a" || address === "scene/b") {
    showScenePick(address.slice(-1), value);
    return;
  }
  if (address === "scene/morph") {
    if (!sender.busy(address)) showGlobal(address, value);
    return;
  }
  if (address.startsWith("scene/") || address.startsWith("setlist/")) {
    refreshScenes();
    return;
  }
  if (applyTensorChange(address, value, { local })) {
    const name = address.split("/")[0];
    if (!local) flashRow(app.byName.get(name)?.index);
  }
}

// ---------------------------------------------------------------------------------------------
// page wiring: A/B, filter, tabs, keys, resize, learn-follows-touch

function setupPage() {
  $("ab").addEventListener("click", toggleAB);
  $("filter").addEventListener("input", (event) => filterList(event.target.value));
  for (const id of ["heat-before", "heat-after", "heat-mask"]) $(id).addEventListener("mousemove", heatHover);
  $("follow").addEventListener("change", (event) => {
    if (event.target.checked && app.state) {
      if (typeof app.chosen === "number" && app.chosen !== app.state.selected) act("select/tensor", app.chosen);
    }
  });

  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const showTab = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => showTab(tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(i + step + tabs.length) % tabs.length];
      showTab(next);
      next.focus();
      event.preventDefault();
    });
  });

  // the learn field follows the last control touched
  const follow = (event) => {
    const address = event.target?.dataset?.address;
    if (address) touched(resolveAddress(address));
  };
  document.addEventListener("input", follow, true);
  document.addEventListener("change", follow, true);
  document.addEventListener("focusin", follow, true);

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target.closest?.("input:not([type=range]):not([type=checkbox]), select, textarea");
    if (typing) return;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && event.key.toLowerCase() === "z") {
      act(event.shiftKey ? "redo" : "undo", 1).then(resync);
      event.preventDefault();
    } else if (mod && event.key.toLowerCase() === "y") {
      act("redo", 1).then(resync);
      event.preventDefault();
    } else if (mod || event.altKey) {
      return;
    } else if (event.key === "b") {
      toggleAB();
    } else if (event.key === "[" || event.key === "]") {
      if (!app.tensors.length) return;
      const at = typeof app.chosen === "number" ? app.chosen : 0;
      const next = (at + (event.key === "]" ? 1 : -1) + app.tensors.length) % app.tensors.length;
      choose(next, { fromUser: true });
    }
  });

  const headerHeight = () => document.documentElement.style.setProperty("--header-h",
    `${document.querySelector(".top").offsetHeight}px`);
  headerHeight();
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      headerHeight();
      drawHeat();
    }, 100);
  });
}

function toggleAB() {
  const on = $("ab").getAttribute("aria-pressed") === "true";
  $("ab").setAttribute("aria-pressed", String(!on));
  act("bypass", on ? 0 : 1);
}

setupPage();
boot();
