"""The probe: one fixed, seeded signal of varied material that every bend is rendered through.

Three parts, so each measured dimension has something to act on: a **pitched** tone (harmonics
at 1/h, gliding over an octave with vibrato and a swell: pitch, harmonicity, brightness), **noise**
bursts (pink and white, at different levels: loudness, brightness) and **percussive** hits
(decaying noise clicks and a pitched thump, at seeded times: onset timing). Short gaps of silence
between the parts let the model's state settle. Built at the model's own rate, so nothing is
resampled; the same (rate, seconds, seed) always gives the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PEAK = 0.5  # -6 dBFS: loud enough to drive a model, with headroom
SHARES = (0.45, 0.25, 0.30)  # pitched, noise, percussive: the pitch measures need the most frames
GAP_S = 0.08


@dataclass(frozen=True)
class Probe:
    audio: np.ndarray  # mono float32 at ``rate``
    rate: int
    seed: int
    parts: tuple[tuple[str, int, int], ...]  # (name, start, stop) in samples

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.rate


def _ramp(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / max(n, 1))


def _fade(x: np.ndarray, rate: int, ms: float = 8.0) -> np.ndarray:
    n = min(len(x) // 2, int(rate * ms / 1000))
    if n:
        x[:n] *= _ramp(n)
        x[-n:] *= _ramp(n)[::-1]
    return x


def _pitched(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / rate
    start = 110.0 * 2 ** rng.uniform(0.0, 1.0)  # 110-220 Hz, up an octave over the part
    f0 = start * 2 ** (t / max(t[-1], 1e-9)) * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = np.zeros(n)
    for h in range(1, 40):
        fh = h * f0
        taper = np.clip((0.45 * rate - fh) / (0.05 * rate), 0.0, 1.0)  # nothing near Nyquist
        if not taper.any():
            break
        x += taper * np.sin(h * phase + rng.uniform(0, 2 * np.pi)) / h
    return x * (0.35 + 0.65 * np.sin(np.pi * t / t[-1]) ** 2)


def _noise(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    x = np.zeros(n)
    bursts = 3
    edges = np.linspace(0, n, bursts + 1).astype(int)
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        length = int((b - a) * 0.8)
        white = rng.standard_normal(length)
        if i % 2:  # pink-ish: a one-pole low-pass over white noise
            white = np.cumsum(white) * 0.05
            white -= np.convolve(white, np.ones(64) / 64, mode="same")
        white /= max(np.abs(white).max(), 1e-9)
        x[a:a + length] = _fade(white * 10 ** (rng.uniform(-18, 0) / 20), rate, 5.0)
    return x


def _percussive(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    x = np.zeros(n)
    hits = 5
    slots = np.linspace(0, n, hits + 1).astype(int)[:-1]
    for i, slot in enumerate(slots):
        at = slot + int(rng.uniform(0.0, 0.3) * (n // hits))
        length = min(n - at, int(0.12 * rate))
        t = np.arange(length) / rate
        if i % 2:  # a thump: a falling sine
            hit = np.sin(2 * np.pi * (60 + 90 * np.exp(-t * 30)) * t) * np.exp(-t * 25)
        else:  # a click: decaying noise
            hit = rng.standard_normal(length) * np.exp(-t * 60)
        x[at:at + length] += hit * 10 ** (rng.uniform(-10, 0) / 20)
    return x


def make_probe(rate: int, seconds: float = 3.0, seed: int = 0) -> Probe:
    """The probe at ``rate``: ``seconds`` long in all (at least 0.5 s), parts in fixed shares."""
    if seconds < 0.5:
        raise ValueError(f"probe seconds must be at least 0.5, got {seconds:g}")
    rng = np.random.default_rng([seed, 20])  # the issue number: a stream of its own
    gap = int(GAP_S * rate)
    body = int(seconds * rate) - 3 * gap
    pieces, parts, at = [], [], 0
    for (name, make), share in zip((("pitched", _pitched), ("noise", _noise), ("percussive", _percussive)), SHARES):
        n = int(body * share)
        x = _fade(make(n, rate, rng), rate)
        x *= PEAK / max(np.abs(x).max(), 1e-9)
        pieces += [x, np.zeros(gap)]
        parts.append((name, at, at + n))
        at += n + gap
    audio = np.concatenate(pieces).astype(np.float32)
    return Probe(audio, rate, seed, tuple(parts))
