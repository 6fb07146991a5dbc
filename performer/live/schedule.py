"""When the model thread starts a block: as late as the block's deadline allows, less a reserve.

Bends are installed when a block starts. A knob moved just after a block started is heard one
model block later plus the rest of the compute window, so every millisecond a block waits after
its input is complete is a millisecond off the worst knob-to-sound time: starting late shrinks
"block + window" to "block + reserve". A block that is still late makes the schedule back off
(start at once) for a while: a dropout costs more on stage than a few ms of control latency.
The reserve also grows with the slowest recent block (x1.5 + 2 ms): on a loaded machine the model's
time per block has a long tail (3x its median here while a training run used the other core).
Off unless asked for (``serve --reserve MS``): on two cores, a reserve short enough to meet the
knob-to-sound target let a control flood or a process starting beside the show push the odd block
past its deadline (docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass

BACKOFF_S = 30.0
TAIL_FACTOR, TAIL_MARGIN_S = 1.5, 0.002


def due_in(queued: int, since_callback_s: float, period: int, rate: int) -> float:
    """Seconds until the callback that reads the output frame ``queued`` frames past the device's
    read position, ``since_callback_s`` after the last callback: the device reads a period per
    callback. The one deadline that late starts, retakes and the margin telemetry all use."""
    return (queued // period + 1) * period / rate - since_callback_s


@dataclass
class LateStart:
    rate: int
    period: int        # device frames per callback
    window: int        # device frames between a block's last input callback and its first output callback
    reserve_s: float | None  # seconds kept for computing the block, at least; None: start at once
    backoff_s: float = BACKOFF_S
    backoffs: int = 0  # late blocks that switched late starts off for ``backoff_s``
    _until: float = 0.0

    @property
    def active(self) -> bool:
        return self.reserve_s is not None and self.reserve_s < self.window / self.rate

    def delay(self, queued: int, since_callback_s: float, now: float, slowest_s: float = 0.0) -> float:
        """Seconds the model thread waits before starting a block whose first output frame is
        ``queued`` frames past the device's read position, ``since_callback_s`` after the last
        callback (monotonic ``now``); ``slowest_s``: the slowest recent block. The output is read
        a period per callback."""
        if not self.active or now < self._until or queued < 0:
            return 0.0
        reserve = max(self.reserve_s, TAIL_FACTOR * slowest_s + TAIL_MARGIN_S)
        return max(0.0, due_in(queued, since_callback_s, self.period, self.rate) - reserve)

    def note_late(self, now: float) -> None:
        """A block missed its deadline: start blocks at once for ``backoff_s``."""
        if self.active and now >= self._until:
            self.backoffs += 1
        self._until = now + self.backoff_s

    def snapshot(self) -> dict:
        reserve_ms = None if self.reserve_s is None else round(1000 * self.reserve_s, 1)
        return {"active": self.active, "reserve_ms": reserve_ms, "backoffs": self.backoffs}

    def describe(self) -> str:
        if not self.active:
            return "blocks start as soon as their input is in (--reserve MS: later, for quicker knobs)"
        return f"blocks start {1000 * self.reserve_s:.1f} ms before they are due (later knob moves still make it)"
