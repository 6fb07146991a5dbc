"""The latest block in and out of the model thread, for meters and spectrograms (dashboard).

The model thread publishes references to arrays it no longer writes (one attribute store, no
copy, no lock); readers on other threads take the pair and compute levels and spectra there."""

from __future__ import annotations

import numpy as np


class Monitor:
    def __init__(self) -> None:
        self.latest: tuple[np.ndarray, np.ndarray] | None = None  # (input [n, ch], output [m, ch])
        self.sequence = 0

    def publish(self, inp: np.ndarray, out: np.ndarray) -> None:
        """Model thread, once per block: replace the pair (readers see the old or the new one)."""
        self.latest = (inp, out)
        self.sequence += 1
