import json

import numpy as np
import pytest

from performer.train.data import SAMPLE_RATE, ExcerptSampler, make_pool, pitched_segments, render_segment
from performer.train.instruments import partial_limit, synthesize

SR = SAMPLE_RATE


def estimate_f0(x, sr, fmin=60.0, fmax=1100.0):
    """YIN-style: the first dip of the cumulative-mean-normalised difference close to its minimum."""
    w = x.size // 2
    lags = np.arange(1, int(sr / fmin) + 1)
    d = np.array([np.sum((x[:w] - x[t:t + w]) ** 2) for t in lags])
    cm = d * lags / np.maximum(np.cumsum(d), 1e-30)
    lo = int(sr / fmax)
    i = lo + np.flatnonzero(cm[lo:] < cm[lo:].min() + 0.1)[0]
    while i + 1 < cm.size and cm[i + 1] < cm[i]:
        i += 1
    a, b, c = cm[i - 1], cm[i], cm[min(i + 1, cm.size - 1)]
    return sr / (lags[i] + 0.5 * (a - c) / (a - 2 * b + c + 1e-30))


def test_segments_are_float32_finite_and_peak_within_the_drawn_range():
    rng = np.random.default_rng(0)
    for _ in range(6):
        y = render_segment(rng)
        assert y.dtype == np.float32 and y.shape == (4 * SR,)
        assert np.isfinite(y).all()
        peak_db = 20 * np.log10(np.abs(y).max())
        assert -24.01 <= peak_db <= -0.99
    assert render_segment(np.random.default_rng(1), 0.5, 16000).shape == (8000,)


def test_a_segment_depends_only_on_its_generator():
    a = render_segment(np.random.default_rng(7))
    assert np.array_equal(a, render_segment(np.random.default_rng(7)))
    assert not np.array_equal(a, render_segment(np.random.default_rng(8)))


def test_pool_is_reproducible_and_the_same_whatever_the_worker_count():
    one = make_pool(5, 6.5)  # two segments, the second cut short
    assert one.dtype == np.float32 and one.shape == (round(6.5 * SR),)
    assert np.array_equal(one, make_pool(5, 6.5, workers=2))
    assert not np.array_equal(one, make_pool(6, 6.5))
    # documented seeding: segment i comes from SeedSequence(seed).spawn(...)[i]
    second = np.random.SeedSequence(5).spawn(2)[1]
    assert np.array_equal(one[4 * SR:], render_segment(np.random.default_rng(second))[: round(2.5 * SR)])


def test_pool_has_rests():
    pool = make_pool(3, 24.0)
    frames = np.abs(pool[: pool.size // 441 * 441].reshape(-1, 441)).max(1)  # 10 ms frames
    assert 0.02 < np.mean(frames < 1e-5) < 0.6
    assert np.abs(pool).max() < 1.0


def test_sampler_shapes_and_gain_range():
    pool = np.full(10_000, 0.1, np.float32)
    x = ExcerptSampler(pool, 1000, seed=0).batch(400)
    assert x.dtype == np.float32 and x.shape == (400, 1000)
    gain_db = 20 * np.log10(x[:, 0] / 0.1)
    assert np.allclose(x, x[:, :1])  # one gain per excerpt
    assert gain_db.min() >= -12.0001 and gain_db.max() <= 6.0001
    assert gain_db.min() < -10 and gain_db.max() > 4  # the whole range is used
    hot = ExcerptSampler(np.full(100, 0.9, np.float32), 10, seed=0).batch(200)
    assert hot.max() == pytest.approx(0.99) and hot.min() > 0


def test_sampler_excerpts_are_windows_of_the_pool():
    pool = np.arange(5000, dtype=np.float32) / 10_000  # under 0.5: +6 dB never clips
    x = ExcerptSampler(pool, 64, seed=1).batch(50).astype(np.float64)
    slope = np.diff(x, axis=1) * 10_000  # = the excerpt's gain when it is a contiguous window
    assert np.allclose(slope, slope[:, :1], rtol=1e-3, atol=1e-3)
    assert slope.min() > 0.2
    with pytest.raises(ValueError):
        ExcerptSampler(pool[:10], 64, seed=1)


def test_sampler_state_round_trip_resumes_the_same_batches():
    pool = np.random.default_rng(0).standard_normal(20_000).astype(np.float32) * 0.3
    s = ExcerptSampler(pool, 512, seed=3)
    s.batch(8)
    saved = json.loads(json.dumps(s.state()))  # survives a text checkpoint
    expect = [s.batch(8) for _ in range(3)]
    resumed = ExcerptSampler(pool, 512, seed=99)
    resumed.set_state(saved)
    for e in expect:
        assert np.array_equal(resumed.batch(8), e)
    fresh = ExcerptSampler(pool, 512, seed=3)
    fresh.batch(8)
    assert np.array_equal(fresh.batch(8), expect[0])


def test_pitched_segments_labels_match_the_audio():
    segs = pitched_segments(3, 4)
    assert len(segs) == 4
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(segs, pitched_segments(3, 4)))
    checked = agree = 0
    for y, f0 in segs:
        assert y.dtype == f0.dtype == np.float32 and y.shape == f0.shape == (4 * SR,)
        assert (f0 == 0).any() and (f0 > 0).any()
        assert f0[f0 > 0].min() > 60 and f0.max() < 1100
        w = 4096
        for s in range(0, y.size - w, w):
            lab, x = f0[s:s + w], y[s:s + w].astype(np.float64)
            # steady, sounding stretches only: the label is the tone's f0 there
            if lab.min() <= 0 or lab.max() / lab.min() > 1.02 or np.sqrt(np.mean(x**2)) < 0.03 * np.abs(y).max():
                continue
            checked += 1
            agree += abs(estimate_f0(x, SR) / lab.mean() - 1) < 0.03
    assert checked >= 20 and agree >= 0.95 * checked


def test_held_out_material_differs_from_the_pool_of_the_same_seed():
    y, _ = pitched_segments(5, 1)[0]
    assert not np.array_equal(y, make_pool(5, 4.0))


@pytest.mark.parametrize("sr,seed", [(SR, 0), (SR, 3), (SR, 11), (16000, 1)])
def test_partials_stay_below_the_limit(sr, seed):
    y, f0 = synthesize(np.random.default_rng(seed), 3.0, sr, percussion=False, noise=False)
    spec = np.abs(np.fft.rfft(y.astype(np.float64) * np.hanning(y.size))) ** 2
    freqs = np.fft.rfftfreq(y.size, 1 / sr)
    assert spec[freqs > 0.46 * sr].sum() < 1e-8 * spec.sum()  # -80 dB: nothing folds back
    assert spec[freqs > partial_limit(sr) + 300].sum() < 1e-8 * spec.sum()
