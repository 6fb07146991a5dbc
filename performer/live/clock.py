"""A software clock for fully headless runs (file in, file out, no device): it calls the same
callback as a device would, one period at a time, in real time."""

from __future__ import annotations

import threading
import time

from performer.live.callback import CallbackCore
from performer.live.shared import GO, STOP, SharedAudio


class ClockHost:
    def __init__(self, shared: SharedAudio, rate: int, period: int = 256):
        self.shared = shared
        self.rate = rate
        self.period = period
        self.core = CallbackCore(shared, device_input=False, device_output=False)
        self._thread: threading.Thread | None = None
        self.lost_message = None

    def start(self) -> None:
        self.shared.header[GO] = 1
        self.shared.header[STOP] = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name="performer-clock")
        self._thread.start()

    def _run(self) -> None:
        step = self.period / self.rate
        deadline = time.monotonic()
        while not self.shared.header[STOP]:
            self.core(None, None, self.period, False)
            deadline += step
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:  # suspended or starved for a second: resume from now, not in a burst
                deadline = time.monotonic()

    def poll_lost(self) -> None:
        return None

    def seconds_since_callback(self) -> float:
        return 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self.shared.header[STOP] = 1
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def kill(self) -> None:
        self.stop()
