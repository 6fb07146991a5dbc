// Form controls bound to Rig addresses: every control carries data-address, sends through the
// page's `send(address, value)` and shows values that arrive from elsewhere (showValue).

let uid = 0;
const nextId = (stem) => `${stem}-${++uid}`;

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const noMinusZero = (text) => (/^-0(\.0+)?$/.test(text) ? text.slice(1) : text);

export const formats = {
  plain: (v) => noMinusZero(Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2)),
  percent: (v) => `${Math.round(v * 100)}%`,
  db: (v) => `${v > 0.049 ? "+" : ""}${noMinusZero(v.toFixed(1))} dB`,
  int: (v) => String(Math.round(v)),
};

/** A step that lands on round values (defaults like 1 or 0 stay exact): about 1/1000 of the span. */
export function niceStep(span) {
  if (!(span > 0)) return 0.001;
  return 10 ** Math.floor(Math.log10(span / 1000));
}

const KEY_STEPS = { ArrowRight: 0.01, ArrowUp: 0.01, ArrowLeft: -0.01, ArrowDown: -0.01, PageUp: 0.1, PageDown: -0.1 };

/**
 * A labelled range input for `address` over min..max. Dragging calls send (throttled by the
 * page), double-click returns to `def`. The numeric output follows the value.
 */
export function slider({ address, label, min, max, value, def, step, format = formats.plain, doc, send, wide }) {
  const id = nextId("s");
  const span = max - min;
  const input = el("input", {
    type: "range", id, min, max, step: step ?? niceStep(span),
    dataset: { address, default: def ?? "" }, title: doc,
  });
  input.value = value ?? def ?? min;
  const output = el("output", { for: id, class: "mono" });
  const show = () => {
    const text = format(Number(input.value));
    output.textContent = text;
    input.setAttribute("aria-valuetext", text);
  };
  input._show = show;
  input.addEventListener("input", () => {
    show();
    send(address, Number(input.value));
  });
  // keys: arrows 1% of the range (with Shift 0.1%), Page Up/Down 10%, Home/End the ends
  input.addEventListener("keydown", (event) => {
    const fraction = KEY_STEPS[event.key];
    if (fraction === undefined || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    const delta = fraction * span * (event.shiftKey && Math.abs(fraction) < 0.1 ? 0.1 : 1);
    const next = Math.min(max, Math.max(min, Number(input.value) + delta));
    input.value = next;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });
  input.addEventListener("dblclick", () => {
    if (def === undefined || def === null) return;
    input.value = def;
    show();
    send(address, Number(def));
  });
  show();
  return el("div", { class: `ctl slider${wide ? " wide" : ""}` },
    el("label", { for: id, title: doc }, label), input, output);
}

export function select({ address, label, options, value, send, doc, labels = {} }) {
  const id = nextId("m");
  const node = el("select", { id, dataset: { address }, title: doc },
    options.map((o) => el("option", { value: o, text: labels[o] ?? o })));
  node.value = value ?? options[0];
  node.addEventListener("change", () => send(address, node.value));
  return el("div", { class: "ctl choice" }, el("label", { for: id, title: doc }, label), node);
}

export function checkbox({ address, label, value, send, doc }) {
  const id = nextId("c");
  const node = el("input", { type: "checkbox", id, dataset: { address }, title: doc });
  node.checked = truthy(value);
  node.addEventListener("change", () => send(address, node.checked ? 1 : 0));
  return el("div", { class: "ctl check" }, node, el("label", { for: id, title: doc }, label));
}

export function numberBox({ address, label, value, min, max, send, doc, extra }) {
  const id = nextId("n");
  const node = el("input", { type: "number", id, min, max, step: 1, dataset: { address }, title: doc,
    inputmode: "numeric" });
  node.value = value ?? 0;
  node.addEventListener("change", () => send(address, Number(node.value)));
  return el("div", { class: "ctl number" }, el("label", { for: id, title: doc }, label), node, extra);
}

/** A text field for a file path (the blend transform's source): suggestions from a datalist,
 * sent as a string when it changes (Enter, or leaving the field). */
export function pathField({ address, label, value, send, doc, list }) {
  const id = nextId("p");
  const node = el("input", { type: "text", id, list, dataset: { address }, title: doc, autocomplete: "off",
    spellcheck: "false", placeholder: "a model file (.ts)" });
  node.value = value ?? "";
  node.addEventListener("change", () => send(address, node.value.trim()));
  return el("div", { class: "ctl path" }, el("label", { for: id, title: doc }, label), node);
}

export const truthy = (v) => v === true || v === "true" || Number(v) >= 0.5;

/** Show a value that arrived from elsewhere on every control for `address`. */
export function showValue(node, value) {
  if (node.type === "range") {
    node.value = value;
    node._show?.();
  } else if (node.type === "checkbox") {
    node.checked = truthy(value);
  } else if (node.tagName === "SELECT") {
    if (![...node.options].some((o) => o.value === String(value))) {
      node.append(el("option", { value: String(value), text: String(value) }));
    }
    node.value = String(value);
  } else if (node.hasAttribute("aria-pressed")) {
    node.setAttribute("aria-pressed", truthy(value) ? "true" : "false");
  } else if ("value" in node) {
    node.value = value;
  }
}
