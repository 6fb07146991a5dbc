"""Delays for the dry path, and measuring how late a model's output answers its input.

A streaming (cached-convolution) model answers input sample t no earlier than output sample
t + D. D is not in the nn~ format, so we measure it: two runs from fresh caches with the same
seed, one on silence and one with a click followed by noise; the first output sample that differs is where the
input first reaches the output. The dry path is delayed by D so `mix` lines up with the wet.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from performer.model.export_info import recorded_delay
from performer.model.loader import NNModel

log = logging.getLogger("performer.engine")

MEASURE_BLOCKS = 8


class DelayLine:
    """A fixed delay of ``delay`` samples over [channels, n] blocks (any n). Model thread only."""

    def __init__(self, channels: int, delay: int):
        self.delay = delay
        self._buffer = np.zeros((channels, delay), dtype=np.float32)

    def reset(self) -> None:
        self._buffer.fill(0.0)

    def process(self, block: np.ndarray) -> np.ndarray:
        if not self.delay:
            return block
        joined = np.concatenate([self._buffer, block], axis=1)
        out = joined[:, :block.shape[1]]
        self._buffer = joined[:, block.shape[1]:].copy()
        return out

    def push(self, block: np.ndarray) -> None:
        """Advance the delay by ``block`` without reading it out (when nothing hears the dry
        path this block): only the newest ``delay`` samples are kept, no output is built."""
        n = block.shape[1]
        if not self.delay:
            return
        if n >= self.delay:
            self._buffer[:] = block[:, n - self.delay:]
        else:
            self._buffer[:, :-n] = self._buffer[:, n:]
            self._buffer[:, -n:] = block


def model_delay(model: NNModel, block_size: int) -> int:
    """``measure_model_delay`` once per model and block size (measure before bending)."""
    cache = model.__dict__.setdefault("_measured_delays", {})
    if block_size not in cache:  # a bent export carries its original's delay (performer export)
        recorded = recorded_delay(model.path, block_size)
        cache[block_size] = recorded if recorded is not None else measure_model_delay(model, block_size)
    return cache[block_size]


def measure_model_delay(model: NNModel, block_size: int, method: str | None = None) -> int:
    """Samples between an input sample and the first output sample it can change (0 when the
    model is not causal within a block, e.g. non-streaming exports). Restores fresh caches and
    leaves the global RNG as it found it."""
    method = method or ("forward" if "forward" in model.methods else None)
    impulse_at = block_size + 17  # off the block grid, after one block of settled silence
    runs = []
    with torch.random.fork_rng(), torch.inference_mode():
        for with_impulse in (False, True):
            model.reset_caches()
            torch.manual_seed(1234)
            signal = np.zeros((model.in_channels, MEASURE_BLOCKS * block_size), dtype=np.float32)
            if with_impulse:  # a click then noise: even a quantised (discrete) latent must answer
                signal[:, impulse_at] = 0.5
                signal[:, impulse_at + 1:] = np.random.default_rng(0).uniform(
                    -0.3, 0.3, signal[:, impulse_at + 1:].shape)
            out = []
            for b in range(MEASURE_BLOCKS):
                x = torch.from_numpy(signal[:, b * block_size:(b + 1) * block_size])[None]
                try:
                    y = model.run(method, x) if method else model.run("decode", model.run("encode", x))
                except Exception as exc:  # measured again never; the engine reports model errors itself
                    log.warning("could not measure the model's delay (%s); assuming 0", exc)
                    model.reset_caches()
                    return 0
                out.append(y[0].numpy().copy())
            runs.append(np.concatenate(out, axis=1))
    model.reset_caches()
    differs = np.flatnonzero(np.abs(runs[0] - runs[1]).max(axis=0) > 1e-7)
    if differs.size == 0:
        log.info("the model's output never answered a click and noise within %d blocks; dry delay 0",
                 MEASURE_BLOCKS)
        return 0
    return max(0, int(differs[0]) - impulse_at)
