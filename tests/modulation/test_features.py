"""Audio features: the model thread's push is cheap and allocation-free; the analyser measures."""

import time
import tracemalloc

import numpy as np
import pytest

from performer.modulation.features import Features

RATE = 48000


def sine(freq, seconds, amp=0.5):
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def push_all(f, x, block=512):
    for i in range(0, len(x), block):
        f.push(x[i:i + block])


def test_ring_wraps_and_latest_returns_the_newest_samples():
    f = Features(RATE, ring_size=4096)
    x = np.arange(10000, dtype=np.float32)
    push_all(f, x, block=300)
    assert f.written == 10000
    np.testing.assert_array_equal(f.latest(1000), x[-1000:])


def test_a_stereo_block_uses_channel_zero_and_a_huge_block_keeps_its_end():
    f = Features(RATE, ring_size=4096)
    f.push(np.stack([np.ones(256, np.float32), np.zeros(256, np.float32)]))
    assert f.latest(256).min() == 1.0
    big = np.arange(10000, dtype=np.float32)
    f.push(big)
    np.testing.assert_array_equal(f.latest(4096), big[-4096:])


def test_push_allocates_no_sample_memory_and_takes_microseconds():
    f = Features(RATE)
    block = sine(220, 2048 / RATE)
    for _ in range(100):
        f.push(block)  # warm up
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(1000):
        f.push(block)
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert grown < 4096  # a block is 8 KiB: none was kept or copied into new memory
    start = time.perf_counter()
    for _ in range(2000):
        f.push(block)
    per_push_us = (time.perf_counter() - start) / 2000 * 1e6
    assert per_push_us < 50, f"push took {per_push_us:.1f} us per 2048-sample block"


def test_loudness_of_a_sine_and_of_silence():
    f = Features(RATE)
    push_all(f, sine(440, 0.1, amp=0.5))
    values = f.analyse({"loudness", "envelope"}, 0.0)
    assert f.level_db == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.3)  # -9 dBFS RMS
    assert values["loudness"] == pytest.approx(1 - 9.03 / 60, abs=0.01)
    assert values["envelope"] == pytest.approx(1 - 6.02 / 60, abs=0.01)  # the peak
    push_all(f, np.zeros(4800, np.float32))
    assert f.analyse({"loudness"}, 0.1)["loudness"] == 0.0


@pytest.mark.parametrize("freq", [82.4, 220.0, 440.0, 880.0])
def test_pitch_of_a_tone(freq):
    f = Features(RATE)
    push_all(f, sine(freq, 0.1) + 0.1 * sine(2 * freq, 0.1))
    f.analyse({"pitch"}, 0.0)
    assert f.pitch_hz == pytest.approx(freq, rel=0.01)
    note = 69 + 12 * np.log2(freq / 440)
    assert f.values["pitch"] == pytest.approx((note - 24) / 72, abs=0.01)


def test_pitch_holds_through_noise():
    f = Features(RATE)
    push_all(f, sine(220, 0.1))
    f.analyse({"pitch"}, 0.0)
    held = f.values["pitch"]
    push_all(f, np.random.default_rng(0).normal(0, 0.3, 4800).astype(np.float32))
    f.analyse({"pitch"}, 0.1)
    assert f.values["pitch"] == held


def test_onset_fires_on_a_hit_after_quiet_and_not_on_a_steady_tone():
    f = Features(RATE)
    tone = sine(220, 0.01, amp=0.05)  # 480 samples per tick at 100 Hz
    onsets = []
    for i in range(60):
        chunk = tone.copy()
        if i == 40:
            chunk = np.random.default_rng(1).normal(0, 0.8, len(tone)).astype(np.float32)
        f.push(chunk)
        onsets.append(f.analyse({"flux", "onset"}, i * 0.01)["onset"])
    assert onsets[40] == 1.0 or onsets[41] == 1.0
    assert sum(onsets[10:40]) == 0
