"""The safety stage on every output: NaN/Inf guard, DC blocker, look-ahead limiter.

Bent models scream. This stage guarantees that nothing non-finite and nothing above the
ceiling leaves the engine, whatever the model does.

Runs on the model thread, once per block (not in the device callback). Its state is
preallocated; per block it does a few vectorised numpy passes and a Python loop over
sub-blocks (64 iterations for 2048 samples).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter


class SafetyStage:
    """Guard, DC blocker and limiter for ``channels`` channels at ``sample_rate``.

    - Guard: a block holding NaN/Inf, or a value above ``blowup`` (a runaway model), is muted
      and counted in ``guard_events``; the DC blocker state is cleared with it.
    - DC blocker: one-pole high-pass at ``dc_cutoff_hz``.
    - Limiter: stereo-linked, ``lookahead`` samples of delay, attack within one look-ahead
      window, exponential release; a final clip makes the ceiling exact.
    """

    def __init__(self, channels: int, sample_rate: int, ceiling_db: float = -1.0, release_s: float = 0.1,
                 dc_cutoff_hz: float = 10.0, lookahead: int = 32, blowup: float = 1e3):
        if ceiling_db > 0:
            raise ValueError(f"limiter ceiling must be <= 0 dBFS, got {ceiling_db}")
        self.channels = channels
        self.ceiling = 10.0 ** (ceiling_db / 20.0)
        self.blowup = blowup
        self.lookahead = lookahead
        pole = math.exp(-2.0 * math.pi * dc_cutoff_hz / sample_rate)
        self._dc_b = np.array([1.0, -1.0])
        self._dc_a = np.array([1.0, -pole])
        self._release = math.exp(-lookahead / (release_s * sample_rate))
        self.guard_events = 0
        self.reset()

    @property
    def latency(self) -> int:
        return self.lookahead

    def reset(self) -> None:
        self._dc_state = np.zeros((self.channels, 1))
        self._delay = np.zeros((self.channels, self.lookahead), dtype=np.float32)
        self._gain = 1.0  # limiter gain at the start of the next block
        self._next_target = 1.0  # target of the delayed samples waiting in _delay

    def process(self, block: np.ndarray) -> tuple[np.ndarray, bool]:
        """Return the safe block (same shape, float32) and whether the guard fired."""
        n = block.shape[1]
        if n == 0:
            return np.zeros((self.channels, 0), dtype=np.float32), False
        if n % self.lookahead:
            raise ValueError(f"block length must be a multiple of {self.lookahead}, got {n}")
        guarded = not np.isfinite(block).all() or float(np.abs(block).max(initial=0.0)) > self.blowup
        if guarded:
            self.guard_events += 1
            block = np.zeros_like(block, dtype=np.float32)
            self._dc_state[:] = 0.0
        filtered, self._dc_state = lfilter(self._dc_b, self._dc_a, block, axis=1, zi=self._dc_state)
        return self._limit(filtered.astype(np.float32, copy=False)), guarded

    def _limit(self, x: np.ndarray) -> np.ndarray:
        size, n = self.lookahead, x.shape[1]
        delayed = np.concatenate([self._delay, x[:, : n - size]], axis=1)
        self._delay = x[:, n - size:].copy()
        # Peaks per sub-block of the delayed signal, plus the sub-block still waiting (look-ahead).
        peaks = np.abs(np.concatenate([delayed, self._delay], axis=1)).reshape(self.channels, -1, size).max(axis=(0, 2))
        targets = np.minimum(1.0, self.ceiling / np.maximum(peaks, 1e-12))
        targets[0] = min(targets[0], self._next_target)
        subs = n // size
        bounds = np.empty(subs + 1)
        bounds[0] = self._gain
        for j in range(subs):
            released = 1.0 - (1.0 - bounds[j]) * self._release
            bounds[j + 1] = min(released, targets[j], targets[j + 1])
        self._gain, self._next_target = bounds[-1], targets[-1]
        # Linear ramps between boundaries: each ramp stays under its sub-block's target.
        ramp = np.arange(size) / size
        gains = (bounds[:-1, None] + (bounds[1:] - bounds[:-1])[:, None] * ramp).reshape(-1)
        out = delayed * gains.astype(np.float32)
        np.clip(out, -self.ceiling, self.ceiling, out=out)
        return out
