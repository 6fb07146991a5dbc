"""How far a bent render moved from the unbent one, in six measures (performer.train.quality's
analysis, compared render to render: both carry the same model delay, so nothing is aligned).

=============  ==============================================================================
pitch_cents    median |cents| between the two YIN f0 tracks, on frames voiced in both
               (None when fewer than a fifth of the reference's voiced frames stay voiced)
voicing        share of the reference's voiced frames the bent render lost (0..1)
loudness_db    mean |difference| of the 20 ms dB envelopes (each floored at -60 dBFS), over
               frames where either is above the floor; ``level_db``: overall RMS change, signed
centroid_oct   mean |log2 ratio| of the spectral centroids, over frames where both sound;
               ``brightness_oct``: the same, signed (+ brighter)
hnr_db         change of the mean harmonic-to-noise ratio on the reference's voiced frames,
               signed (- noisier), on every other such frame; None when the reference has no
               voiced frame or the bent render is silenced (40 dB or more below it)
onset_ms       mean distance from each onset of either render to the nearest of the other's,
               capped at 50 ms (a lost or new onset counts the cap)
spectral       multi-scale STFT distance (RAVE's reconstruction measure, quality.mss_distance)
=============  ==============================================================================

A render with NaN or Inf is measured as the silence the engine's guard would make of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from performer.train.quality import (EPS, MSS_SCALES, cents, hnr_db, level_difference_db, loudness_envelope,
                                     stft_magnitude, yin_f0)

FLOOR_DB = -60.0
ONSET_CAP_MS = 50.0
CENTROID_FFT = 2048
MIN_KEPT_VOICING = 0.2
SILENCED_DB = -40.0  # a bent render this far below the reference is measured as silenced


@dataclass
class Analysis:
    """What is measured once per render and compared."""

    audio: np.ndarray
    rate: int
    f0: np.ndarray
    voiced: np.ndarray
    envelope: np.ndarray
    centroid: np.ndarray  # Hz per frame, NaN where the frame is silent
    onsets: np.ndarray  # seconds
    finite: bool
    memo: dict = field(default_factory=dict, repr=False)  # the reference's own figures, computed once


def analyse(audio: np.ndarray, rate: int) -> Analysis:
    audio = np.asarray(audio, dtype=np.float64).reshape(-1)
    finite = bool(np.isfinite(audio).all())
    if not finite:
        audio = np.zeros_like(audio)  # what the NaN/Inf guard plays
    f0, voiced, _ = yin_f0(audio, rate)
    envelope = loudness_envelope(audio, rate, 20.0, floor_db=FLOOR_DB)
    mag = stft_magnitude(audio, CENTROID_FFT)
    return Analysis(audio, rate, f0, voiced, envelope, _centroid(mag, rate), _onsets(mag, rate), finite)


def _centroid(mag: np.ndarray, rate: int) -> np.ndarray:
    freqs = np.fft.rfftfreq(CENTROID_FFT, 1.0 / rate)
    power = mag ** 2
    total = power.sum(axis=1)
    loud = total > (10 ** (FLOOR_DB / 10)) * CENTROID_FFT / 8  # about -60 dBFS in the frame
    with np.errstate(invalid="ignore", divide="ignore"):
        centroid = (power @ freqs) / total
    return np.where(loud, centroid, np.nan)


def _onsets(mag: np.ndarray, rate: int, hop: int = CENTROID_FFT // 4) -> np.ndarray:
    """Peaks of the half-wave-rectified log spectral flux above an adaptive threshold (the
    median of the surrounding 0.2 s plus a fixed margin), at least 50 ms apart."""
    logmag = np.log1p(100.0 * mag)
    flux = np.maximum(np.diff(logmag, axis=0), 0.0).sum(axis=1)
    if flux.size < 3:
        return np.zeros(0)
    flux /= max(float(np.percentile(flux, 99)), 1e-9)
    reach = max(1, int(0.1 * rate / hop))
    padded = np.pad(flux, reach, mode="edge")
    local = np.array([np.median(padded[i:i + 2 * reach + 1]) for i in range(len(flux))])
    gap = max(1, int(0.05 * rate / hop))
    peaks, last = [], -gap
    for i in range(1, len(flux) - 1):
        if flux[i] > local[i] + 0.3 and flux[i] >= flux[i - 1] and flux[i] >= flux[i + 1] and i - last >= gap:
            peaks.append(i)
            last = i
    return (np.array(peaks, dtype=float) + 1.0) * hop / rate  # frame i+1 of the flux is where it rose


def _onset_distance_ms(a: np.ndarray, b: np.ndarray) -> float:
    if not a.size and not b.size:
        return 0.0
    if not a.size or not b.size:
        return ONSET_CAP_MS
    near_a = np.abs(a[:, None] - b[None, :]).min(axis=1) * 1000
    near_b = np.abs(b[:, None] - a[None, :]).min(axis=1) * 1000
    return float(np.minimum(np.concatenate([near_a, near_b]), ONSET_CAP_MS).mean())


def spectral_distance(ref: Analysis, bent: Analysis, log_eps: float = 1e-4) -> float:
    """``quality.mss_distance(ref.audio, bent.audio)``, with the reference's spectra computed once
    (they are half the cost, and every bend of a map is compared with the same reference)."""
    n = min(len(ref.audio), len(bent.audio))
    spectra = ref.memo.setdefault(("mss", n), {})
    total = 0.0
    for scale in MSS_SCALES:
        if scale not in spectra:
            X = stft_magnitude(ref.audio[:n], scale)
            spectra[scale] = (X, _norm(X), np.log(X + log_eps))
        X, norm_x, log_x = spectra[scale]
        Y = stft_magnitude(bent.audio[:n], scale)
        total += _norm(X - Y) / max(norm_x, EPS)
        total += float(np.mean(np.abs(log_x - np.log(Y + log_eps))))
    return total


def _norm(x: np.ndarray) -> float:
    # np.linalg.norm goes through BLAS, whose threads spin against each other on a busy machine
    # (20 ms for what takes 1 ms here); a plain sum of squares is the same number
    return math.sqrt(float(np.sum(np.square(x))))


def _finite(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def compare(ref: Analysis, bent: Analysis) -> dict:
    """The change from ``ref`` to ``bent`` (see the table above); plain JSON numbers."""
    n = min(len(ref.f0), len(bent.f0))
    ref_voiced, both = ref.voiced[:n], ref.voiced[:n] & bent.voiced[:n]
    count = int(ref_voiced.sum())
    pitch = None
    voicing = 1.0 - both.sum() / count if count else 0.0
    if count and both.sum() >= max(1, MIN_KEPT_VOICING * count):
        pitch = float(np.median(np.abs(cents(bent.f0[:n][both], ref.f0[:n][both]))))

    m = min(len(ref.envelope), len(bent.envelope))
    active = (ref.envelope[:m] > FLOOR_DB) | (bent.envelope[:m] > FLOOR_DB)
    loudness = float(np.abs(ref.envelope[:m] - bent.envelope[:m])[active].mean()) if active.any() else 0.0

    k = min(len(ref.centroid), len(bent.centroid))
    ratio = np.log2(bent.centroid[:k] / ref.centroid[:k])
    ratio = ratio[np.isfinite(ratio)]
    sounding = np.isfinite(ref.centroid[:k])
    if ratio.size:
        centroid, brightness = float(np.abs(ratio).mean()), float(ratio.mean())
    elif sounding.any():  # the reference sounds but the bent render is silent throughout
        centroid, brightness = 4.0, -4.0
    else:
        centroid, brightness = 0.0, 0.0

    level = max(level_difference_db(ref.audio, bent.audio), -120.0)
    hnr = None
    if count and level > SILENCED_DB:  # a silenced render has no harmonicity to speak of
        frames = np.zeros(len(ref.f0), dtype=bool)
        frames[:n:2] = ref_voiced[::2]  # every other voiced frame: half the cost, the same mean
        if "hnr" not in ref.memo:
            ref.memo["hnr"] = hnr_db(ref.audio, ref.rate, frames=frames)
        h_ref, h_bent = ref.memo["hnr"], hnr_db(bent.audio, bent.rate, frames=frames)
        if h_ref is not None and h_bent is not None:
            hnr = h_bent - h_ref

    return {
        "pitch_cents": _finite(pitch, 2),
        "voicing": _finite(voicing, 4),
        "loudness_db": _finite(loudness, 3),
        "level_db": _finite(level, 3),
        "centroid_oct": _finite(centroid, 4),
        "brightness_oct": _finite(brightness, 4),
        "hnr_db": _finite(hnr, 3),
        "onset_ms": _finite(_onset_distance_ms(ref.onsets, bent.onsets), 2),
        "spectral": _finite(spectral_distance(ref, bent), 4),
        "finite": bent.finite,
    }
