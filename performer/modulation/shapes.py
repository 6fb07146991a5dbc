"""LFO shapes and the step sequencer: pure functions of a cycle position, each in 0..1.

A cycle position ``c`` counts cycles (whole part) and the position in the current one (fraction).
Random shapes draw one value per whole cycle from a hash of (seed, cycle), not from an RNG, so a
beat-synced sample-and-hold plays the same values at the same beats on every run and every peer.
"""

from __future__ import annotations

import math

LFO_SHAPES = ("sine", "triangle", "saw", "square", "sh", "smooth")
TWO_PI = 2.0 * math.pi


def hash01(seed: int, n: int) -> float:
    """A repeatable value in [0, 1) for cycle ``n`` (splitmix64's finaliser)."""
    x = (seed * 0x9E3779B97F4A7C15 + n * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 31
    return (x >> 11) / float(1 << 53)


def lfo(shape: str, c: float, seed: int = 0) -> float:
    """The value of ``shape`` at cycle position ``c``, in 0..1. Sine and triangle start at the
    middle going up (0.5 at c = 0), saw rises from 0, square is high for the first half."""
    f = c - math.floor(c)
    if shape == "sine":
        return 0.5 + 0.5 * math.sin(TWO_PI * f)
    if shape == "triangle":
        return _triangle(f)
    if shape == "saw":
        return f
    if shape == "square":
        return 1.0 if f < 0.5 else 0.0
    n = math.floor(c)
    if shape == "sh":
        return hash01(seed, n)
    if shape == "smooth":  # cosine interpolation between this cycle's value and the next's
        a, b = hash01(seed, n), hash01(seed, n + 1)
        w = 0.5 - 0.5 * math.cos(math.pi * f)
        return a + (b - a) * w
    raise ValueError(f"unknown LFO shape {shape!r}; shapes: {', '.join(LFO_SHAPES)}")


def _triangle(f: float) -> float:
    # 0.5 at 0, 1 at 0.25, 0.5 at 0.5, 0 at 0.75
    g = (f + 0.25) % 1.0
    return 1.0 - 2.0 * abs(g - 0.5)


def step(steps: list[float], length: int, c: float) -> float:
    """The step sequencer: one step per cycle, ``length`` steps looping."""
    return steps[math.floor(c) % length]


def curve(name: str, x: float) -> float:
    """A macro target's response to its knob (0..1 -> 0..1)."""
    if name == "linear":
        return x
    if name == "exp":  # fine control at the bottom
        return x * x
    if name == "log":  # fine control at the top
        return 1.0 - (1.0 - x) * (1.0 - x)
    if name == "s":  # smoothstep: gentle at both ends
        return x * x * (3.0 - 2.0 * x)
    raise ValueError(f"unknown curve {name!r}")


CURVES = ("linear", "exp", "log", "s")
