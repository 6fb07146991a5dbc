"""Device-rate audio in, device-rate audio out, through the block engine (model thread only).

Channels are fitted (mono model on a stereo interface and the reverse), the rate is converted
with streaming resamplers on both sides, and the model runs on whole blocks. The chain is a
constant delay: ``signal_delay`` device frames (resamplers, the model's own delay, look-ahead).
"""

from __future__ import annotations

import math

import numpy as np

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
    def __init__(self, engine: BlockEngine, device_rate: int, device_in_channels: int, device_out_channels: int):
        self.engine = engine
        model = engine.model
        self.device_rate = device_rate
        self.model_rate = model.sample_rate
        self.device_in_channels = device_in_channels
        self.device_out_channels = device_out_channels
        self.block = engine.block_size
        self._in_resampler = StreamingResampler(device_rate, self.model_rate, model.in_channels)
        self._out_resampler = StreamingResampler(self.model_rate, device_rate, model.out_channels)
        self.reset()

    @property
    def block_device_frames(self) -> int:
        return math.ceil(self.block * self.device_rate / self.model_rate)

    @property
    def signal_delay(self) -> float:
        """Device frames from an input sample to its output sample, not counting buffering."""
        model_side = self._in_resampler.delay_out + self.engine.dry_delay.delay + self.engine.latency
        return model_side * self.device_rate / self.model_rate + self._out_resampler.delay_out

    def reset(self) -> None:
        self._pending = np.zeros((self.engine.in_channels, 0), dtype=np.float32)
        self._in_resampler.reset()
        self._out_resampler.reset()

    def frames_needed(self) -> int:
        """Device frames still to arrive before the next block can run (an estimate, >= 1)."""
        missing = self.block - self._pending.shape[1]
        return max(1, math.ceil(missing * self.device_rate / self.model_rate))

    def process(self, device_frames: np.ndarray) -> np.ndarray:
        """[n, device in channels] -> [m, device out channels]; m is whatever whole blocks gave."""
        x = fit_device_channels(device_frames, self.engine.in_channels)
        x = self._in_resampler.process(x)
        self._pending = np.concatenate([self._pending, x], axis=1) if self._pending.shape[1] else x
        outputs = []
        while self._pending.shape[1] >= self.block:
            block = np.ascontiguousarray(self._pending[:, :self.block])
            self._pending = self._pending[:, self.block:]
            outputs.append(self._out_resampler.process(self.engine.process_block(block)))
        if not outputs:
            return np.zeros((0, self.device_out_channels), dtype=np.float32)
        out = np.concatenate(outputs, axis=1) if len(outputs) > 1 else outputs[0]
        if self._out_resampler.identity is False:  # band-limited overshoot must not pass the ceiling
            np.clip(out, -self.engine.safety.ceiling, self.engine.safety.ceiling, out=out)
        return fit_device_channels(out.T, self.device_out_channels).T.copy()
