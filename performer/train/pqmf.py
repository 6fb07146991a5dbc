"""Pseudo-QMF filter bank: a signal split into M critically sampled bands and back.

A cosine-modulated bank from one Kaiser-windowed prototype whose cutoff is tuned for near
perfect reconstruction (after RAVE's PQMF). Both directions are causal strided convolutions,
so they stream exactly; analysis then synthesis delays the signal by ``taps - bands`` samples.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.signal import firwin
from torch import nn

from performer.train.layers import CachedConv1d


def prototype(bands: int, taps: int, beta: float = 9.0) -> np.ndarray:
    """The low-pass prototype whose cutoff makes the bank closest to perfect reconstruction."""

    def reconstruction_error(cutoff: float) -> float:
        h = firwin(taps, cutoff, window=("kaiser", beta))
        g = np.convolve(h, h[::-1])
        center = len(g) // 2
        aliases = g[center % (2 * bands)::2 * bands]
        aliases = np.delete(aliases, center // (2 * bands))
        return float(np.max(np.abs(aliases)))

    best = minimize_scalar(reconstruction_error, bounds=(0.5 / (2 * bands), 1.5 / (2 * bands)), method="bounded",
                           options={"xatol": 1e-7})
    return firwin(taps, best.x, window=("kaiser", beta))


@functools.lru_cache(maxsize=4)
def filter_bank(bands: int, taps: int) -> tuple[np.ndarray, np.ndarray]:
    """Analysis and synthesis filters, each shaped [bands, taps]."""
    if taps % bands:
        raise ValueError(f"taps ({taps}) must be a multiple of bands ({bands})")
    h = prototype(bands, taps)
    n = np.arange(taps) - (taps - 1) / 2
    k = np.arange(bands)[:, None]
    phase = (-1.0) ** k * math.pi / 4
    arg = (2 * k + 1) * math.pi / (2 * bands) * n
    return 2 * h * np.cos(arg + phase), 2 * h * np.cos(arg - phase)


class PQMFAnalysis(nn.Module):
    """[B, 1, T] to [B, bands, T / bands] (T a multiple of bands)."""

    def __init__(self, bands: int = 16, taps: int = 128):
        super().__init__()
        analysis, _ = filter_bank(bands, taps)
        self.bands = bands
        self.delay = taps - bands
        self.conv = CachedConv1d(1, bands, taps, stride=bands, bias=False)
        self.conv.weight = nn.Parameter(torch.from_numpy(analysis[:, ::-1].copy()).float().unsqueeze(1),
                                        requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class PQMFSynthesis(nn.Module):
    """[B, bands, Q] back to [B, 1, Q * bands]; after analysis, the signal is ``delay`` late."""

    def __init__(self, bands: int = 16, taps: int = 128):
        super().__init__()
        _, synthesis = filter_bank(bands, taps)
        self.bands = bands
        self.delay = taps - bands
        # Polyphase: output phase r of frame q sums band frames q-j through g_k[jM + r].
        span = taps // bands
        poly = synthesis.reshape(bands, span, bands).transpose(2, 0, 1)[:, :, ::-1] * bands
        self.conv = CachedConv1d(bands, bands, span, bias=False)
        self.conv.weight = nn.Parameter(torch.from_numpy(poly.copy()).float(), requires_grad=False)

    def forward(self, bands: torch.Tensor) -> torch.Tensor:
        y = self.conv(bands)
        return y.permute(0, 2, 1).reshape(y.shape[0], 1, -1)
