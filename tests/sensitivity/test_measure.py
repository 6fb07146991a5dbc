"""The six measures on signals whose change is known."""

from __future__ import annotations

import numpy as np
import pytest

from performer.sensitivity.measure import ONSET_CAP_MS, analyse, compare

SR = 44100


def harmonic(f0: float, seconds: float = 1.0, gain: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)  # no click at either end
    return gain * fade * sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 8))


def clicks(times, seconds: float = 1.0) -> np.ndarray:
    x = np.zeros(int(seconds * SR))
    rng = np.random.default_rng(0)
    for at in times:
        i = int(at * SR)
        x[i:i + 2000] += rng.standard_normal(2000) * np.exp(-np.arange(2000) / 200) * 0.5
    return x


@pytest.fixture(scope="module")
def reference():
    return analyse(np.concatenate([harmonic(220.0), clicks([0.2, 0.5, 0.8])]), SR)


def test_identical_renders_change_nothing(reference):
    got = compare(reference, reference)
    assert got == {"pitch_cents": 0.0, "voicing": 0.0, "loudness_db": 0.0, "level_db": 0.0, "centroid_oct": 0.0,
                   "brightness_oct": 0.0, "hnr_db": 0.0, "onset_ms": 0.0, "spectral": 0.0, "finite": True}


def test_a_semitone_up_reads_100_cents(reference):
    bent = analyse(np.concatenate([harmonic(220.0 * 2 ** (1 / 12)), clicks([0.2, 0.5, 0.8])]), SR)
    got = compare(reference, bent)
    assert got["pitch_cents"] == pytest.approx(100, abs=5)
    assert got["onset_ms"] < 5 and abs(got["level_db"]) < 0.5


def test_six_db_quieter_reads_six_db(reference):
    got = compare(reference, analyse(reference.audio * 0.5, SR))
    assert got["loudness_db"] == pytest.approx(6.02, abs=0.05)
    assert got["level_db"] == pytest.approx(-6.02, abs=0.01)
    assert got["pitch_cents"] == pytest.approx(0, abs=1) and abs(got["hnr_db"]) < 0.5


def test_added_noise_reads_noisier_and_brighter(reference):
    noise = np.random.default_rng(1).standard_normal(len(reference.audio)) * 0.05
    got = compare(reference, analyse(reference.audio + noise, SR))
    assert got["hnr_db"] < -5
    assert got["brightness_oct"] > 0.2 and got["centroid_oct"] >= got["brightness_oct"]
    assert got["spectral"] > 0.5


def test_late_onsets_read_as_timing(reference):
    bent = analyse(np.concatenate([harmonic(220.0), clicks([0.22, 0.52, 0.82])]), SR)
    got = compare(reference, bent)
    assert got["onset_ms"] == pytest.approx(20, abs=6)
    lost = compare(reference, analyse(np.concatenate([harmonic(220.0), clicks([])]), SR))
    assert lost["onset_ms"] > 0.5 * ONSET_CAP_MS


def test_nan_is_measured_as_the_guard_s_silence(reference):
    broken = reference.audio.copy()
    broken[1000] = np.nan
    got = compare(reference, analyse(broken, SR))
    assert got["finite"] is False
    assert got["level_db"] == -120.0 and got["pitch_cents"] is None and got["hnr_db"] is None
    assert got["voicing"] == 1.0 and got["loudness_db"] > 20


def test_spectral_distance_is_quality_s_mss(reference):
    from performer.train.quality import mss_distance

    noisy = analyse(reference.audio + np.random.default_rng(2).standard_normal(len(reference.audio)) * 0.01, SR)
    got = compare(reference, noisy)["spectral"]
    assert got == pytest.approx(mss_distance(reference.audio, noisy.audio), abs=1e-4)
    assert compare(reference, noisy)["spectral"] == got  # the reference's spectra, kept, give the same
