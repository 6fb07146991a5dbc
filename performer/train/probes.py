"""Probe signals for judging a model: synthetic material it never trains on.

Every probe is 44100 Hz mono float32, deterministic (seeded), and built so one property can be
checked on the model's output (see ``performer.train.quality``):

``glide``         a band-limited sawtooth-like tone gliding over three octaves, with swells and
                  tremolo: does the output follow pitch and loudness over a wide range?
``noise_bursts``  white and pink noise bursts of 50-500 ms at peaks from -40 to -6 dBFS, with
                  silences between: does the output follow level and stay quiet in the gaps?
``speechlike``    a glottal-pulse source with intonation through formant resonators (three
                  switching among six vowels, two fixed), fricative noise, syllabic rhythm and a pause.

``PROBES`` maps each name to its function (called with defaults, or ``seconds=`` / ``seed=``).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

SR = 44100
PEAK_DB = -6.0  # the peak of glide and speechlike; noise bursts peak between -40 and -6 dBFS


def _db(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def _ramp(n: int) -> np.ndarray:
    """A raised-cosine rise over ``n`` samples (0 -> 1)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / max(n, 1))


def _edge_fades(x: np.ndarray, ms: float = 10.0) -> np.ndarray:
    n = min(len(x) // 2, int(SR * ms / 1000))
    if n:
        x[:n] *= _ramp(n)
        x[-n:] *= _ramp(n)[::-1]
    return x


def _normalise(x: np.ndarray, peak_db: float = PEAK_DB) -> np.ndarray:
    peak = float(np.max(np.abs(x)))
    return (x * (_db(peak_db) / peak if peak > 0 else 1.0)).astype(np.float32)


# -- glide ----------------------------------------------------------------------------------
GLIDE_POINTS_HZ = (110.0, 880.0, 300.0, 180.0)
GLIDE_HARMONICS = 80


def glide_f0(seconds: float = 6.0) -> np.ndarray:
    """The glide's f0 per sample: exponential (straight in log frequency) 110 -> 880 -> 300 ->
    180 Hz, each leg a third of the signal."""
    n = int(round(seconds * SR))
    t = np.linspace(0.0, 1.0, n, endpoint=False)
    knots = np.linspace(0.0, 1.0, len(GLIDE_POINTS_HZ))
    return np.exp(np.interp(t, knots, np.log(GLIDE_POINTS_HZ)))


def glide(seconds: float = 6.0) -> np.ndarray:
    """A sawtooth-like tone (80 harmonics at 1/h, each faded out before it passes 0.45 x the
    sample rate, so nothing aliases) gliding exponentially 110 -> 880 -> 300 -> 180 Hz; sin^2
    swells with a 1.5 s period, 5 Hz tremolo (+-30 %), an overall fade from 0 to -12 dB, 10 ms
    edge ramps, peak -6 dBFS. No randomness."""
    f0 = glide_f0(seconds)
    n = len(f0)
    t = np.arange(n) / SR
    phase = 2.0 * np.pi * np.cumsum(f0) / SR
    x = np.zeros(n)
    lo, hi = 0.40 * SR, 0.45 * SR  # harmonics fade out between these instantaneous frequencies
    for h in range(1, GLIDE_HARMONICS + 1):
        fh = h * f0
        if fh.min() >= hi:
            break
        taper = np.clip((hi - fh) / (hi - lo), 0.0, 1.0)
        x += taper * np.sin(h * phase) / h
    swell = np.sin(np.pi * t / 1.5) ** 2
    tremolo = (1.0 + 0.3 * np.sin(2 * np.pi * 5.0 * t)) / 1.3
    fade = 10.0 ** (-12.0 * t / max(seconds, 1e-9) / 20.0)
    return _normalise(_edge_fades(x * swell * tremolo * fade))


# -- noise bursts ---------------------------------------------------------------------------
def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    """Pink (1/f power) noise by spectral shaping of white noise, zero mean."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=float)
    f[0] = 1.0
    spectrum /= np.sqrt(f)
    spectrum[0] = 0.0
    return np.fft.irfft(spectrum, n)


def noise_bursts(seconds: float = 6.0, seed: int = 1) -> np.ndarray:
    """White or pink noise bursts (50-500 ms, each scaled to a peak drawn uniformly in -40..-6
    dBFS, 5 ms raised-cosine ramps) separated by silent gaps of 60-400 ms; the first starts after
    a gap. The loudest burst is set to exactly -6 dBFS, so the range is always used."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * SR))
    x = np.zeros(n)
    ramp = int(0.005 * SR)
    pos = int(rng.uniform(0.05, 0.2) * SR)
    bursts = []
    while True:
        length = int(rng.uniform(0.05, 0.5) * SR)
        if pos + length > n - int(0.02 * SR):
            break
        burst = _pink(rng, length) if rng.random() < 0.5 else rng.standard_normal(length)
        burst[:ramp] *= _ramp(ramp)
        burst[-ramp:] *= _ramp(ramp)[::-1]
        peak_db = rng.uniform(-40.0, -6.0)
        x[pos:pos + length] = burst * (_db(peak_db) / np.max(np.abs(burst)))
        bursts.append((pos, length, peak_db))
        pos += length + int(rng.uniform(0.06, 0.4) * SR)
    if bursts:  # the loudest burst to -6 dBFS exactly
        pos, length, peak_db = max(bursts, key=lambda b: b[2])
        x[pos:pos + length] *= _db(-6.0) / _db(peak_db)
    return x.astype(np.float32)


# -- speechlike -----------------------------------------------------------------------------
# (F1, F2, F3) Hz of six vowels (Peterson & Barney, adult male averages): a, e, i, o, u, ae.
VOWELS = ((730, 1090, 2440), (530, 1840, 2480), (270, 2290, 3010), (570, 840, 2410), (300, 870, 2240),
          (660, 1720, 2410))
FORMANT_BANDWIDTHS = (80.0, 100.0, 140.0, 200.0, 250.0)
FIXED_FORMANTS = (3500.0, 4500.0)  # F4, F5: the same for every vowel, they give the highs presence
PAUSE_SECONDS = 0.7
CHUNK = 110  # formant filters are updated every 2.5 ms (coefficients interpolated between targets)


def _rosenberg(frac: np.ndarray, open_q: float = 0.45, close_q: float = 0.15) -> np.ndarray:
    """Rosenberg glottal flow over one period's phase ``frac`` in [0, 1)."""
    g = np.zeros_like(frac)
    rising = frac < open_q
    g[rising] = 0.5 * (1.0 - np.cos(np.pi * frac[rising] / open_q))
    closing = (frac >= open_q) & (frac < open_q + close_q)
    g[closing] = np.cos(0.5 * np.pi * (frac[closing] - open_q) / close_q)
    return g


def _smooth_noise(rng: np.random.Generator, n: int, points_per_second: float) -> np.ndarray:
    """A smooth random curve in about -1..1 (cubic interpolation of random points)."""
    from scipy.interpolate import CubicSpline

    k = max(4, int(n / SR * points_per_second) + 2)
    xs = np.linspace(0, n, k)
    return CubicSpline(xs, rng.uniform(-1, 1, k))(np.arange(n))


def _resonate(x: np.ndarray, freqs: np.ndarray, bandwidths: tuple[float, ...]) -> np.ndarray:
    """Cascade of Klatt resonators (unity gain at DC) whose frequencies follow ``freqs``
    [n, formants], updated every CHUNK samples with the filter state carried over."""
    y = x.copy()
    for k, bw in enumerate(bandwidths):
        r = np.exp(-np.pi * bw / SR)
        zi = np.zeros(2)
        out = np.empty_like(y)
        for start in range(0, len(y), CHUNK):
            f = freqs[min(start + CHUNK // 2, len(y) - 1), k]
            b1 = 2 * r * np.cos(2 * np.pi * f / SR)
            b2 = -r * r
            a0 = 1.0 - b1 - b2
            seg, zi = lfilter([a0], [1.0, -b1, -b2], y[start:start + CHUNK], zi=zi)
            out[start:start + CHUNK] = seg
        y = out
    return y


def speechlike(seconds: float = 6.0, seed: int = 2) -> np.ndarray:
    """A speech-like signal: a Rosenberg glottal-pulse train (its derivative, which includes lip
    radiation) with f0 declining over each phrase inside 100-170 Hz plus smooth random
    intonation; cascaded formant resonators, F1-F3 gliding (30 ms) between six vowels drawn
    every 150-300 ms, F4 and F5 fixed; fricatives (high-passed > 3 kHz noise) replacing the
    voicing in about a quarter of those segments, with 10 ms cross-fades; 4 Hz syllabic
    amplitude modulation; a 0.7 s pause at 45 % of the signal. The source starts at a closed
    glottis and the first 20 ms are faded in, so no start-up transient; peak -6 dBFS."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * SR))
    t = np.arange(n) / SR
    pause_start = 0.45 * seconds
    pause_end = pause_start + min(PAUSE_SECONDS, 0.3 * seconds)
    speaking = ((t < pause_start) | (t >= pause_end)).astype(float)

    # Intonation: per phrase a fall from ~160 to ~110 Hz, with smooth random accents.
    phrase_pos = np.where(t < pause_start, t / max(pause_start, 1e-9),
                          (t - pause_end) / max(seconds - pause_end, 1e-9))
    f0 = 160.0 - 50.0 * np.clip(phrase_pos, 0, 1) + 10.0 * _smooth_noise(rng, n, 3.0)
    f0 = np.clip(f0, 100.0, 170.0)
    phase = np.cumsum(f0) / SR
    flow = _rosenberg(phase % 1.0)
    source = np.diff(flow, prepend=0.0) * SR / 1000.0  # glottal flow derivative

    # Vowel targets every 150-300 ms, 30 ms glides between them; fricatives on some segments.
    freqs = np.empty((n, 3 + len(FIXED_FORMANTS)))
    freqs[:, 3:] = FIXED_FORMANTS
    voiced = np.ones(n)
    edges = [0]
    while edges[-1] < n:
        edges.append(edges[-1] + int(rng.uniform(0.15, 0.3) * SR))
    previous = np.array(VOWELS[rng.integers(len(VOWELS))], dtype=float)
    glide_n = int(0.03 * SR)
    for a, b in zip(edges[:-1], edges[1:]):
        b = min(b, n)
        target = np.array(VOWELS[rng.integers(len(VOWELS))], dtype=float)
        w = np.clip(np.arange(b - a) / glide_n, 0.0, 1.0)[:, None]
        freqs[a:b, :3] = previous + (target - previous) * w
        previous = target
        if a > 0 and rng.random() < 0.25:  # a fricative replaces the voicing
            voiced[a:b] = 0.0
    kernel = np.hanning(int(0.02 * SR))  # 10 ms ramps at every voicing change, adjacent fricatives merged
    voiced = np.convolve(voiced, kernel / kernel.sum(), mode="same")
    voiced[: len(kernel)] = voiced[len(kernel)]  # no fade from the zero padding at the ends
    voiced[-len(kernel):] = voiced[-len(kernel) - 1]
    vowels = _resonate(source * voiced, freqs, FORMANT_BANDWIDTHS)

    hp = butter(4, 3000.0, btype="highpass", fs=SR, output="sos")
    hiss = sosfilt(hp, rng.standard_normal(n + SR // 10))[SR // 10:]  # filter settled before use
    hiss *= (1.0 - voiced) * 0.25 * np.std(vowels[voiced > 0.5]) / max(np.std(hiss), 1e-12)

    syllables = 0.3 + 0.7 * np.sin(np.pi * 4.0 * t) ** 2  # 4 Hz, starting in a trough
    pause_ramp = int(0.02 * SR)
    gate = speaking.copy()
    i0, i1 = int(pause_start * SR), int(pause_end * SR)
    gate[max(0, i0 - pause_ramp):i0] = _ramp(min(pause_ramp, i0))[::-1]
    if i1 < n:
        gate[i1:i1 + pause_ramp] = _ramp(min(pause_ramp, n - i1))
    x = (vowels + hiss) * syllables * gate
    start = int(0.02 * SR)
    x[:start] *= _ramp(start)
    x[-start:] *= _ramp(start)[::-1]
    return _normalise(x)


PROBES: dict[str, Callable[..., np.ndarray]] = {
    "glide": glide,
    "noise_bursts": noise_bursts,
    "speechlike": speechlike,
}
