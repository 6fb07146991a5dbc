"""Quality measurements on signals with known answers, and evaluate() on a genuine RAVE export."""

import math

import numpy as np
import pytest

from performer.train.probes import PROBES
from performer.train.quality import (BAR, align, estimate_lag, evaluate, hnr_db, level_difference_db,
                                     loudness_correlation, loudness_envelope, mss_distance, pitch_agreement,
                                     run_streaming, yin_f0)

SR = 44100
T = np.arange(SR) / SR


def harmonic(f0, seconds=1.0, harmonics=10, amp=0.3):
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * f0 * h * t + h) / h for h in range(1, harmonics + 1) if f0 * h < SR / 2)
    return (amp * x / np.max(np.abs(x))).astype(np.float32)


def noise(seconds=1.0, seed=0, amp=0.1):
    return (amp * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


@pytest.mark.parametrize("f0", [100.0, 220.0, 440.0, 880.0])
@pytest.mark.parametrize("kind", ["sine", "harmonic"])
def test_yin_finds_the_f0_of_tones(f0, kind):
    x = 0.5 * np.sin(2 * np.pi * f0 * T) if kind == "sine" else harmonic(f0)
    est, voiced, aperiodicity = yin_f0(x, SR)
    assert voiced.all()
    assert np.abs(1200 * np.log2(est / f0)).max() < 3  # cents
    assert aperiodicity.max() < 0.05


def test_yin_says_white_noise_and_silence_are_unvoiced():
    _, voiced, aperiodicity = yin_f0(noise(), SR)
    assert voiced.mean() < 0.05
    assert np.median(aperiodicity) > 0.5
    assert not yin_f0(np.zeros(SR), SR)[1].any()


def test_pitch_agreement_with_itself_and_a_semitone_away():
    x = harmonic(220.0)
    same = pitch_agreement(x, x, SR)
    assert same["fraction"] == 1.0 and same["median_cents"] == 0.0 and same["output_voiced"] == 1.0
    up = np.interp(np.arange(SR) * 2 ** (1 / 12), np.arange(SR), x, right=0.0)[:SR // 2 * 2]
    shifted = pitch_agreement(x[:len(up)], up, SR)  # a semitone up over the first 0.94 s
    assert shifted["fraction"] < 0.1
    assert shifted["median_cents"] == pytest.approx(100, abs=5)
    unvoiced_out = pitch_agreement(x, noise(), SR)  # an unvoiced output frame is a miss
    assert unvoiced_out["fraction"] < 0.05
    assert pitch_agreement(noise(), x, SR)["fraction"] is None  # no voiced input frame


def test_hnr_of_harmonic_tone_noise_and_known_snr():
    tone = harmonic(220.0, harmonics=5)
    assert hnr_db(tone, SR) > 20
    every = np.ones(100, dtype=bool)
    assert hnr_db(noise(), SR, frames=every) < 0
    for snr in (10.0, 20.0):
        n = noise(seed=3)
        n *= np.sqrt(np.mean(tone.astype(float) ** 2) / np.mean(n.astype(float) ** 2)) * 10 ** (-snr / 20)
        assert hnr_db(tone + n, SR, frames=every) == pytest.approx(snr, abs=2.0)
    assert hnr_db(tone, SR, frames=np.zeros(100, dtype=bool)) is None


def test_hnr_compares_output_on_the_inputs_voiced_frames():
    x = np.concatenate([np.zeros(SR // 2, np.float32), harmonic(150.0)])
    voiced = yin_f0(x, SR)[1]
    assert 0.5 < voiced.mean() < 0.8
    assert hnr_db(x, SR, frames=voiced) == pytest.approx(hnr_db(x, SR))
    assert hnr_db(noise(1.5), SR, frames=voiced) < 0


def test_mss_distance_is_zero_for_identical_signals_and_grows_with_noise():
    x = PROBES["glide"](seconds=1.0)
    assert mss_distance(x, x, SR) == 0.0
    small = mss_distance(x, x + noise(amp=0.001), SR)
    large = mss_distance(x, x + noise(amp=0.05), SR)
    assert 0 < small < large


def test_loudness_of_a_scaled_copy():
    x = PROBES["speechlike"](seconds=2.0)
    assert loudness_correlation(x, 0.5 * x, SR) == pytest.approx(1.0, abs=1e-9)
    assert level_difference_db(x, 0.5 * x) == pytest.approx(-6.0206, abs=1e-3)
    env = loudness_envelope(0.5 * np.sin(2 * np.pi * 1000 * T), SR)
    assert len(env) == 50 and env == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.01)
    assert loudness_correlation(x, np.zeros_like(x), SR) is None  # a silent output has no envelope


@pytest.mark.parametrize("delay", [0, 683, 2222])
def test_align_recovers_a_known_delay(delay):
    x = PROBES["noise_bursts"](seconds=2.0)
    y = np.concatenate([np.zeros(delay, np.float32), 0.7 * x])
    y += noise(seconds=2.0 + delay / SR, amp=1e-4)[:len(y)]
    assert estimate_lag(x, y, SR, max_lag=4096) == delay
    a, b, lag = align(x, y, max_lag=4096)
    assert lag == delay and len(a) == len(b) == len(x)
    np.testing.assert_allclose(b, 0.7 * a, atol=1e-3)
    a, b, lag = align(x, y, delay=100)
    assert lag == 100 and len(a) == len(b)
    assert estimate_lag(np.zeros(SR), np.zeros(SR), SR, min_lag=7) == 7  # nothing to go on


# -- on a genuine RAVE export (random weights: this checks the plumbing, not the quality) ------
def _walk(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}/{k}")
    else:
        yield path, value


@pytest.mark.fixtures
def test_evaluate_reports_every_figure(small_model_path):
    from performer.model import load_model

    model = load_model(small_model_path)
    random_model = load_model(small_model_path)
    probes = {name: fn(seconds=1.5) for name, fn in PROBES.items()}
    heldout = PROBES["speechlike"](seconds=1.5, seed=9)
    f = np.full(SR, 196.0)
    pitched = [(harmonic(196.0), f), (harmonic(294.0), f * 1.5)]
    outputs = {}
    report = evaluate(model, heldout, pitched, random_model, probes=probes, rtf_seconds=0.5, outputs=outputs)

    assert set(report["signals"]) == {"glide", "noise_bursts", "speechlike", "heldout", "pitched"}
    assert set(outputs) == set(report["signals"])
    fields = {"seconds", "loudness_r", "level_db", "mss", "pitch_fraction", "median_cents", "voiced_frames",
              "output_voiced", "hnr_in", "hnr_out", "hnr_diff", "lag"}
    for name, figures in report["signals"].items():
        assert set(figures) == fields, name
        for key in ("loudness_r", "level_db", "mss", "lag"):
            assert figures[key] is not None, (name, key)
        assert report["first_response_delay"] <= figures["lag"] <= report["first_response_delay"] + 8192
    for name in ("glide", "speechlike", "heldout", "pitched"):
        assert report["signals"][name]["voiced_frames"] > 0
        assert report["signals"][name]["pitch_fraction"] is not None
        assert report["signals"][name]["hnr_in"] is not None
    for key in ("mss_heldout", "mss_random", "mss_ratio", "rtf", "yin_truth_agreement"):
        assert report[key] is not None, key
    assert report["yin_truth_agreement"] > 0.9
    assert set(report["passes"]) == {"loudness", "level", "mss", "pitch", "hnr", "rtf", "all"}
    assert all(isinstance(v, bool) for v in report["passes"].values())
    assert report["bar"] == BAR
    for path, value in _walk(report):
        if isinstance(value, float):
            assert math.isfinite(value), path


@pytest.mark.fixtures
def test_run_streaming_continues_the_stream(small_model_path):
    from performer.model import load_model

    model = load_model(small_model_path)
    x = PROBES["glide"](seconds=0.5)
    whole = run_streaming(model, x, block=2048)
    assert whole.shape == x.shape and whole.dtype == np.float32 and np.isfinite(whole).all()
    np.testing.assert_allclose(run_streaming(model, x, block=2048), whole, atol=1e-5)  # caches reset
    assert not np.allclose(run_streaming(model, x, block=1024)[:4096], 0)
    with pytest.raises(ValueError, match="multiple"):
        run_streaming(model, x, block=1000)
