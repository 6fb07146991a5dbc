"""Where the model thread's input comes from: the device's input ring, or a looped file that
is read at the device clock (so practice and headless runs pace exactly like a live input)."""

from __future__ import annotations

import numpy as np

from performer.audio.ring import FrameRing
from performer.live.shared import OUT_READ, SharedAudio

MAX_CATCH_UP_S = 1.0


class RingInput:
    def __init__(self, ring: FrameRing):
        self.ring = ring

    def available(self) -> int:
        return self.ring.unread()

    def take(self) -> tuple[np.ndarray, int]:
        return self.ring.take()


class LoopedFileInput:
    """Frames of ``audio`` [n, channels] (device rate), looped, as fast as the device clock runs:
    every frame the device plays counts as one frame arrived."""

    def __init__(self, audio: np.ndarray, shared: SharedAudio, rate: int, prefill: int):
        if audio.shape[0] == 0:
            raise ValueError("the input file has no audio frames")
        self.audio = audio
        self.header = shared.header
        self.rate = rate
        self.consumed = 0
        self.position = 0
        self.prefill = prefill

    def _clocked(self) -> int:
        return int(self.header[OUT_READ])

    def available(self) -> int:
        return self._clocked() - self.consumed

    def take(self) -> tuple[np.ndarray, int]:
        due = self._clocked() - self.consumed
        dropped = max(0, due - int(MAX_CATCH_UP_S * self.rate))
        self.consumed += dropped
        self.position = (self.position + dropped) % self.audio.shape[0]
        n = due - dropped
        out = np.empty((n, self.audio.shape[1]), dtype=np.float32)
        filled = 0
        while filled < n:
            chunk = min(n - filled, self.audio.shape[0] - self.position)
            out[filled:filled + chunk] = self.audio[self.position:self.position + chunk]
            self.position = (self.position + chunk) % self.audio.shape[0]
            filled += chunk
        self.consumed += n
        return out, dropped
