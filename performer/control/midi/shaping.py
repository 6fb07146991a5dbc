"""Shape: normalised control position 0..1 <-> a target value, and back.

Per-mapping min/max in parameter units, a curve, inversion and a step, as Ableton's Macro
ranges, Max's ``scale``, HALion's CC mapper and TouchOSC's value range offer them; 0..1 stays
the internal scale (the research's recommendation). ``min > max`` is allowed and runs the
range backwards, as in Ableton (its "min 127, max 126" trick works).

Forward: clamp x to 0..1 -> invert (x = 1 - x) -> curve -> min + (max - min) * y -> step.

Curves, with base b:
  "linear"       y = x
  "exponential"  y = (b**x - 1) / (b - 1)           for b > 1 a slow start: fine control near min
  "logarithmic"  y = log(1 + (b - 1) * x) / log(b)  its inverse: for b > 1 fine control near max
Unless ``base`` is given, b = max / min when min and max are non-zero with the same sign: then
"exponential" is exactly geometric interpolation ``min * (max / min) ** x`` (equal ratios for
equal travel: frequencies, times, gains). A range that includes or crosses 0 has no such
ratio; there b = 100 (the curve then spans 40 dB of "taper"), so the curve keeps its shape
and stays defined for e.g. -1..1 or 0..10. b is limited to e**-50..e**50 so the arithmetic
stays finite for absurd ranges such as 1e-300..1.

Step: values snap to min + k * step (the grid starts at min; an end off the grid is not
reached, so stepped values are always on it); 0 means continuous. The inverse maps a value
back to the position that produces it (clamped to the range first), which is what takeover
and feedback need; quantisation is not undone, but ``apply(inverse(apply(x))) == apply(x)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Curve = Literal["linear", "exponential", "logarithmic"]
CURVES: tuple[Curve, ...] = ("linear", "exponential", "logarithmic")
DEFAULT_BASE = 100.0
MAX_LOG_BASE = 50.0  # b within e**-50..e**50 (a ratio of 5e21): the curve stays finite


def clamp01(x: float) -> float:
    """``x`` limited to 0..1; NaN counts as 0 so a bad OSC float cannot poison a value."""
    if x != x:
        return 0.0
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def _exp_taper(x: float, k: float) -> float:
    """(b**x - 1) / (b - 1) with k = ln b."""
    return math.expm1(k * x) / math.expm1(k)


def _log_taper(x: float, k: float) -> float:
    """log(1 + (b - 1) * x) / log(b) with k = ln b: the inverse of ``_exp_taper``."""
    if k > 0:
        return math.log1p(math.expm1(k) * x) / k
    # b < 1: b - 1 rounds to -1 for steep bases, so keep 1 - x and x * b apart.
    return math.log((1.0 - x) + x * math.exp(k)) / k


@dataclass(frozen=True, slots=True)
class Shape:
    """How a normalised control position becomes a target value.

    >>> round(Shape(20.0, 20000.0, "exponential").apply(0.5), 6)  # the geometric mean
    632.455532
    >>> Shape(0.0, 10.0, step=2.5).apply(0.3), Shape(0.0, 1.0, invert=True).apply(0.25)
    (2.5, 0.75)
    """

    min: float = 0.0
    max: float = 1.0
    curve: Curve = "linear"
    invert: bool = False
    step: float = 0.0
    base: float | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.max - self.min):
            raise ValueError("min and max must be finite (and so must max - min)")
        if self.curve not in CURVES:
            raise ValueError(f"unknown curve {self.curve!r} (valid: {', '.join(CURVES)})")
        if not (math.isfinite(self.step) and self.step >= 0):
            raise ValueError("step must be >= 0 (0 = continuous)")
        if self.base is not None and not (math.isfinite(self.base) and self.base > 0 and self.base != 1):
            raise ValueError("base must be > 0 and not 1")

    @property
    def log_base(self) -> float:
        """ln(b) for the curve (see the module docstring), limited to +-MAX_LOG_BASE."""
        if self.base is not None:
            k = math.log(self.base)
        elif self.min != 0 and self.max != 0 and (self.min > 0) == (self.max > 0) and self.min != self.max:
            k = math.log(abs(self.max)) - math.log(abs(self.min))  # no overflow for extreme ratios
        else:
            k = math.log(DEFAULT_BASE)
        return max(-MAX_LOG_BASE, min(MAX_LOG_BASE, k))

    def _curve(self, x: float) -> float:
        k = self.log_base
        if self.curve == "linear" or abs(k) < 1e-12:
            return x
        return _exp_taper(x, k) if self.curve == "exponential" else _log_taper(x, k)

    def _uncurve(self, y: float) -> float:
        k = self.log_base
        if self.curve == "linear" or abs(k) < 1e-12:
            return y
        return _log_taper(y, k) if self.curve == "exponential" else _exp_taper(y, k)

    def apply(self, x: float) -> float:
        """The target value for control position ``x`` (clamped to 0..1)."""
        x = clamp01(x)
        if self.invert:
            x = 1.0 - x
        y = clamp01(self._curve(x))
        if y == 1.0:
            value = self.max  # exact end points, whatever the rounding on the way
        else:
            value = self.min + (self.max - self.min) * y
        if self.step > 0:
            value = self._snap(value)
        return value

    def inverse(self, value: float) -> float:
        """The control position that gives ``value`` (clamped to the range): 0..1."""
        span = self.max - self.min
        if span == 0 or value != value:
            return 0.0
        y = clamp01((self._clamp(value) - self.min) / span)
        x = clamp01(self._uncurve(y))
        return 1.0 - x if self.invert else x

    def _snap(self, value: float) -> float:
        """The nearest grid value inside the range (an off-grid end snaps inwards)."""
        k = math.floor((value - self.min) / self.step + 0.5)
        limit = math.floor(abs(self.max - self.min) / self.step + 1e-9)
        k = max(-limit, min(limit, k)) if self.max < self.min else max(0, min(limit, k))
        return self._clamp(self.min + k * self.step)  # k * step may round past an end

    def _clamp(self, value: float) -> float:
        lo, hi = (self.min, self.max) if self.min <= self.max else (self.max, self.min)
        return lo if value < lo else hi if value > hi else value
