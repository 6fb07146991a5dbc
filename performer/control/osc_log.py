"""Rate-limited logging: a flood of bad datagrams must not flood the log (or slow the server)."""

from __future__ import annotations

import logging
import time
from typing import Callable


class RateLimitedLog:
    """At most ``burst`` records per ``interval`` seconds for each kind of event.

    The rest are counted, and the count is reported with the first record of a later window, so
    nothing disappears without a trace.
    """

    def __init__(self, logger: logging.Logger, burst: int = 5, interval: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.burst = burst
        self.interval = interval
        self._clock = clock
        self._windows: dict[str, list[float]] = {}  # kind -> [window start, logged, suppressed]

    def log(self, kind: str, level: int, message: str, *args: object) -> bool:
        """Log ``message % args`` unless this kind is over its budget; return whether it logged."""
        now = self._clock()
        window = self._windows.setdefault(kind, [now, 0, 0])
        if now - window[0] >= self.interval:
            if window[2]:
                self.logger.log(level, "%d more %s messages were not logged in the last %.0f s",
                                int(window[2]), kind, now - window[0])
            window[:] = [now, 0, 0]
        if window[1] >= self.burst:
            window[2] += 1
            return False
        window[1] += 1
        self.logger.log(level, message, *args)
        return True
