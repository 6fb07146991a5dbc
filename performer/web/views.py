"""What the dashboard shows, computed from the Rig and the live server: tensors in plain words,
heat maps and histograms of a tensor before and after its bend, levels and spectra."""

from __future__ import annotations

import math

import numpy as np
import torch

KIND_WORDS = {
    "conv": "convolution", "conv_transpose": "transposed convolution (upsampling)", "linear": "dense layer",
    "norm": "normalisation", "pqmf": "PQMF filter bank", "other": "tensor",
}
ROLE_WORDS = {"weight": "weights", "bias": "biases", "weight_g": "weight magnitudes", "weight_v": "weight directions",
              "running_mean": "running means", "running_var": "running variances"}
GROUPS = ("encoder", "decoder", "pqmf")
SPECTRUM_BANDS = 64


def group_of(info) -> str:
    if info.kind == "pqmf" or "pqmf" in info.name.lower():
        return "pqmf"
    head = info.name.split(".", 1)[0].lower()
    return head if head in GROUPS else "other"


def about(info) -> str:
    """One line in plain words on what a tensor is."""
    kind = KIND_WORDS.get(info.kind, "tensor")
    role = ROLE_WORDS.get(info.role, info.role)
    shape = "x".join(str(d) for d in info.shape)
    where = {"encoder": "the encoder (sound to latent)", "decoder": "the decoder (latent to sound)",
             "pqmf": "the band split and merge"}.get(group_of(info), "the model")
    if info.kind in ("conv", "conv_transpose") and len(info.shape) == 3 and info.role == "weight":
        out_ch, in_ch, k = info.shape if info.kind == "conv" else (info.shape[1], info.shape[0], info.shape[2])
        return f"{kind} {role} in {where}: {out_ch} output channels from {in_ch} inputs, {k} taps each"
    return f"{kind} {role} in {where} ({shape}, {info.size} values)"


def tensor_list(rig) -> list[dict]:
    return [{"index": t.index, "name": t.name, "kind": t.kind, "role": t.role, "shape": list(t.shape), "size": t.size,
             "group": group_of(t), "about": about(t)} for t in rig.tensors]


def _grid(values: torch.Tensor, rows: int, cols: int) -> np.ndarray:
    """A tensor as a rows x cols grid: axis 0 down, everything else flattened across; cells
    averaged (adaptive pooling), so any shape fits the picture."""
    v = values.detach().float()
    v = v.reshape(v.shape[0], -1) if v.dim() > 1 else v.reshape(1, -1)
    r, c = min(rows, v.shape[0]), min(cols, v.shape[1])
    pooled = torch.nn.functional.adaptive_avg_pool2d(v[None, None], (r, c))[0, 0]
    return pooled.numpy()


def heatmap(rig, index: int, rows: int = 64, cols: int = 128, bins: int = 48) -> dict:
    """Before (original) and after (installed) values of one tensor, where they differ, and both
    histograms over the same edges."""
    before = rig.bank.original(index)
    after = rig.bank.installed(index)
    changed = (after != before).float()
    lo = float(min(before.min(), after.min()))
    hi = float(max(before.max(), after.max()))
    if not math.isfinite(lo) or not math.isfinite(hi) or lo == hi:
        lo, hi = lo - 1.0, hi + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    hist_before = np.histogram(before.detach().float().numpy().ravel(), edges)[0]
    hist_after = np.histogram(np.nan_to_num(after.detach().float().numpy().ravel()), edges)[0]
    grid_before, grid_after = _grid(before, rows, cols), _grid(after, rows, cols)
    return {"rows": int(grid_before.shape[0]), "cols": int(grid_before.shape[1]),
            "before": np.round(grid_before, 6).tolist(), "after": np.round(np.nan_to_num(grid_after), 6).tolist(),
            "mask": np.round(_grid(changed, rows, cols), 4).tolist(),
            "histogram": {"edges": np.round(edges, 6).tolist(), "before": hist_before.tolist(),
                          "after": hist_after.tolist()},
            "changed": float(changed.mean())}


def levels_db(block: np.ndarray) -> list[float]:
    """RMS per channel in dBFS (floor -120) of a [frames, channels] block."""
    if block.size == 0:
        return []
    rms = np.sqrt(np.mean(np.square(block, dtype=np.float64), axis=0))
    return [round(float(20 * np.log10(max(r, 1e-6))), 1) for r in rms]


def spectrum_db(block: np.ndarray, bands: int = SPECTRUM_BANDS) -> list[float]:
    """A log-spaced magnitude spectrum (dB) of a block's channel mix, ``bands`` values."""
    if block.shape[0] < 16:
        return [-120.0] * bands
    mono = block.mean(axis=1) if block.ndim == 2 else block
    window = np.hanning(mono.shape[0])
    power = np.abs(np.fft.rfft(mono * window)) ** 2 / max(1.0, np.sum(window) ** 2 / 4)
    n = power.shape[0]
    edges = np.unique(np.geomspace(1, n - 1, bands + 1).astype(int))
    out = [float(10 * np.log10(max(power[a:b].mean() if b > a else power[a], 1e-12))) for a, b in zip(edges[:-1], edges[1:])]
    out += [out[-1] if out else -120.0] * (bands - len(out))
    return [round(v, 1) for v in out[:bands]]
