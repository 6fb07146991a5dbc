"""The low-latency model ("live"): a frame every 128 samples, nothing that waits for the future.

Built for 10 ms from microphone to speaker, where every scripted op costs 5-20 us of a 2.7 ms
period (docs/model.md), so it has few, cheap ops and no PQMF (whose 112-sample delay alone
would take a quarter of the budget):

- Encoder: each frame's pitch (YIN over the past 2048 samples), periodicity and loudness, as in
  the studio model, and a learned timbre latent from a causal strided convolution over the raw
  audio (kernel two hops, stride one hop) and two residual units at frame rate.
- Decoder: causal convolutions at frame rate (residual units, dilations 1, 3, 9: 75 ms of
  context) drive a 64-harmonic oscillator at the latent's pitch and 16 bands of filtered noise
  read from seeded tables. The output of a block is computed from latents up to that block's
  end, so the model adds no delay of its own: its amplitude ramps from the previous frame's
  to this frame's across the block.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from performer.train.layers import CachedConv1d, FrameInterpolator, ResidualUnit
from performer.train.model import FeatureVAE, ModelConfig, mod_sigmoid
from performer.train.pitch import FrameFeatures
from performer.train.synth import HarmonicOscillator


class LiveEncoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        hop = config.hop
        channels = config.live_channels // 2
        self.features = FrameFeatures(config.sample_rate, hop, window=1536, integration=640,
                                      fmin=60.0, loudness_window=2 * hop)
        self.frame = CachedConv1d(1, channels, 2 * hop, stride=hop)
        self.mix = CachedConv1d(channels, channels, 1)
        self.outlet = CachedConv1d(channels, 2 * config.learned_latents, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns features [B, 3, Q], latent mean and std [B, L, Q]."""
        features = self.features(x)
        h = self.mix(F.leaky_relu(self.frame(x), 0.2))
        mean, scale = self.outlet(F.leaky_relu(h, 0.2)).chunk(2, 1)
        return features, mean, F.softplus(scale) + 1e-4


class BandNoise(nn.Module):
    """``bands`` noises, each band-limited (log-spaced edges, 40 Hz to Nyquist) and unit RMS,
    read from seeded periodic tables at a running position: reproducible, and seamless where
    a table wraps (filtered by FFT, so each table is periodic)."""

    def __init__(self, sample_rate: int, bands: int, length: int = 16384, seed: int = 4321):
        super().__init__()
        self.length = length
        self.streaming = False
        generator = torch.Generator().manual_seed(seed)
        white = torch.randn(length, generator=generator, dtype=torch.float64)
        spectrum = torch.fft.rfft(white)
        freqs = torch.fft.rfftfreq(length, 1.0 / sample_rate, dtype=torch.float64)
        edges = [0.0] + [40.0 * (sample_rate / 2 / 40.0) ** (i / bands) for i in range(1, bands)] + [math.inf]
        tables = []
        for low, high in zip(edges[:-1], edges[1:]):
            band = torch.fft.irfft(spectrum * ((freqs >= low) & (freqs < high)), length)
            tables.append(band / band.pow(2).mean().sqrt().clamp_min(1e-12))
        self.register_buffer("table", torch.stack(tables).float().unsqueeze(0))  # [1, bands, length]
        self.register_buffer("cache", torch.zeros(1, 1, 1))  # read position

    def forward(self, amplitudes: torch.Tensor) -> torch.Tensor:
        """amplitudes [B, bands, T] to [B, 1, T]."""
        frames = amplitudes.shape[-1]
        start = 0
        if self.streaming:
            start = int(self.cache[0, 0, 0].item())
            self.cache.fill_(float((start + frames) % self.length))
        index = (torch.arange(frames, device=amplitudes.device) + start) % self.length
        return (amplitudes * self.table.index_select(2, index)).sum(1, keepdim=True)


class LiveDecoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        hop = config.hop
        channels = config.live_channels
        self.sample_rate = float(config.sample_rate)
        self.inlet = CachedConv1d(config.latent_size, channels, 3)
        self.net = nn.Sequential(ResidualUnit(channels, 1), ResidualUnit(channels, 4))
        self.harmonic_head = CachedConv1d(channels, config.harmonics + 1, 1)
        self.noise_head = CachedConv1d(channels, config.noise_bands, 1)
        self.oscillator = HarmonicOscillator(config.sample_rate, config.harmonics)
        self.noise = BandNoise(config.sample_rate, config.noise_bands)
        self.harmonics = config.harmonics
        # f0, harmonic amplitudes and noise amplitudes ramp to audio rate together (one op set)
        self.controls_to_audio = FrameInterpolator(1 + config.harmonics + config.noise_bands, hop)
        self.register_buffer("output_gain", torch.ones(1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        f0 = (220.0 * torch.pow(2.0, z[:, :1])).clamp(20.0, self.sample_rate / 2)
        h = F.leaky_relu(self.net(self.inlet(z)), 0.2)
        harmonic = self.harmonic_head(h)
        shape = torch.softmax(harmonic[:, 1:], 1) * self.oscillator.audible(f0)
        shape = shape / (shape.sum(1, keepdim=True) + 1e-7)
        noise_amplitudes = 0.1 * mod_sigmoid(self.noise_head(h) - 2.0)
        controls = self.controls_to_audio(torch.cat([f0, mod_sigmoid(harmonic[:, :1]) * shape,
                                                     noise_amplitudes], 1))
        voiced = self.oscillator(controls[:, :1], controls[:, 1:1 + self.harmonics])
        noise = self.noise(controls[:, 1 + self.harmonics:])
        return (voiced + noise) * self.output_gain


class LiveModel(FeatureVAE):
    """The live architecture: encoder and decoder above, no delay of its own."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.encoder = LiveEncoder(config)
        self.decoder = LiveDecoder(config)
        self.delay = 0
