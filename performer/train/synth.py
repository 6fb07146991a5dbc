"""The decoder's sound sources: a harmonic oscillator bank and a band-noise table.

Both stream exactly: the oscillator carries its phase (float64) in its cache, and noise is
read from a fixed seeded table at a running position, so whole-file and block-wise output
agree, and a render is reproducible.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class HarmonicOscillator(nn.Module):
    """Sum of ``harmonics`` sines at k * f0 with per-sample amplitudes."""

    def __init__(self, sample_rate: int, harmonics: int):
        super().__init__()
        self.sample_rate = float(sample_rate)
        self.streaming = False
        self.register_buffer("orders", torch.arange(1, harmonics + 1, dtype=torch.float32).view(1, -1, 1))
        self.register_buffer("cache", torch.zeros(1, 1, 1, dtype=torch.float64))  # phase in cycles

    def forward(self, f0: torch.Tensor, amplitudes: torch.Tensor) -> torch.Tensor:
        """f0: [B, 1, T] in Hz; amplitudes: [B, harmonics, T]; returns [B, 1, T]."""
        with torch.no_grad():
            start = torch.zeros(f0.shape[0], 1, 1, dtype=torch.float64)
            if self.streaming:
                if self.cache.shape[0] != f0.shape[0]:
                    self.cache = torch.zeros(f0.shape[0], 1, 1, dtype=torch.float64)
                start = self.cache
            cycles = torch.cumsum(f0.double() / self.sample_rate, -1) + start
            cycles = cycles - torch.floor(cycles)
            if self.streaming:
                self.cache.copy_(cycles[..., -1:])
            phase = (2.0 * math.pi) * cycles.float()
        return (amplitudes * torch.sin(self.orders * phase)).sum(1, keepdim=True)

    def audible(self, f0: torch.Tensor) -> torch.Tensor:
        """1 for harmonics below 0.45 x the sample rate at this f0 ([B, 1, Q]), else 0."""
        return (self.orders * f0 < 0.45 * self.sample_rate).to(f0.dtype)


class NoiseBands(nn.Module):
    """Uniform noise per band, read from a seeded table; [B, bands, Q] frames per call."""

    def __init__(self, bands: int, length: int = 8191, seed: int = 1234):
        super().__init__()
        self.length = length
        self.streaming = False
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("table", torch.rand(1, bands, length, generator=generator) * 2.0 - 1.0)
        self.register_buffer("cache", torch.zeros(1, 1, 1))  # read position

    def forward(self, like: torch.Tensor) -> torch.Tensor:
        frames = like.shape[-1]
        start = 0
        if self.streaming:
            start = int(self.cache[0, 0, 0].item())
            self.cache.fill_(float((start + frames) % self.length))
        index = (torch.arange(frames, device=like.device) + start) % self.length
        return self.table.index_select(2, index).expand(like.shape[0], -1, -1)
