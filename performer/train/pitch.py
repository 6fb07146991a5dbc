"""Pitch, periodicity and loudness of each latent frame, inside the model (YIN, causal).

The default model reads f0 from its input instead of learning it: an autoencoder trained on
a spectral loss alone smears harmonics into noise. YIN (de Cheveigne & Kawahara 2002) over the
last ``window`` samples of each frame gives f0 to a few cents on clean tones, costs one FFT
per frame, and streams with a cache of ``window - hop`` samples.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from performer.train.layers import with_left_context


class FrameFeatures(nn.Module):
    """[B, 1, T] audio to [B, 3, T/hop]: log2(f0/220 Hz), periodicity 0..1, loudness.

    Loudness is the frame's RMS in dB, scaled as (dB + 40) / 20 so that it sits near the
    other latents' range.
    """

    def __init__(self, sample_rate: int, hop: int, window: int = 2048, integration: int = 1024,
                 fmin: float = 50.0, fmax: float = 1500.0, threshold: float = 0.15,
                 loudness_window: int = 0):
        super().__init__()
        self.hop = hop
        # RMS over the newest ``loudness_window`` samples (default one hop): a hop of 128 is
        # shorter than a low note's period, and its RMS would ripple with the phase
        self.loudness_window = loudness_window or hop
        self.window = window
        self.integration = integration
        self.sample_rate = float(sample_rate)
        self.max_lag = int(math.ceil(sample_rate / fmin))
        self.min_lag = int(math.floor(sample_rate / fmax))
        if self.max_lag + integration > window or window % hop or window < hop:
            raise ValueError("window must hold integration + the longest period, in whole hops")
        self.threshold = threshold
        # The correlation needs lags below max_lag + 2 only: a circular FFT this long never wraps them.
        self.fft_size = 1 << int(math.ceil(math.log2(integration + self.max_lag + 2)))
        self.streaming = False
        self.register_buffer("cache", torch.zeros(1, 1, window - hop))

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        if self.streaming and self.cache.shape[0] != x.shape[0]:
            self.cache = torch.zeros(x.shape[0], 1, self.window - self.hop, dtype=x.dtype)
        x = with_left_context(self.cache, x, self.streaming)
        return x[:, 0].unfold(-1, self.window, self.hop)  # [B, Q, window]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            frames = self.frames(x).double()
            # Time-reversed, YIN's integration window is the newest audio: less pitch lag.
            f0, periodicity = self.yin(frames.flip(-1))
            recent = frames[..., self.window - self.loudness_window:]
            rms = recent.pow(2).mean(-1).add(1e-10).sqrt()
            loudness = (20.0 * torch.log10(rms) + 40.0) / 20.0
            pitch = torch.log2(f0 / 220.0)
            return torch.stack([pitch, periodicity, loudness], 1).float()

    def yin(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.integration
        lags = self.max_lag + 2
        head = frames[..., :w]
        spectrum = torch.fft.rfft(frames, self.fft_size)
        cross = torch.fft.irfft(torch.conj(torch.fft.rfft(head, self.fft_size)) * spectrum,
                                self.fft_size)[..., :lags]
        energy = F.pad(frames.pow(2).cumsum(-1), (1, 0))
        shifted = energy[..., w:w + lags] - energy[..., :lags]
        diff = (head.pow(2).sum(-1, keepdim=True) + shifted - 2.0 * cross).clamp_min(0.0)
        tau = torch.arange(lags, dtype=frames.dtype, device=frames.device)
        running = diff[..., 1:].cumsum(-1)
        cmnd = torch.ones_like(diff)
        cmnd[..., 1:] = diff[..., 1:] * tau[1:] / running.clamp_min(1e-12)
        # First dip under the threshold, at its local minimum; else the global minimum (unvoiced).
        inner = cmnd[..., self.min_lag:self.max_lag + 1]
        after = cmnd[..., self.min_lag + 1:self.max_lag + 2]
        dips = (inner < self.threshold) & (inner <= after)
        voiced = dips.any(-1)
        first = torch.argmax(dips.to(torch.int64), -1)
        best = torch.where(voiced, first, torch.argmin(inner, -1)) + self.min_lag
        left = cmnd.gather(-1, (best - 1).unsqueeze(-1)).squeeze(-1)
        mid = cmnd.gather(-1, best.unsqueeze(-1)).squeeze(-1)
        right = cmnd.gather(-1, (best + 1).unsqueeze(-1)).squeeze(-1)
        curvature = left - 2.0 * mid + right
        shift = torch.where(curvature > 1e-12, 0.5 * (left - right) / curvature.clamp_min(1e-12),
                            torch.zeros_like(mid)).clamp(-1.0, 1.0)
        f0 = self.sample_rate / (best.to(frames.dtype) + shift)
        silent = frames[..., :self.hop].pow(2).mean(-1) < 1e-10
        periodicity = torch.where(silent, torch.zeros_like(mid), (1.0 - mid).clamp(0.0, 1.0))
        return f0, periodicity
