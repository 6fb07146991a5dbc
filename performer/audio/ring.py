"""Lock-free single-producer single-consumer audio rings on absolute frame counters.

A ring lives in any buffer (a numpy array in this process, or shared memory with the device
process). Counters are absolute frame numbers stored in an int64 array: one writer per counter,
stored after the audio it covers, so a reader that sees a counter also sees the frames. Aligned
8-byte stores are atomic on the platforms we run on; no lock is ever taken.

The output ring is *clocked by its reader*: the device callback advances ``read`` by one period
every time, whether or not the frames were written. Late frames are played as silence and
counted, and the writer's late frames are dropped, so the latency stays exactly what was
reported instead of growing after every hiccup.
"""

from __future__ import annotations

import numpy as np


class FrameRing:
    """``data``: float32 [capacity, channels]; ``counters``: int64 [2] = (written, read)."""

    WRITTEN, READ = 0, 1

    def __init__(self, data: np.ndarray, counters: np.ndarray):
        if data.ndim != 2 or data.dtype != np.float32 or data.strides[0] < data.strides[1]:
            raise ValueError(f"ring data must be float32 [frames, channels], got {data.dtype} {data.shape}")
        self.data = data
        self.counters = counters
        self.capacity = data.shape[0]
        self.channels = data.shape[1]

    @classmethod
    def allocate(cls, capacity: int, channels: int) -> "FrameRing":
        return cls(np.zeros((capacity, channels), dtype=np.float32), np.zeros(2, dtype=np.int64))

    def with_channels(self, channels: int) -> "FrameRing":
        """The same ring and counters, over its first ``channels`` columns (a device that
        opened fewer channels than the ring holds)."""
        return self if channels == self.channels else FrameRing(self.data[:, :channels], self.counters)

    @property
    def written(self) -> int:
        return int(self.counters[self.WRITTEN])

    @property
    def read(self) -> int:
        return int(self.counters[self.READ])

    def reset(self, written: int = 0) -> None:
        """Empty the ring; with ``written``, that many frames of silence are queued (output prefill).
        Only while neither side runs."""
        self.data.fill(0.0)
        self.counters[self.READ] = 0
        self.counters[self.WRITTEN] = written

    # -- callback side ------------------------------------------------------------------------
    def push(self, frames: np.ndarray) -> None:
        """Append ``frames`` [n, channels]. Device callback: no allocation, no lock, no I/O.
        The reader detects an overrun from the counters (``unread() > capacity``)."""
        n = frames.shape[0]
        start = int(self.counters[self.WRITTEN]) % self.capacity
        first = min(n, self.capacity - start)
        self.data[start:start + first] = frames[:first]
        if first < n:
            self.data[:n - first] = frames[first:]
        self.counters[self.WRITTEN] += n

    def pull_clocked(self, out: np.ndarray) -> int:
        """Fill ``out`` [n, channels] with the next n frames and advance ``read`` by n whatever
        happened; frames not yet written are silence. Returns how many frames were late.
        Device callback: no allocation, no lock, no I/O."""
        n = out.shape[0]
        read = int(self.counters[self.READ])
        ready = int(self.counters[self.WRITTEN]) - read
        ready = 0 if ready < 0 else (n if ready > n else ready)
        if ready:
            start = read % self.capacity
            first = min(ready, self.capacity - start)
            out[:first] = self.data[start:start + first]
            if first < ready:
                out[first:ready] = self.data[:ready - first]
        if ready < n:
            out[ready:] = 0.0
        self.counters[self.READ] = read + n
        return n - ready

    # -- model-thread side --------------------------------------------------------------------
    def unread(self) -> int:
        return int(self.counters[self.WRITTEN]) - int(self.counters[self.READ])

    def take(self, max_frames: int | None = None) -> tuple[np.ndarray, int]:
        """Copy out the unread frames (at most ``max_frames``) and consume them.

        Returns (frames [n, channels], dropped): if the writer lapped us, the oldest frames are
        gone; we skip to the newest ``capacity // 2`` and report how many were dropped."""
        dropped = 0
        while True:
            written = int(self.counters[self.WRITTEN])
            read = int(self.counters[self.READ])
            if written - read > self.capacity:
                skip_to = written - self.capacity // 2
                dropped += skip_to - read
                read = skip_to
            n = written - read if max_frames is None else min(written - read, max_frames)
            start = read % self.capacity
            first = min(n, self.capacity - start)
            out = np.empty((n, self.channels), dtype=np.float32)
            out[:first] = self.data[start:start + first]
            if first < n:
                out[first:] = self.data[:n - first]
            if int(self.counters[self.WRITTEN]) - read <= self.capacity:
                self.counters[self.READ] = read + n
                return out, dropped
            # the writer lapped us while we copied: those frames may be torn, skip past them
            self.counters[self.READ] = read

    def scale_at(self, frame: int, gains: np.ndarray) -> None:
        """Multiply the written, unread frames among ``frame``.. ``frame + len(gains)`` by ``gains``
        (one per frame); frames outside that are left alone. Model thread (a fade of what is queued)."""
        read, written = int(self.counters[self.READ]), int(self.counters[self.WRITTEN])
        lo, hi = max(frame, read), min(frame + gains.shape[0], written)
        while lo < hi:  # one pass unless the range wraps
            pos = lo % self.capacity
            n = min(hi - lo, self.capacity - pos)
            self.data[pos:pos + n] *= gains[lo - frame:lo - frame + n, None]
            lo += n

    def write_at(self, frame: int, frames: np.ndarray) -> int:
        """Write ``frames`` as absolute frames ``frame``.. of a reader-clocked ring. Frames the
        reader has already passed are dropped (returned count); ``written`` advances to the end."""
        n = frames.shape[0]
        read = int(self.counters[self.READ])
        late = min(n, max(0, read - frame))
        if late < n:
            ahead = frame + n - read - self.capacity
            if ahead > 0:
                raise OverflowError(f"output ring overrun by {ahead} frames (writer ahead of the device)")
            pos = (frame + late) % self.capacity
            body = frames[late:]
            first = min(body.shape[0], self.capacity - pos)
            self.data[pos:pos + first] = body[:first]
            if first < body.shape[0]:
                self.data[:body.shape[0] - first] = body[first:]
        self.counters[self.WRITTEN] = frame + n
        return late
