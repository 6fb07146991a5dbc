"""Relative (endless) encoders: the four 7-bit encodings and an optional acceleration.

Encodings follow Ableton Live's table (Live 6-9 manuals, "Mapping to Relative MIDI
Controllers"), named after it because libraries disagree on names (the Rust crate gled-model
calls Ableton's "Signed Bit" *SignMagnitude*). Decoding matches Live's own remote-script
framework (``v if v <= 64 else v - 128`` for 2's complement, ``v if v <= 64 else 64 - v``
for signed bit, ``v - 64`` for binary offset):

  encoding          increments                decrements                 0
  "signed_bit"      1..64   -> +1..+64        65..127 -> -1..-63         0
  "signed_bit_2"    65..127 -> +1..+63        1..64   -> -1..-64         0
  "binary_offset"   65..127 -> +1..+63        63..1   -> -1..-63         64 -> 0, 0 -> -64
  "twos_complement" 1..64   -> +1..+64        127..65 -> -1..-63         0

Live tells them apart from a slow turn to the left, where every encoding sends its "-1":
127, 63, 65 or 1; ``detect_encoding`` does the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

Encoding = Literal["twos_complement", "binary_offset", "signed_bit", "signed_bit_2"]
ENCODINGS: tuple[Encoding, ...] = ("twos_complement", "binary_offset", "signed_bit", "signed_bit_2")


def decode_relative(value: int, encoding: Encoding) -> int:
    """The signed step a 7-bit relative value stands for.

    >>> decode_relative(127, "twos_complement"), decode_relative(63, "binary_offset")
    (-1, -1)
    >>> decode_relative(65, "signed_bit"), decode_relative(65, "signed_bit_2")
    (-1, 1)
    """
    if not isinstance(value, int):
        raise TypeError("relative value must be int")
    if not 0 <= value <= 127:
        raise ValueError("relative value must be in range 0..127")
    if encoding == "twos_complement":
        return value if value <= 64 else value - 128
    if encoding == "binary_offset":
        return value - 64
    if encoding == "signed_bit":
        return value if value <= 64 else 64 - value
    if encoding == "signed_bit_2":
        return value - 64 if value >= 65 else -value
    raise ValueError(f"unknown relative encoding {encoding!r} (valid: {', '.join(ENCODINGS)})")


def detect_encoding(left_turn: Iterable[int]) -> Encoding | None:
    """The encoding under which values from a slow turn to the left are all small decrements.

    Of the encodings that decode every value as negative, the one with the smallest total
    step wins; None if none fits (or no values were given).

    >>> detect_encoding([127, 127, 126]), detect_encoding([1, 1]), detect_encoding([64])
    ('twos_complement', 'signed_bit_2', 'signed_bit_2')
    """
    values = list(left_turn)
    best: tuple[int, Encoding] | None = None
    if not values:
        return None
    for encoding in ENCODINGS:
        steps = [decode_relative(v, encoding) for v in values]
        if all(s < 0 for s in steps):
            total = -sum(steps)
            if best is None or total < best[0]:
                best = (total, encoding)
    return None if best is None else best[1]


class Acceleration:
    """Turn encoder steps into normalised value changes, bigger when turned faster.

    ``change = delta * gain / steps_per_range``: with ``gain == 1`` one detent moves the value
    by ``1 / steps_per_range`` of its range (Bitwig's "value amount for one full rotation"
    idea; 128 makes a detent one 7-bit step). The gain comes from the turning rate r in
    detents per second:

        gain = clamp((r / reference_rate) ** acceleration, 1, max_gain)

    ``acceleration = 0`` (the default) is Live's "linear" mode: gain 1 always, as wanted for
    encoders that accelerate internally (they send bigger steps). r is smoothed so bursts do
    not spike it: each event, instant = |delta| / max(dt, 1 ms) and
    r += (instant - r) * (1 - exp(-dt / smoothing)); events with the same timestamp leave r
    alone. A pause longer than ``reset_after`` or a change of direction starts again from
    r = 0, so a quick back-and-forth fine adjustment is never amplified.

    Timestamps (seconds, any monotonic origin) are passed in; nothing reads a clock.
    """

    def __init__(
        self,
        steps_per_range: float = 128.0,
        acceleration: float = 0.0,
        *,
        reference_rate: float = 10.0,
        max_gain: float = 8.0,
        smoothing: float = 0.05,
        reset_after: float = 0.25,
    ) -> None:
        if not steps_per_range > 0:
            raise ValueError("steps_per_range must be > 0")
        if not acceleration >= 0:
            raise ValueError("acceleration must be >= 0")
        if not (reference_rate > 0 and max_gain >= 1 and smoothing > 0 and reset_after > 0):
            raise ValueError("reference_rate, smoothing and reset_after must be > 0 and max_gain >= 1")
        self.steps_per_range = float(steps_per_range)
        self.acceleration = float(acceleration)
        self.reference_rate = float(reference_rate)
        self.max_gain = float(max_gain)
        self.smoothing = float(smoothing)
        self.reset_after = float(reset_after)
        self.reset()

    def reset(self) -> None:
        """Forget the turning history: the next step has gain 1."""
        self.rate = 0.0
        self._last_time: float | None = None
        self._last_sign = 0

    def gain(self) -> float:
        """The gain the current rate gives."""
        if self.acceleration == 0.0 or self.rate <= 0.0:
            return 1.0
        return min(self.max_gain, max(1.0, (self.rate / self.reference_rate) ** self.acceleration))

    def step(self, delta: int, now: float) -> float:
        """The normalised change for ``delta`` detents arriving at time ``now`` (seconds)."""
        if delta == 0:
            return 0.0
        sign = 1 if delta > 0 else -1
        last = self._last_time
        if last is None or sign != self._last_sign or now - last > self.reset_after or now < last:
            self.rate = 0.0
        else:
            dt = now - last
            if dt > 0:
                instant = abs(delta) / max(dt, 0.001)
                self.rate += (instant - self.rate) * (1.0 - math.exp(-dt / self.smoothing))
        self._last_time = now
        self._last_sign = sign
        return delta * self.gain() / self.steps_per_range
