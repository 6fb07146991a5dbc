"""Recording from a writer thread: the model thread hands frames over, never touches a file.

The file is written as ``<name>.partial.wav`` and renamed when recording stops, so a finished
recording is never half-written; after a crash the partial file still holds what was played.
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

log = logging.getLogger("performer.record")

MAX_QUEUED_SECONDS = 30.0


class Recorder:
    def __init__(self, path: str | Path, rate: int, channels: int, subtype: str = "PCM_24"):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.stem + ".partial" + self.path.suffix)
        self.rate, self.channels, self.subtype = rate, channels, subtype
        self.frames = 0
        self.dropped = 0
        self.error: str | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=max(4, int(MAX_QUEUED_SECONDS * rate / 256)))
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = sf.SoundFile(self.partial, "w", samplerate=self.rate, channels=self.channels,
                              subtype=self.subtype, format="WAV")
        self._thread = threading.Thread(target=self._write, args=(handle,), daemon=True,
                                        name=f"performer-record-{self.path.name}")
        self._thread.start()

    def push(self, frames: np.ndarray) -> None:
        """Model thread: queue [n, channels] frames (copied); never blocks. A stalled disk costs
        frames of the recording (counted), never audio."""
        try:
            self._queue.put_nowait(np.array(frames, dtype=np.float32))
        except queue.Full:
            self.dropped += frames.shape[0]

    def stop(self) -> Path | None:
        """Finish the file and move it into place; returns the path, or None if nothing was written."""
        if self._thread is None:
            return None
        self._queue.put(None)
        self._thread.join()
        self._thread = None
        if self.error:
            log.error("recording %s failed: %s (partial file kept)", self.path, self.error)
            return None
        self.partial.replace(self.path)
        if self.dropped:
            log.warning("recording %s lost %d frames to a slow disk", self.path, self.dropped)
        return self.path

    def _write(self, handle: sf.SoundFile) -> None:
        with handle:
            while True:
                frames = self._queue.get()
                if frames is None:
                    break
                if self.error:
                    continue
                try:
                    handle.write(frames)
                    self.frames += frames.shape[0]
                except Exception as exc:  # disk full & co.: keep draining so the model thread never blocks
                    self.error = str(exc)
            try:
                handle.flush()
            except Exception:
                pass
