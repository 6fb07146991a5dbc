"""Audio rings and counters in a memory-mapped file shared with the device process.

The device process (or the headless clock thread) owns the callback; the server process owns
the model thread. Everything they exchange lives here, preallocated at start: two frame rings,
an optional looped input source, and int64/float64 counters with one writer each.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from performer.audio.ring import FrameRing

# int64 header slots (one writer each: D = device side, M = model thread / server)
IN_WRITTEN, IN_READ = 0, 1      # input ring counters (D writes WRITTEN, M writes READ)
OUT_WRITTEN, OUT_READ = 2, 3    # output ring counters (M writes WRITTEN, D writes READ)
CALLBACKS = 4                   # D: callbacks so far
XRUNS = 5                       # D: callbacks with any status flag (input overflow / output underflow)
XRUNS_AFTER_WARMUP = 6          # D: the same, ignoring the first WARMUP_CALLBACKS
LATE_FRAMES = 7                 # D: output frames played as silence because the model was late
STOP = 8                        # M: 1 asks the device side to stop
SOURCE_POS = 9                  # D: position in the looped input source
HEARTBEAT_NS = 10               # D: monotonic ns of the last callback
LAST_FRAMES = 11                # D: frames in the last callback
GO = 12                         # M: 1 lets the device side start its stream (rings are primed)
CALLBACK_MAX_NS = 13            # D: the longest callback body after warm-up (our own work)
CALLBACK_GAP_MAX_NS = 14        # D: the longest time between two callback starts after warm-up
HEADER_SLOTS = 16
WARMUP_CALLBACKS = 20           # first callbacks can overrun on first-call costs (research notes)


@dataclass(frozen=True)
class Layout:
    capacity: int
    in_channels: int
    out_channels: int
    source_frames: int = 0

    def sizes(self) -> list[tuple[str, tuple[int, ...], type]]:
        return [("header", (HEADER_SLOTS,), np.int64),
                ("in", (self.capacity, self.in_channels), np.float32),
                ("out", (self.capacity, self.out_channels), np.float32),
                ("source", (self.source_frames, self.in_channels), np.float32)]

    def nbytes(self) -> int:
        return sum(int(np.prod(shape)) * np.dtype(dtype).itemsize for _, shape, dtype in self.sizes())

    def to_dict(self) -> dict:
        return {"capacity": self.capacity, "in_channels": self.in_channels, "out_channels": self.out_channels,
                "source_frames": self.source_frames}


def shared_dir() -> Path:
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


class SharedAudio:
    """Views over one mapped file. ``create`` makes a zeroed file; ``attach`` maps an existing one."""

    def __init__(self, path: Path, layout: Layout, mode: str):
        self.path = path
        self.layout = layout
        self._map = np.memmap(path, dtype=np.uint8, mode=mode, shape=(layout.nbytes(),))
        views, offset = {}, 0
        for name, shape, dtype in layout.sizes():
            count = int(np.prod(shape))
            views[name] = np.frombuffer(self._map, dtype=dtype, count=count, offset=offset).reshape(shape)
            offset += count * np.dtype(dtype).itemsize
        self.header: np.ndarray = views["header"]
        self.source: np.ndarray = views["source"]
        self.input = FrameRing(views["in"], self.header[IN_WRITTEN:IN_READ + 1])
        self.output = FrameRing(views["out"], self.header[OUT_WRITTEN:OUT_READ + 1])

    @classmethod
    def create(cls, layout: Layout) -> "SharedAudio":
        fd, name = tempfile.mkstemp(prefix=f"performer-{os.getpid()}-", suffix=".audio", dir=shared_dir())
        os.ftruncate(fd, layout.nbytes())
        os.close(fd)
        return cls(Path(name), layout, "r+")

    @classmethod
    def attach(cls, path: str | Path, layout: Layout) -> "SharedAudio":
        return cls(Path(path), layout, "r+")

    def reset_counters(self, output_prefill: int) -> None:
        """Fresh rings for a new device stream; ``output_prefill`` frames of silence queued."""
        self.header[:] = 0
        self.input.reset()
        self.output.reset(written=output_prefill)

    def unlink(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
