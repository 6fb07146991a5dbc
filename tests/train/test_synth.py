"""Decoder sources: phase-continuous harmonic oscillator, band-limited by `audible`; seeded band noise."""

import math

import pytest
import torch

from performer.train.layers import set_streaming
from performer.train.synth import HarmonicOscillator, NoiseBands

SR = 44100



def only(harmonic, harmonics, length, batch=1, amplitude=1.0):
    amplitudes = torch.zeros(batch, harmonics, length)
    amplitudes[:, harmonic - 1] = amplitude
    return amplitudes


def test_oscillator_is_a_sum_of_sines_at_multiples_of_f0():
    osc = HarmonicOscillator(SR, 4)
    n = 2048
    f0 = torch.full((1, 1, n), 440.0)
    amplitudes = torch.zeros(1, 4, n)
    amplitudes[:, 0], amplitudes[:, 2] = 0.5, 0.25
    y = osc(f0, amplitudes)
    phase = 2 * math.pi * 440.0 * torch.arange(1, n + 1, dtype=torch.float64) / SR  # cumsum: sample 0 is one step in
    expected = (0.5 * torch.sin(phase) + 0.25 * torch.sin(3 * phase)).float()
    assert y.shape == (1, 1, n)
    torch.testing.assert_close(y[0, 0], expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("blocks", [(1,), (64,), (37, 500, 3)])
def test_oscillator_phase_is_continuous_across_blocks(blocks):
    torch.manual_seed(0)
    osc = HarmonicOscillator(SR, 6)
    n = 3000
    f0 = 100 + 900 * torch.rand(2, 1, n).cumsum(-1) / n  # gliding, different per batch item
    amplitudes = torch.rand(2, 6, n)
    whole = osc(f0, amplitudes)
    set_streaming(osc, True)
    parts, i, j = [], 0, 0
    while i < n:
        m = blocks[j % len(blocks)]
        parts.append(osc(f0[..., i:i + m], amplitudes[..., i:i + m]))
        i, j = i + m, j + 1
    torch.testing.assert_close(torch.cat(parts, -1), whole, rtol=0, atol=1e-4)
    assert osc.cache.dtype == torch.float64 and 0 <= osc.cache.min() and osc.cache.max() < 1
    osc.cache.zero_()
    torch.testing.assert_close(osc(f0[..., :100], amplitudes[..., :100]), whole[..., :100], rtol=0, atol=1e-5)


def test_oscillator_phase_stays_accurate_over_a_long_stream():
    # float64 phase wrapped to [0, 1): after a minute of blocks the sine is still exact
    osc = HarmonicOscillator(SR, 1)
    set_streaming(osc, True)
    f0 = torch.full((1, 1, SR), 1000.3)
    amplitudes = torch.ones(1, 1, SR)
    for _ in range(60):
        y = osc(f0, amplitudes)
    n = torch.arange(59 * SR + 1, 60 * SR + 1, dtype=torch.float64)
    step = f0[0, 0, 0].double() / SR  # the float32 f0, as the oscillator sees it
    expected = torch.sin(2 * math.pi * torch.remainder(n * step, 1.0)).float()
    torch.testing.assert_close(y[0, 0], expected, rtol=0, atol=1e-4)


def test_oscillator_batch_change_restarts_phase():
    osc = HarmonicOscillator(SR, 2)
    set_streaming(osc, True)
    f0 = torch.full((1, 1, 50), 300.0)
    first = osc(f0, only(1, 2, 50))
    two = osc(f0.expand(2, -1, -1), only(1, 2, 50, batch=2))
    assert osc.cache.shape == (2, 1, 1)
    torch.testing.assert_close(two, first.expand(2, -1, -1), rtol=0, atol=1e-6)


def test_audible_masks_harmonics_above_0_45_of_the_rate():
    osc = HarmonicOscillator(SR, 64)
    f0 = torch.tensor([[[100.0, 1000.0, 5000.0, 19000.0, 25000.0]]])
    mask = osc.audible(f0)
    assert mask.shape == (1, 64, 5)
    counts = mask.sum(1)[0].tolist()
    # the largest k with k * f0 < 0.45 * 44100 = 19845
    assert counts == [64, 19, 3, 1, 0]
    assert mask[0, 18, 1] == 1 and mask[0, 19, 1] == 0


def test_masked_harmonics_are_silent():
    osc = HarmonicOscillator(SR, 8)
    f0 = torch.full((1, 1, 4096), 5000.0)  # harmonics 4.. are above 19845 Hz
    amplitudes = torch.ones(1, 8, 4096) * osc.audible(f0)
    spectrum = torch.fft.rfft(osc(f0, amplitudes)[0, 0] * torch.hann_window(4096)).abs()
    freqs = torch.fft.rfftfreq(4096, 1 / SR)
    assert spectrum[freqs > 16000].max() < 1e-3 * spectrum.max()


def test_noise_bands_are_seeded_uniform_and_shared_across_the_batch():
    a, b = NoiseBands(16), NoiseBands(16)
    assert torch.equal(a.table, b.table)
    assert not torch.equal(a.table, NoiseBands(16, seed=99).table)
    assert a.table.min() >= -1 and a.table.max() <= 1
    assert abs(float(a.table.mean())) < 0.02 and abs(float(a.table.var()) - 1 / 3) < 0.02
    noise = a(torch.zeros(3, 16, 100))
    assert noise.shape == (3, 16, 100)
    assert torch.equal(noise[0], noise[2])
    assert torch.equal(a(torch.zeros(1, 16, 100)), noise[:1])  # training mode: always from the start


@pytest.mark.parametrize("blocks", [(1,), (7,), (1000, 3, 4096)])
def test_noise_bands_stream_equals_whole_and_wraps(blocks):
    noise = NoiseBands(4, length=8191)
    frames = 10000  # beyond the table: wraps around
    whole = noise(torch.zeros(1, 4, frames))
    assert torch.equal(whole[..., 8191:], whole[..., :frames - 8191])
    set_streaming(noise, True)
    parts, i, j = [], 0, 0
    while i < frames:
        m = min(blocks[j % len(blocks)], frames - i)
        parts.append(noise(torch.zeros(1, 4, m)))
        i, j = i + m, j + 1
    assert torch.equal(torch.cat(parts, -1), whole)
    noise.cache.zero_()
    assert torch.equal(noise(torch.zeros(2, 4, 5)), whole[..., :5].expand(2, -1, -1))
