"""Streaming polyphase resampling between the device rate and the model rate.

A Kaiser-windowed sinc, evaluated per output sample from a small history of input samples, with
the fractional position carried from one chunk to the next: chunked output equals whole-signal
output, so block edges never click. Runs on the model thread (allocates per chunk).
"""

from __future__ import annotations

from math import gcd

import numpy as np

TAPS_PER_PHASE = 32  # ~90 dB stopband with beta 9; cost ~0.1 ms per 2048-frame stereo chunk
KAISER_BETA = 9.0
ROLLOFF = 0.94  # passband edge as a fraction of the lower Nyquist


class StreamingResampler:
    """Converts [channels, n] chunks from ``rate_in`` to ``rate_out`` with a constant delay."""

    def __init__(self, rate_in: int, rate_out: int, channels: int, taps_per_phase: int = TAPS_PER_PHASE):
        g = gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        self.rate_in, self.rate_out, self.channels = rate_in, rate_out, channels
        self.identity = self.up == self.down
        self.taps = taps_per_phase
        if self.identity:
            self.delay_out = 0.0
            return
        # Prototype low-pass at the upsampled rate, split into `up` phases of `taps` each.
        length = self.up * self.taps
        cutoff = ROLLOFF * 0.5 / max(self.up, self.down)  # cycles per upsampled sample
        n = np.arange(length) - (length - 1) / 2.0
        proto = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(length, KAISER_BETA) * self.up
        # phases[p, j] multiplies input sample (base - j) for an output at upsampled time base*up + p
        self._phases = proto.reshape(self.taps, self.up).T[:, ::-1].astype(np.float32).copy()
        # Group delay: (length - 1) / 2 upsampled samples, in output samples.
        self.delay_out = (length - 1) / 2.0 / self.down
        self.reset()

    def reset(self) -> None:
        if self.identity:
            return
        self._history = np.zeros((self.channels, self.taps - 1), dtype=np.float32)
        self._next = (self.taps - 1) * self.up  # upsampled time of the next output, history-relative

    @property
    def delay_in_frames_out(self) -> float:
        """Constant delay through the resampler, in output samples."""
        return self.delay_out

    def process(self, chunk: np.ndarray) -> np.ndarray:
        if self.identity:
            return chunk
        x = np.concatenate([self._history, chunk.astype(np.float32, copy=False)], axis=1)
        total = x.shape[1]
        # Outputs whose newest needed input sample (index t // up) is inside x.
        last_time = total * self.up - 1
        count = 0 if self._next > last_time else (last_time - self._next) // self.down + 1
        times = self._next + self.down * np.arange(count, dtype=np.int64)
        base, phase = times // self.up, times % self.up
        window = base[:, None] - (self.taps - 1) + np.arange(self.taps)[None, :]  # oldest..newest
        out = np.einsum("cmt,mt->cm", x[:, window], self._phases[phase], optimize=True)
        self._next += self.down * count
        keep = self.taps - 1
        consumed = total - keep
        self._history = x[:, consumed:].copy()
        self._next -= consumed * self.up
        return out.astype(np.float32, copy=False)
