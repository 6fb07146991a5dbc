"""A hot swap on the model thread: the next model's pipeline takes over from the playing one.

The incoming pipeline hears every input frame from the swap on. Its output is lined up with the
outgoing one's, sample for sample: output position p means the same input sample in both (a
pad of silence in front of the incoming output makes up the difference in delay and buffering).
Both play until the incoming model's first real output, then an equal-power crossfade (cos/sin)
hands over, and the outgoing model stops.

Latency stays what it was when the incoming model can keep it (a shorter delay, a block no
longer than the show's); when it cannot (a longer delay, a bigger block), the pad is as long as
that model needs and the show's latency grows by the difference, once (``Incoming.grew``).
Everything here runs on the model thread, but ``Incoming``'s construction (warm-up: any thread).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from performer.live.pipeline import LivePipeline


@dataclass
class Incoming:
    """A model prepared to take over: its pipeline built and warmed off the model thread."""

    name: str
    pipeline: LivePipeline
    warm_ms: float  # its slowest warm-up block
    window: int  # device frames it needs to compute a block (as the show sized its own)
    requested: float  # perf_counter when the swap was asked for
    began: float = 0.0  # perf_counter when the crossfade's model thread took it
    finished: float = 0.0  # ... and when the outgoing model stopped
    pad: int = 0  # device frames of silence in front of its output
    grew: float = 0.0  # device frames the show's latency grew by for it
    packed: object = None  # its caches packed for retakes (audio/checkpoint.PackedCaches), if any


class Crossfade:
    """Pipeline-shaped (as the model thread uses one): both pipelines, their outputs aligned and
    mixed; ``done`` once the incoming one plays alone (then use ``incoming`` directly). Model
    thread only; allocates per block, as the pipelines themselves do."""

    can_retake = False

    def __init__(self, outgoing, incoming: LivePipeline, pad: int, fade_frames: int):
        self.outgoing, self.incoming = outgoing, incoming
        self.engine = incoming.engine
        self.device_in_channels = incoming.device_in_channels
        self.block_device_frames = incoming.block_device_frames
        channels = incoming.device_out_channels
        self._old = np.zeros((0, channels), dtype=np.float32)
        self._new = np.zeros((pad, channels), dtype=np.float32)
        self._emitted = 0
        self.fade_start = pad + math.ceil(incoming.signal_delay)  # the incoming model's first real output
        self.fade_end = self.fade_start + max(1, fade_frames)
        self.done = False

    @property
    def signal_delay(self) -> float:
        return self.incoming.signal_delay

    def frames_needed(self) -> int:
        return min(self.outgoing.frames_needed(), self.incoming.frames_needed())

    def reset(self) -> None:  # the device restarted: no crossfade over a gap, the incoming model plays
        self.incoming.reset()
        self.done = True

    def process(self, frames: np.ndarray) -> np.ndarray:
        if self.done:
            return self.incoming.process(frames)
        self._old = _joined(self._old, self.outgoing.process(frames))
        self._new = _joined(self._new, self.incoming.process(frames))
        n = min(len(self._old), len(self._new))
        positions = np.arange(self._emitted, self._emitted + n)
        t = np.clip((positions - self.fade_start) / (self.fade_end - self.fade_start), 0.0, 1.0)[:, None]
        out = (self._old[:n] * np.cos(0.5 * np.pi * t) + self._new[:n] * np.sin(0.5 * np.pi * t)).astype(np.float32)
        self._old, self._new = self._old[n:], self._new[n:]
        self._emitted += n
        if self._emitted >= self.fade_end:
            self.done = True
            out = _joined(out, self._new)  # the incoming model's output past the fade: as it is
            self._new = self._old = out[:0]
        return out


def pad_for(outgoing, incoming: LivePipeline, window: int, budget: int) -> tuple[int, float]:
    """(pad, growth): device frames of silence in front of ``incoming``'s output so that it lines up
    with ``outgoing``'s, and how much later than that it must be to be in time (0: the show's
    latency holds).

    Output j (from the swap on) is input ``pending + j - signal`` for the outgoing pipeline
    (``pending``: input it holds, not yet a block) and ``j - pad - signal`` for the incoming one:
    equal when pad = pending + its signal - the incoming signal. It is in time when its block's
    input is in and computed (``window``) before the device reads it: pad >= pending + block +
    window - budget, where ``budget`` is the show's ring latency plus a period (a callback
    delivers input and takes output in the same period)."""
    pending = outgoing_pending(outgoing)
    aligned = pending + outgoing.signal_delay - incoming.signal_delay
    needed = pending + incoming.block_device_frames + window - budget
    pad = max(aligned, needed, 0.0)
    return round(pad), pad - aligned


def outgoing_pending(pipeline) -> float:
    """Device frames of input a pipeline holds that are not yet in a block."""
    if isinstance(pipeline, Crossfade):
        pipeline = pipeline.incoming
    return pipeline.pending_device_frames


def _joined(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not len(a):
        return b
    if not len(b):
        return a
    return np.concatenate([a, b])
