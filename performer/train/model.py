"""The embedded default model: a small RAVE-style streaming autoencoder with a harmonic source.

Encoder: PQMF bands, causal strided convolutions, a variational latent; beside it, the frame's
pitch, periodicity and loudness measured from the input (pitch.FrameFeatures). The latent is
[pitch (octaves re 220 Hz), periodicity, loudness, learned dims...], so bending latent 0 by +1
transposes an octave.
Decoder: causal convolutions upsampling to three sources summed: a harmonic oscillator bank at
the latent's pitch (amplitudes at 64-sample control rate), PQMF-band waveforms (RAVE's
waveform branch) and PQMF-band noise. Every layer is causal and cached (see layers.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from performer.train.layers import (CachedConv1d, ConvTransposeUpsample, DelayLine, FrameInterpolator,
                                     ResidualUnit)
from performer.train.pitch import FrameFeatures
from performer.train.pqmf import PQMFAnalysis, PQMFSynthesis
from performer.train.synth import HarmonicOscillator, NoiseBands

FEATURES = ("pitch", "periodicity", "loudness")


@dataclass(frozen=True)
class ModelConfig:
    sample_rate: int = 44100
    bands: int = 16
    ratios: tuple[int, ...] = (4, 4, 4)
    encoder_channels: tuple[int, ...] = (32, 64, 128, 256)
    decoder_channels: tuple[int, ...] = (256, 192, 128, 64)
    learned_latents: int = 8
    harmonics: int = 64
    # "studio" (this module: PQMF, hop 1024) or "live" (live.py: hop ``live_hop``, no PQMF)
    architecture: str = "studio"
    live_hop: int = 128
    live_channels: int = 128
    noise_bands: int = 16

    @property
    def hop(self) -> int:
        if self.architecture == "live":
            return self.live_hop
        hop = self.bands
        for r in self.ratios:
            hop *= r
        return hop

    @property
    def latent_size(self) -> int:
        return len(FEATURES) + self.learned_latents

    def to_dict(self) -> dict:
        return asdict(self)


def mod_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """RAVE's amplitude curve: 0..2, steep near zero so quiet parts stay quiet."""
    return 2.0 * torch.sigmoid(x) ** 2.3 + 1e-7


class Encoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.pqmf = PQMFAnalysis(config.bands)
        self.features = FrameFeatures(config.sample_rate, config.hop)
        channels = config.encoder_channels
        self.inlet = CachedConv1d(config.bands, channels[0], 7)
        stages = []
        for ratio, c_in, c_out in zip(config.ratios, channels[:-1], channels[1:]):
            stages += [ResidualUnit(c_in, 1), ResidualUnit(c_in, 3), nn.LeakyReLU(0.2),
                       CachedConv1d(c_in, c_out, 2 * ratio, stride=ratio)]
        self.net = nn.Sequential(*stages)
        self.outlet = CachedConv1d(channels[-1], 2 * config.learned_latents, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns features [B, 3, Q], latent mean and std [B, L, Q]."""
        features = self.features(x)
        h = self.net(self.inlet(self.pqmf(x)))
        mean, scale = self.outlet(F.leaky_relu(h, 0.2)).chunk(2, 1)
        return features, mean, F.softplus(scale) + 1e-4


class Decoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.pqmf = PQMFSynthesis(config.bands)
        self.sample_rate = float(config.sample_rate)
        channels = config.decoder_channels
        r1, r2, r3 = config.ratios
        self.inlet = CachedConv1d(config.latent_size, channels[0], 3)
        self.stage1 = nn.Sequential(nn.LeakyReLU(0.2), ConvTransposeUpsample(channels[0], channels[1], r1),
                                    ResidualUnit(channels[1], 1), ResidualUnit(channels[1], 3))
        self.stage2 = nn.Sequential(nn.LeakyReLU(0.2), ConvTransposeUpsample(channels[1], channels[2], r2),
                                    ResidualUnit(channels[2], 1), ResidualUnit(channels[2], 3),
                                    ResidualUnit(channels[2], 9))
        self.harmonic_head = CachedConv1d(channels[2], config.harmonics + 1, 3)
        self.stage3 = nn.Sequential(nn.LeakyReLU(0.2), ConvTransposeUpsample(channels[2], channels[3], r3),
                                    ResidualUnit(channels[3], 1), ResidualUnit(channels[3], 3),
                                    ResidualUnit(channels[3], 9))
        self.band_head = CachedConv1d(channels[3], 3 * config.bands, 3)
        self.oscillator = HarmonicOscillator(config.sample_rate, config.harmonics)
        self.noise = NoiseBands(config.bands)
        control_hop = config.hop // (r1 * r2)
        self.f0_to_control = FrameInterpolator(1, r1 * r2)
        self.f0_to_audio = FrameInterpolator(1, config.hop)
        self.amplitudes_to_audio = FrameInterpolator(config.harmonics, control_hop)
        self.align = DelayLine(1, self.pqmf.delay)
        self.register_buffer("output_gain", torch.ones(1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        f0 = (220.0 * torch.pow(2.0, z[:, :1])).clamp(20.0, self.sample_rate / 2)
        h = self.stage2(self.stage1(self.inlet(z)))
        harmonic = self.harmonic_head(F.leaky_relu(h, 0.2))
        audible = self.oscillator.audible(self.f0_to_control(f0))
        shape = torch.softmax(harmonic[:, 1:], 1) * audible
        shape = shape / (shape.sum(1, keepdim=True) + 1e-7)
        amplitudes = self.amplitudes_to_audio(mod_sigmoid(harmonic[:, :1]) * shape)
        voiced = self.oscillator(self.f0_to_audio(f0), amplitudes)

        h = self.stage3(h)
        wave, amp, noise_amp = self.band_head(F.leaky_relu(h, 0.2)).chunk(3, 1)
        bands = torch.tanh(wave) * mod_sigmoid(amp) + self.noise(wave) * mod_sigmoid(noise_amp - 4.0)
        return (self.pqmf(bands) + self.align(voiced)) * self.output_gain


def build_model(config: ModelConfig) -> nn.Module:
    """The model a config describes: ``DefaultModel`` (studio) or ``LiveModel`` (live)."""
    if config.architecture == "live":
        from performer.train.live import LiveModel
        return LiveModel(config)
    if config.architecture != "studio":
        raise ValueError(f"unknown architecture {config.architecture!r}: studio or live")
    return DefaultModel(config)


# The low-latency preset: 48 kHz (JACK's usual rate, so no resampler on the live path), a latent
# frame every 128 samples (2.7 ms), run in 128-sample blocks.
LIVE = ModelConfig(sample_rate=48000, architecture="live", live_hop=128, live_channels=128,
                   learned_latents=4, harmonics=64, noise_bands=16)
PRESETS = {"studio": ModelConfig(), "live": LIVE}


class FeatureVAE(nn.Module):
    """What both architectures share: an encoder giving (features, mean, std), a decoder of
    [features, learned latents]; ``forward`` is a training pass. Subclasses set ``encoder``,
    ``decoder`` and ``delay``."""

    def encode(self, x: torch.Tensor, sample: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio [B, 1, T] to the latent [B, 3 + L, T/hop], and the KL term."""
        features, mean, std = self.encoder(x)
        learned = mean + std * torch.randn_like(std) if sample else mean
        kl = 0.5 * (mean.pow(2) + std.pow(2) - 2.0 * torch.log(std) - 1.0).mean()
        return torch.cat([features, learned], 1), kl

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, kl = self.encode(x, sample=self.training)
        return self.decoder(z), kl


class DefaultModel(FeatureVAE):
    """The studio architecture (this module)."""

    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.delay = self.decoder.pqmf.delay  # samples from input to output (training alignment)
