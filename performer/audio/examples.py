"""Example inputs to loop when no instrument is at hand: made here, seeded, a few seconds each.

Each is mono float32 at the rate asked for, and covers what makes a model reveal itself: a
pitched tone that glides and swells, percussive bursts, and a voice-like formant signal."""

from __future__ import annotations

import numpy as np

SECONDS = 8.0


def glide(rate: int) -> np.ndarray:
    """A harmonic tone gliding 110 -> 440 Hz and back, with swells and vibrato."""
    t = np.arange(int(SECONDS * rate)) / rate
    f0 = 110.0 * 2 ** (2 * (0.5 - 0.5 * np.cos(2 * np.pi * t / SECONDS))) * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 9))
    swell = 0.25 + 0.75 * (0.5 - 0.5 * np.cos(2 * np.pi * 2 * t / SECONDS))
    return (0.25 * swell * tone).astype(np.float32)


def pulse(rate: int) -> np.ndarray:
    """A drum-like loop at 120 BPM: noise bursts on the off-beats, a pitched kick on the beats."""
    n = int(SECONDS * rate)
    out = np.zeros(n)
    rng = np.random.default_rng(7)
    beat = int(0.5 * rate)
    decay = np.exp(-np.arange(beat) / (0.05 * rate))
    kick = np.sin(2 * np.pi * np.cumsum(50 + 100 * np.exp(-np.arange(beat) / (0.02 * rate))) / rate) * decay
    for start in range(0, n - beat, beat):
        out[start:start + beat] += 0.6 * kick
        half = start + beat // 2
        burst = rng.standard_normal(beat // 2) * np.exp(-np.arange(beat // 2) / (0.03 * rate))
        out[half:half + beat // 2] += 0.2 * burst
    return out.astype(np.float32)


def voice_like(rate: int) -> np.ndarray:
    """A pulse train through moving formants (a sung 'a-e-i-o' without words)."""
    from scipy.signal import lfilter

    n = int(SECONDS * rate)
    t = np.arange(n) / rate
    f0 = 160 * (1 + 0.03 * np.sin(2 * np.pi * 5 * t)) * (1 + 0.2 * np.sin(2 * np.pi * t / SECONDS))
    phase = np.cumsum(f0) / rate
    source = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(float)
    vowels = [(800, 1200), (400, 2000), (300, 2300), (500, 900)]
    out = np.zeros(n)
    segment = n // len(vowels)
    for i, formants in enumerate(vowels):
        chunk = source[i * segment:(i + 1) * segment]
        voiced = np.zeros_like(chunk)
        for f in formants:
            r = np.exp(-np.pi * 100 / rate)
            voiced += lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * f / rate), r * r], chunk)
        out[i * segment:(i + 1) * segment] = voiced
    envelope = 0.3 + 0.7 * np.abs(np.sin(np.pi * t * len(vowels) / SECONDS))
    out *= envelope
    return (0.5 * out / max(1e-9, np.abs(out).max())).astype(np.float32)


EXAMPLES = {"glide": glide, "pulse": pulse, "voice-like": voice_like}


def example(name: str, rate: int) -> np.ndarray:
    """Example ``name`` as [1, frames] at ``rate``; KeyError names the examples there are."""
    if name not in EXAMPLES:
        raise KeyError(f"no example input {name!r}; there are: {', '.join(EXAMPLES)}")
    return EXAMPLES[name](rate)[None, :]
