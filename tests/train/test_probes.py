"""Probe signals: deterministic, finite, at the levels and with the structure they promise."""

import numpy as np
import pytest

from performer.train.probes import PROBES, SR, glide, glide_f0, noise_bursts, speechlike
from performer.train.quality import cents, loudness_envelope, yin_f0


def peak_db(x):
    return 20 * np.log10(np.max(np.abs(x)))


def runs(mask):
    """(start, length) of each run of True in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return list(zip(starts, stops - starts))


@pytest.fixture(scope="module")
def signals():
    return {name: fn() for name, fn in PROBES.items()}


def test_every_probe_is_deterministic_finite_mono_float32(signals):
    assert set(PROBES) == {"glide", "noise_bursts", "speechlike"}
    for name, x in signals.items():
        assert x.dtype == np.float32 and x.ndim == 1 and len(x) == 6 * SR, name
        assert np.isfinite(x).all(), name
        np.testing.assert_array_equal(x, PROBES[name](), err_msg=name)
    assert len(glide(seconds=2.0)) == 2 * SR


def test_seeds_change_the_random_probes():
    assert not np.array_equal(noise_bursts(seconds=2.0, seed=1), noise_bursts(seconds=2.0, seed=5))
    assert not np.array_equal(speechlike(seconds=2.0, seed=2), speechlike(seconds=2.0, seed=5))


def test_glide_and_speechlike_peak_at_minus_6_dbfs(signals):
    for name in ("glide", "speechlike"):
        assert peak_db(signals[name]) == pytest.approx(-6.0, abs=0.01), name


def test_noise_bursts_lengths_and_peaks(signals):
    x = signals["noise_bursts"]
    assert peak_db(x) == pytest.approx(-6.0, abs=0.01)
    bursts = runs(x != 0)
    assert len(bursts) >= 6
    for start, length in bursts:
        assert 0.05 * SR - 2 <= length <= 0.5 * SR + 2
        assert -40.01 <= peak_db(x[start:start + length]) <= -5.99
    assert x[0] == 0 and x[-1] == 0  # starts and ends in a gap
    gaps = [length for _, length in runs(x == 0)[1:-1]]
    assert min(gaps) >= 0.06 * SR - 2


def test_glide_follows_its_f0_path(signals):
    f0, voiced, _ = yin_f0(signals["glide"], SR)
    path = glide_f0()
    truth = path[np.arange(len(f0)) * 512 + 1024]
    assert voiced.mean() > 0.8
    err = np.abs(cents(f0[voiced], truth[voiced]))
    assert np.median(err) < 10
    assert path[0] == pytest.approx(110) and path.max() == pytest.approx(880, rel=1e-3)
    assert path[-1] == pytest.approx(180, rel=0.01)


def test_speechlike_structure(signals):
    x = signals["speechlike"]
    f0, voiced, _ = yin_f0(x, SR)
    assert 0.4 < voiced.mean() < 0.9
    assert 95 < np.percentile(f0[voiced], 5) and np.percentile(f0[voiced], 95) < 180
    silent = runs(np.abs(x) < 1e-6)
    assert max(length for _, length in silent) >= 0.65 * SR  # the pause
    env = loudness_envelope(x, SR)
    assert np.all(np.diff(env[:4]) > 0)  # it starts softly and rises: no start-up transient
    assert np.max(np.abs(x[:SR // 20])) < 0.6 * np.max(np.abs(x))
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    assert spectrum[freqs > 3000].sum() > 0.01 * spectrum.sum()  # fricatives and upper formants
