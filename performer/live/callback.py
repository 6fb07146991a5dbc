"""The device callback: moves audio between the device buffers and the shared rings.

Used verbatim by the device process (PortAudio's callback) and by the headless clock thread.
Nothing in here allocates audio buffers, logs, locks, does I/O or touches the model.
"""

from __future__ import annotations

import time

import numpy as np

from performer.live.shared import (CALLBACK_GAP_MAX_NS, CALLBACK_MAX_NS, CALLBACKS, HEARTBEAT_NS, LAST_FRAMES,
                                   LATE_FRAMES, SOURCE_POS, WARMUP_CALLBACKS, XRUNS, XRUNS_AFTER_WARMUP, SharedAudio)

MAX_CALLBACK_FRAMES = 1 << 16


class CallbackCore:
    """One period of audio: input (device or looped source) into the input ring, the output
    ring into the device output (or nowhere). Realtime: every method here runs in the callback."""

    def __init__(self, shared: SharedAudio, device_input: bool, device_output: bool):
        self.shared = shared
        self.header = shared.header
        self.device_input = device_input
        self.device_output = device_output
        self.source = shared.source if shared.layout.source_frames else None
        # When the device has no output, the output ring is still clocked into this scratch.
        self._scratch = np.zeros((MAX_CALLBACK_FRAMES, shared.layout.out_channels), dtype=np.float32)
        self._last_start_ns = 0

    def __call__(self, indata, outdata, frames: int, flagged: bool) -> None:
        """Realtime: runs once per device period. No allocation, lock, log or I/O."""
        started = time.monotonic_ns()
        h = self.header
        h[CALLBACKS] += 1
        if flagged:
            h[XRUNS] += 1
            if h[CALLBACKS] > WARMUP_CALLBACKS:
                h[XRUNS_AFTER_WARMUP] += 1
        if self.device_input:
            self.shared.input.push(indata)
        elif self.source is not None:
            self._push_source(frames)
        target = outdata if self.device_output else self._scratch[:frames]
        h[LATE_FRAMES] += self.shared.output.pull_clocked(target)
        h[LAST_FRAMES] = frames
        finished = time.monotonic_ns()
        h[HEARTBEAT_NS] = finished
        # Our own work against the time between wake-ups: a miss with a short body was a late
        # wake-up (scheduling, the GIL), not a slow callback.
        if h[CALLBACKS] > WARMUP_CALLBACKS:
            h[CALLBACK_MAX_NS] = max(int(h[CALLBACK_MAX_NS]), finished - started)
            h[CALLBACK_GAP_MAX_NS] = max(int(h[CALLBACK_GAP_MAX_NS]), started - self._last_start_ns)
        self._last_start_ns = started

    def _push_source(self, frames: int) -> None:
        """Realtime: the looped input file, already at the device rate, into the input ring."""
        source, pos, length = self.source, int(self.header[SOURCE_POS]), self.source.shape[0]
        remaining = frames
        while remaining:
            n = min(remaining, length - pos)
            self.shared.input.push(source[pos:pos + n])
            pos = (pos + n) % length
            remaining -= n
        self.header[SOURCE_POS] = pos
