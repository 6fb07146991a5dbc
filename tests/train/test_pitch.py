"""In-model YIN: f0 to a few cents on harmonic tones, periodicity, loudness scale, exact streaming."""

import math

import pytest
import torch

from performer.train.layers import set_streaming
from performer.train.pitch import FrameFeatures

SR = 44100
HOP = 1024



def harmonic_tone(f0, frames=12, partials=6, level=0.5):
    t = torch.arange(frames * HOP, dtype=torch.float64) / SR
    x = sum((level / k) * torch.sin(2 * math.pi * f0 * k * t + k) for k in range(1, partials + 1)
            if f0 * k < SR / 2)
    return x.float().view(1, 1, -1)


@pytest.mark.parametrize("f0", [55, 110, 220, 440, 880, 1500])
def test_f0_of_harmonic_tones_within_five_cents(f0):
    out = FrameFeatures(SR, HOP)(harmonic_tone(f0))
    assert out.shape == (1, 3, 12)
    cents = 1200 * (out[0, 0, 2:] - math.log2(f0 / 220))
    assert cents.abs().max() < 5, cents
    assert out[0, 1, 2:].min() > 0.9


def test_pure_sine_and_octave_relation():
    features = FrameFeatures(SR, HOP)
    low = features(harmonic_tone(330, partials=1))[0, 0, 2:]
    high = features(harmonic_tone(660, partials=1))[0, 0, 2:]
    torch.testing.assert_close(high - low, torch.ones_like(low), rtol=0, atol=5 / 1200)


def test_white_noise_is_aperiodic():
    torch.manual_seed(0)
    out = FrameFeatures(SR, HOP)(0.1 * torch.randn(2, 1, 16 * HOP))
    periodicity = out[:, 1, 2:]
    assert periodicity.mean() < 0.3
    assert periodicity.max() < 0.6


def test_silence_has_zero_periodicity_and_the_floor_loudness():
    out = FrameFeatures(SR, HOP)(torch.zeros(1, 1, 4 * HOP))
    assert torch.isfinite(out).all()
    assert torch.equal(out[0, 1], torch.zeros(4))
    # rms floor sqrt(1e-10) is -100 dB: (-100 + 40) / 20
    torch.testing.assert_close(out[0, 2], torch.full((4,), -3.0), rtol=0, atol=1e-4)


@pytest.mark.parametrize("kind", ["sine", "noise"])
def test_loudness_of_a_minus_20_dbfs_rms_signal_is_one(kind):
    torch.manual_seed(1)
    if kind == "sine":
        x = harmonic_tone(997, partials=1, level=0.1 * math.sqrt(2))
    else:
        x = torch.randn(1, 1, 12 * HOP)
        x = 0.1 * x / x.pow(2).mean().sqrt()
    loudness = FrameFeatures(SR, HOP)(x)[0, 2, 1:]
    assert (loudness - 1.0).abs().max() < 0.05
    # and it follows the level in dB: -6 dB is 0.3 lower
    quieter = FrameFeatures(SR, HOP)(x * 10 ** (-6 / 20))[0, 2, 1:]
    torch.testing.assert_close(loudness - quieter, torch.full_like(loudness, 0.3), rtol=0, atol=1e-3)


def test_loudness_reads_only_the_frames_newest_hop():
    x = torch.zeros(1, 1, 4 * HOP)
    x[..., 2 * HOP:3 * HOP] = 0.1
    loudness = FrameFeatures(SR, HOP)(x)[0, 2]
    torch.testing.assert_close(loudness[2], torch.tensor(1.0), rtol=0, atol=1e-4)
    assert loudness[1] < -2.9 and loudness[3] < -2.9


def test_a_glide_is_tracked_frame_by_frame():
    # exponential glide 200 -> 400 Hz over 24 frames: pitch rises monotonically from ~log2(200/220)
    n = 24 * HOP
    f = 200 * 2 ** (torch.arange(n, dtype=torch.float64) / n)
    x = 0.5 * torch.sin(2 * math.pi * torch.cumsum(f / SR, 0))
    pitch = FrameFeatures(SR, HOP)(x.float().view(1, 1, -1))[0, 0, 2:]
    assert (pitch.diff() > 0).all()
    frame_end = (torch.arange(2, 24) + 1) * HOP - 1
    truth = torch.log2(f[frame_end] / 220).float()
    # YIN's window spans the last 2048 samples: the estimate lags the instantaneous f0 a little
    assert ((truth - pitch) * 1200).abs().max() < 40


@pytest.mark.parametrize("blocks", [(1,), (3,), (2, 5, 1)])
def test_streaming_equals_whole_file(blocks):
    torch.manual_seed(2)
    x = harmonic_tone(233, frames=16) + 0.05 * torch.randn(1, 1, 16 * HOP)
    features = FrameFeatures(SR, HOP)
    whole = features(x)
    set_streaming(features, True)
    parts, i, j = [], 0, 0
    while i < x.shape[-1]:
        n = blocks[j % len(blocks)] * HOP
        parts.append(features(x[..., i:i + n]))
        i, j = i + n, j + 1
    torch.testing.assert_close(torch.cat(parts, -1), whole, rtol=0, atol=1e-5)
    features.cache.zero_()
    torch.testing.assert_close(features(x[..., :3 * HOP]), whole[..., :3], rtol=0, atol=1e-5)


def test_streaming_batch_change():
    features = FrameFeatures(SR, HOP)
    set_streaming(features, True)
    features(harmonic_tone(440, frames=2))
    x = torch.cat([harmonic_tone(110, frames=3), harmonic_tone(880, frames=3)])
    out = features(x)
    assert features.cache.shape[0] == 2
    set_streaming(features, False)
    torch.testing.assert_close(out, features(x), rtol=0, atol=1e-5)


def test_scriptable_and_same_as_eager():
    features = FrameFeatures(SR, HOP)
    scripted = torch.jit.script(features)
    x = harmonic_tone(300, frames=6)
    torch.testing.assert_close(scripted(x), features(x), rtol=0, atol=1e-6)


def test_other_hops_and_rates():
    features = FrameFeatures(48000, 512)
    t = torch.arange(20 * 512) / 48000
    out = features((0.3 * torch.sin(2 * math.pi * 261.63 * t)).view(1, 1, -1))
    assert out.shape == (1, 3, 20)
    assert (1200 * (out[0, 0, 4:] - math.log2(261.63 / 220))).abs().max() < 5


def test_impossible_window_is_rejected():
    with pytest.raises(ValueError, match="window"):
        FrameFeatures(SR, HOP, window=1024)  # cannot hold 1024 + a 50 Hz period
    with pytest.raises(ValueError):
        FrameFeatures(SR, 1000)  # window not in whole hops
