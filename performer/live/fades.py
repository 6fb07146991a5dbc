"""Fades of the device output: in at the start of a show (and after the device came back), out at
its end. A model's first output from fresh state, a tone's first samples, or a cut at stop would
otherwise be a step: a click through the PA.

Positions are absolute output frames (the output ring's). The model thread owns a ``Fades`` and
asks it for the gains of each stretch of output it writes; files and recordings keep the blocks as
computed.
"""

from __future__ import annotations

import numpy as np

FADE_S = 0.05


def fade_gains(offset: int, frames: int, length: int, rising: bool = False) -> np.ndarray:
    """Gains [frames] for the frames ``offset``.. of a fade ``length`` frames long: a raised
    cosine from 1 to 0 (from 0 to 1 when ``rising``), held at its ends before and after."""
    position = np.arange(offset, offset + frames, dtype=np.float64)
    down = 0.5 + 0.5 * np.cos(np.pi * np.clip((position + 0.5) / length, 0.0, 1.0))
    return (1.0 - down if rising else down).astype(np.float32)


class Fades:
    """Where the output fades in and out. Model thread only."""

    def __init__(self, rate: int, seconds: float = FADE_S):
        self.length = max(1, round(seconds * rate))
        self.in_at = self.in_end = 0
        self.out_at: int | None = None  # where the fade-out starts, once it has
        self.out_end = 0

    def fade_in_from(self, position: int) -> None:
        """The show (re)starts at ``position``: fade in from there."""
        self.in_at, self.in_end = position, position + self.length

    def fade_out_from(self, position: int) -> None:
        self.out_at, self.out_end = position, position + self.length

    @property
    def fading_out(self) -> bool:
        return self.out_at is not None

    def gains(self, position: int, frames: int, fade_in: bool = True) -> np.ndarray | None:
        """Gains for output frames ``position``.. ``position + frames``; None where none apply."""
        gains = None
        if fade_in and position < self.in_end:
            gains = fade_gains(position - self.in_at, frames, self.length, rising=True)
        if self.out_at is not None and position + frames > self.out_at:
            down = fade_gains(position - self.out_at, frames, self.length)
            gains = down if gains is None else gains * down
        return gains

    def apply(self, position: int, out: np.ndarray) -> np.ndarray:
        """``out`` [frames, channels] from ``position`` on as the device plays it (a copy when faded)."""
        gains = self.gains(position, out.shape[0])
        return out if gains is None else out * gains[:, None]
