// Canvas drawing: heat maps (diverging colours, bent cells tinted), histograms, scrolling
// spectrograms. Everything is sized to the canvas's CSS box times the device pixel ratio.

const BG = [17, 19, 24];

/** Size a canvas's backing store to its CSS box; returns true when it changed (content lost). */
export function fitCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const h = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
    return true;
  }
  return false;
}

/** Diverging colour for t in [-1, 1]: blue below zero, amber above, dark at zero. */
export function diverging(t) {
  const m = Math.min(1, Math.sqrt(Math.abs(t)));
  const end = t < 0 ? [70, 170, 255] : [255, 176, 46];
  return [BG[0] + (end[0] - BG[0]) * m, BG[1] + (end[1] - BG[1]) * m, BG[2] + (end[2] - BG[2]) * m];
}

const INFERNO = [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21],
  [250, 193, 39], [252, 255, 164]];
const LUT = (() => {
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * (INFERNO.length - 1);
    const k = Math.min(INFERNO.length - 2, Math.floor(x));
    const f = x - k;
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = INFERNO[k][c] + (INFERNO[k + 1][c] - INFERNO[k][c]) * f;
  }
  return lut;
})();

/**
 * A rows x cols grid onto a canvas, one cell per block of pixels (no smoothing). `scale` maps
 * values to colour (|v| >= scale saturates).
 */
export function drawHeatmap(canvas, grid, scale) {
  drawCells(canvas, grid, (v) => (Number.isFinite(v) ? diverging(scale > 0 ? Math.max(-1, Math.min(1, v / scale)) : 0)
    : [255, 0, 0]));
}

/** The mask: the share of bent values per cell, dark (none) to magenta (all). */
export function drawMask(canvas, grid) {
  drawCells(canvas, grid || [], (m) => {
    const a = m > 0 ? 0.25 + 0.75 * Math.min(1, m) : 0;
    return [BG[0] + (236 - BG[0]) * a, BG[1] + (64 - BG[1]) * a, BG[2] + (200 - BG[2]) * a];
  });
}

function drawCells(canvas, grid, colour) {
  fitCanvas(canvas);
  const ctx = canvas.getContext("2d");
  const rows = grid.length;
  const cols = rows ? grid[0].length : 0;
  ctx.fillStyle = `rgb(${BG})`;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!rows || !cols) return;
  const cells = new ImageData(cols, rows);
  const d = cells.data;
  for (let r = 0; r < rows; r++) {
    const line = grid[r];
    for (let c = 0; c < cols; c++) {
      const rgb = colour(line[c]);
      const i = (r * cols + c) * 4;
      d[i] = rgb[0]; d[i + 1] = rgb[1]; d[i + 2] = rgb[2]; d[i + 3] = 255;
    }
  }
  const off = document.createElement("canvas");
  off.width = cols;
  off.height = rows;
  off.getContext("2d").putImageData(cells, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
}

/** Before (filled) and after (outlined) histograms over the same edges; sqrt counts. */
export function drawHistogram(canvas, histogram) {
  fitCanvas(canvas);
  const ctx = canvas.getContext("2d");
  const { width: w, height: h } = canvas;
  const ratio = window.devicePixelRatio || 1;
  ctx.fillStyle = `rgb(${BG})`;
  ctx.fillRect(0, 0, w, h);
  if (!histogram || !histogram.edges || histogram.edges.length < 2) return;
  const { edges, before = [], after = [] } = histogram;
  const n = edges.length - 1;
  const top = Math.sqrt(Math.max(1, ...before, ...after));
  const axis = 14 * ratio;
  const plotH = h - axis - 4 * ratio;
  const bw = w / n;
  const y = (count) => 4 * ratio + plotH * (1 - Math.sqrt(count) / top);
  ctx.fillStyle = "rgba(120, 140, 170, 0.55)";
  for (let i = 0; i < n; i++) {
    const yy = y(before[i] || 0);
    ctx.fillRect(i * bw + 0.5, yy, Math.max(1, bw - 1), 4 * ratio + plotH - yy);
  }
  ctx.strokeStyle = "rgb(255, 176, 46)";
  ctx.lineWidth = 2 * ratio;
  ctx.beginPath();
  for (let i = 0; i < n; i++) {
    const yy = y(after[i] || 0);
    if (i === 0) ctx.moveTo(0, yy); else ctx.lineTo(i * bw, yy);
    ctx.lineTo((i + 1) * bw, yy);
  }
  ctx.stroke();
  // the value axis: its ends and zero
  ctx.fillStyle = "#9aa3b2";
  ctx.font = `${11 * ratio}px system-ui, sans-serif`;
  ctx.textBaseline = "bottom";
  ctx.textAlign = "left";
  ctx.fillText(fmt(edges[0]), 2 * ratio, h);
  ctx.textAlign = "right";
  ctx.fillText(fmt(edges[n]), w - 2 * ratio, h);
  if (edges[0] < 0 && edges[n] > 0) {
    const x0 = (-edges[0] / (edges[n] - edges[0])) * w;
    ctx.fillStyle = "rgba(255,255,255,0.35)";
    ctx.fillRect(x0, 4 * ratio, ratio, plotH);
    ctx.fillStyle = "#9aa3b2";
    ctx.textAlign = "center";
    ctx.fillText("0", x0, h);
  }
}

export function fmt(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1);
  return Number(v.toPrecision(digits)).toString();
}

/** A spectrogram scrolling right to left: one column per pushed spectrum, low bands at the bottom. */
export class Spectrogram {
  constructor(canvas, floor = -100, ceiling = 0) {
    this.canvas = canvas;
    this.floor = floor;
    this.ceiling = ceiling;
    this.pending = [];
    this.columns = 0;
  }

  push(values) {
    this.pending.push(values);
    if (this.pending.length > 512) this.pending.splice(0, this.pending.length - 512);
  }

  draw() {
    const canvas = this.canvas;
    if (!canvas.clientWidth) return;
    const ctx = canvas.getContext("2d");
    if (fitCanvas(canvas)) {
      ctx.fillStyle = "rgb(0,0,4)";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
    }
    if (!this.pending.length) return;
    const ratio = window.devicePixelRatio || 1;
    const step = Math.max(1, Math.round(2 * ratio));
    const columns = this.pending.splice(0);
    const shift = Math.min(canvas.width, columns.length * step);
    if (shift < canvas.width) ctx.drawImage(canvas, shift, 0, canvas.width - shift, canvas.height,
      0, 0, canvas.width - shift, canvas.height);
    const span = this.ceiling - this.floor;
    columns.slice(-Math.ceil(canvas.width / step)).forEach((values, k, list) => {
      const x = canvas.width - (list.length - k) * step;
      const bands = values.length;
      const bh = canvas.height / bands;
      for (let b = 0; b < bands; b++) {
        const t = Math.max(0, Math.min(1, (values[b] - this.floor) / span));
        const i = Math.round(t * 255) * 3;
        ctx.fillStyle = `rgb(${LUT[i]},${LUT[i + 1]},${LUT[i + 2]})`;
        ctx.fillRect(x, canvas.height - (b + 1) * bh, step, Math.ceil(bh));
      }
    });
    this.columns += columns.length;
    canvas.dataset.columns = String(this.columns);
  }
}
