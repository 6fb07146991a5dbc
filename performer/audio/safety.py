"""The safety stage on every output: NaN/Inf guard, DC blocker, look-ahead limiter.

Bent models scream. This stage guarantees that nothing non-finite and nothing above the
ceiling leaves the engine, whatever the model does.

Runs on the model thread, once per block (not in the device callback). Its state is small;
per block it makes one call into C (``_safety.c``, built at install) or, where no compiler
was at hand, a few vectorised numpy passes that give the same samples.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

try:  # the block pass in C (an optional extension: see _safety.c for why)
    from performer.audio import _safety
except ImportError:  # pragma: no cover - installed without a C compiler
    _safety = None

try:  # lfilter's own C routine: right after a model call, lfilter's Python checks cost more than the filter
    from scipy.signal._sigtools import _linear_filter
except ImportError:  # pragma: no cover - a SciPy that moved it
    _linear_filter = None


GAIN_SNAP = 1e-6  # a released gain this close to 1 is 1


class SafetyStage:
    """Guard, DC blocker and limiter for ``channels`` channels at ``sample_rate``.

    - Guard: a block holding NaN/Inf, or a value above ``blowup`` (a runaway model), is muted
      and counted in ``guard_events``; the DC blocker state is cleared with it.
    - DC blocker: one-pole high-pass at ``dc_cutoff_hz``.
    - Limiter: stereo-linked, ``lookahead`` samples of delay, attack within one look-ahead
      window, exponential release; a final clip makes the ceiling exact.
    """

    def __init__(self, channels: int, sample_rate: int, ceiling_db: float = -1.0, release_s: float = 0.1,
                 dc_cutoff_hz: float = 10.0, lookahead: int = 32, blowup: float = 1e3, native: bool = True):
        if ceiling_db > 0:
            raise ValueError(f"limiter ceiling must be <= 0 dBFS, got {ceiling_db}")
        self.channels = channels
        self.ceiling = 10.0 ** (ceiling_db / 20.0)
        self.blowup = blowup
        self.lookahead = lookahead
        pole = math.exp(-2.0 * math.pi * dc_cutoff_hz / sample_rate)
        self._dc_b = np.array([1.0, -1.0], dtype=np.float32)
        self._dc_a = np.array([1.0, -pole], dtype=np.float32)
        self._scratch = np.empty((channels, 0), dtype=np.float32)  # the C pass's filtered block
        self._ramp = np.arange(lookahead) / lookahead
        self._release = math.exp(-lookahead / (release_s * sample_rate))
        self.guard_events = 0
        self._limit_fast_path = True  # tests switch it off to compare with the full pass
        self._native = _safety.block if native and _safety is not None else None
        self.reset()

    @property
    def latency(self) -> int:
        return self.lookahead

    def reset(self) -> None:
        self._dc_state = np.zeros((self.channels, 1), dtype=np.float32)
        self._delay = np.zeros((self.channels, self.lookahead), dtype=np.float32)
        self._gain = 1.0  # limiter gain at the start of the next block
        self._next_target = 1.0  # target of the delayed samples waiting in _delay
        # the C pass's parameters; it updates the first two (gain, next target) in place
        self._params = np.array([1.0, 1.0, self.ceiling, self.blowup, self._release, GAIN_SNAP,
                                 self._dc_b[0], self._dc_b[1], self._dc_a[1]], dtype=np.float64)

    @property
    def native(self) -> bool:
        """Whether blocks go through the C pass."""
        return self._native is not None

    def process(self, block: np.ndarray) -> tuple[np.ndarray, bool]:
        """Return the safe block (same shape, float32) and whether the guard fired."""
        n = block.shape[1]
        if n == 0:
            return np.zeros((self.channels, 0), dtype=np.float32), False
        if n % self.lookahead:
            raise ValueError(f"block length must be a multiple of {self.lookahead}, got {n}")
        if block.dtype != np.float32 or not block.flags.c_contiguous:
            block = np.ascontiguousarray(block, dtype=np.float32)
        if self._native is not None:
            return self._process_native(block, n)
        # max and -min, not abs().max(): no temporary array (NaN propagates through both)
        peak = max(float(block.max()), -float(block.min()))
        guarded = not peak <= self.blowup  # NaN compares false, inf is above: one test for both
        if guarded:
            self.guard_events += 1
            block = np.zeros_like(block)
            self._dc_state[:] = 0.0
        # float32 coefficients and state keep lfilter in float32 (no conversions either way)
        if _linear_filter is not None:
            filtered, self._dc_state = _linear_filter(self._dc_b, self._dc_a, block, 1, self._dc_state)
        else:
            filtered, self._dc_state = lfilter(self._dc_b, self._dc_a, block, axis=1, zi=self._dc_state)
        return self._limit(filtered), guarded

    def _process_native(self, block: np.ndarray, n: int) -> tuple[np.ndarray, bool]:
        if self._scratch.shape[1] != n:
            self._scratch = np.empty((self.channels, n), dtype=np.float32)
        out = np.empty((self.channels, n), dtype=np.float32)  # fresh: sinks may keep it
        guarded = self._native(block, out, self._scratch, self._dc_state, self._delay, self._params)
        if guarded:
            self.guard_events += 1
        return out, guarded

    def _limit(self, x: np.ndarray) -> np.ndarray:
        size, n = self.lookahead, x.shape[1]
        # The usual case, nothing to limit: the gain is back at 1, the delayed samples were under
        # the ceiling (their target is 1) and so is this block. Output is the delay line's tail
        # and the block's head, in the fewest numpy calls: right after a model call each call
        # costs 5-10 us (cold caches), more than the arithmetic.
        if self._limit_fast_path and self._gain == 1.0 and self._next_target == 1.0:
            if max(float(x.max()), -float(x.min())) <= self.ceiling:
                out = np.concatenate((self._delay, x[:, :n - size]), axis=1)
                self._delay = x[:, n - size:]  # x is ours (the filter's fresh output) and never written
                return out
        subs = n // size
        # [samples waiting from the last block | this block]: the first n are output now, the
        # last sub-block waits (the look-ahead).
        joined = np.empty((self.channels, n + size), dtype=np.float32)
        joined[:, :size] = self._delay
        joined[:, size:] = x
        self._delay = joined[:, n:].copy()
        peaks = np.abs(joined).reshape(self.channels, subs + 1, size).max(axis=(0, 2))
        targets = np.minimum(1.0, self.ceiling / np.maximum(peaks.astype(np.float64), 1e-12))
        targets[0] = min(targets[0], self._next_target)
        bounds = self._gain_bounds(np.minimum(targets[:-1], targets[1:]))
        self._gain, self._next_target = float(bounds[-1]), float(targets[-1])
        if self._gain > 1.0 - GAIN_SNAP:
            # The release only approaches 1 (in floats it sticks one ulp below, for good), and the
            # fast path needs exactly 1: snap the last -0.00001 dB.
            self._gain = 1.0
        # Linear ramps between boundaries: each ramp stays under its sub-block's target.
        gains = (bounds[:-1, None] + (bounds[1:] - bounds[:-1])[:, None] * self._ramp).astype(np.float32)
        out = joined[:, :n] * gains.reshape(-1)
        np.clip(out, -self.ceiling, self.ceiling, out=out)
        return out

    def _gain_bounds(self, limits: np.ndarray) -> np.ndarray:
        """Gain at each sub-block boundary: bound[j+1] = min(release from bound[j], limits[j]).

        With u = 1 - gain the recursion is u[j+1] = max(u[j] * r, 1 - limits[j]); scaled by
        r**-j it becomes a running maximum, computed in one numpy pass instead of a Python loop.
        """
        subs, r = limits.size, self._release
        if subs * -math.log(r) > 30.0:  # r**-subs would lose precision: step through instead
            bounds = np.empty(subs + 1)
            bounds[0] = self._gain
            for j in range(subs):
                bounds[j + 1] = min(1.0 - (1.0 - bounds[j]) * r, limits[j])
            return bounds
        powers = r ** np.arange(subs + 1, dtype=np.float64)
        scaled = np.empty(subs + 1)
        scaled[0] = 1.0 - self._gain
        scaled[1:] = (1.0 - limits) / powers[1:]
        return 1.0 - np.maximum.accumulate(scaled) * powers
