"""Device-rate audio in, device-rate audio out, through the block engine (model thread only).

Channels are fitted (mono model on a stereo interface and the reverse), the rate is converted
with streaming resamplers on both sides, and the model runs on whole blocks. The chain is a
constant delay: ``signal_delay`` device frames (resamplers, the model's own delay, look-ahead).
With ``retakes``, the last block can be computed again from the state it started from
(performer/live/retake.py).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from performer.audio.checkpoint import StreamCheckpoint
from performer.audio.engine import BlockEngine
from performer.audio.resampler import StreamingResampler


def fit_device_channels(frames: np.ndarray, channels: int) -> np.ndarray:
    """[n, c] -> [channels, n]: equal counts pass, mono is copied, otherwise the mean."""
    if frames.shape[1] == channels:
        return np.ascontiguousarray(frames.T)
    if frames.shape[1] == 1:
        return np.repeat(frames.T, channels, axis=0)
    return np.repeat(frames.mean(axis=1, keepdims=True).T, channels, axis=0)


class LivePipeline:
    def __init__(self, engine: BlockEngine, device_rate: int, device_in_channels: int, device_out_channels: int,
                 retakes: bool = False, caches: list[torch.Tensor] | None = None):
        """``retakes``: keep what ``retake`` needs; ``caches``: the model's state for it (audio/checkpoint.py)."""
        self.engine = engine
        model = engine.model
        self.device_rate = device_rate
        self.model_rate = model.sample_rate
        self.device_in_channels = device_in_channels
        self.device_out_channels = device_out_channels
        self.block = engine.block_size
        self._in_resampler = StreamingResampler(device_rate, self.model_rate, model.in_channels)
        self._out_resampler = StreamingResampler(self.model_rate, device_rate, model.out_channels)
        self._before = StreamCheckpoint(engine, self._out_resampler, caches) if retakes else None
        self._after = StreamCheckpoint(engine, self._out_resampler, caches) if retakes else None
        self._last_block: np.ndarray | None = None
        self.pad = 0  # device frames of silence in front of the output (a swapped-in model: live/swap.py)
        self.reset()

    @property
    def block_device_frames(self) -> int:
        return math.ceil(self.block * self.device_rate / self.model_rate)

    @property
    def signal_delay(self) -> float:
        """Device frames from an input sample to its output sample, not counting buffering."""
        model_side = self._in_resampler.delay_out + self.engine.dry_delay.delay + self.engine.latency
        return model_side * self.device_rate / self.model_rate + self._out_resampler.delay_out + self.pad

    @property
    def pending_device_frames(self) -> float:
        """Input held, not yet a whole block (device frames)."""
        return self._pending.shape[1] * self.device_rate / self.model_rate

    def reset(self) -> None:
        self._pending = np.zeros((self.engine.in_channels, 0), dtype=np.float32)
        self._in_resampler.reset()
        self._out_resampler.reset()
        self._last_block = None

    def frames_needed(self) -> int:
        """Device frames still to arrive before the next block can run (an estimate, >= 1)."""
        missing = self.block - self._pending.shape[1]
        return max(1, math.ceil(missing * self.device_rate / self.model_rate))

    @property
    def keeps_retake_state(self) -> bool:
        """Whether it saves the state each block starts from, so blocks can be retaken."""
        return self._before is not None

    @property
    def can_retake(self) -> bool:
        """Whether the last ``process`` ran exactly one block that ``retake`` can compute again."""
        return self._last_block is not None

    def process(self, device_frames: np.ndarray) -> np.ndarray:
        """[n, device in channels] -> [m, device out channels]; m is whatever whole blocks gave."""
        x = fit_device_channels(device_frames, self.engine.in_channels)
        x = self._in_resampler.process(x)
        self._pending = np.concatenate([self._pending, x], axis=1) if self._pending.shape[1] else x
        outputs = []
        self._last_block = None
        count = self._pending.shape[1] // self.block
        while self._pending.shape[1] >= self.block:
            block = np.ascontiguousarray(self._pending[:, :self.block])
            self._pending = self._pending[:, self.block:]
            if count == 1 and self._before is not None:
                self._before.save()
                self._last_block = block
            outputs.append(self._out_resampler.process(self.engine.process_block(block)))
        if not outputs:
            return np.zeros((0, self.device_out_channels), dtype=np.float32)
        return self._finish(np.concatenate(outputs, axis=1) if len(outputs) > 1 else outputs[0])

    def retake(self) -> np.ndarray:
        """Compute the last block again, from the state it started from, with whatever bends and
        gains are current; the output has the same shape as that block's. ``keep_first`` undoes it."""
        self._after.save()
        self._before.restore()
        return self._finish(self._out_resampler.process(self.engine.process_block(self._last_block)))

    def keep_first(self) -> None:
        """The retake is not played: go on from the state the first take left."""
        self._after.restore()

    def _finish(self, out: np.ndarray) -> np.ndarray:
        if self._out_resampler.identity is False:  # band-limited overshoot must not pass the ceiling
            np.clip(out, -self.engine.safety.ceiling, self.engine.safety.ceiling, out=out)
        return fit_device_channels(out.T, self.device_out_channels).T.copy()
