"""Retakes: a block is computed as soon as its input is in, and computed again just before it is
due when a knob moved meanwhile.

Bends are installed when a block is computed, so a knob moved just after a block started is heard
one model block plus the compute window later (46.4 + 17.4 ms for the default model at 44.1 kHz /
256). Starting blocks late (``--reserve``) shortens that to block + reserve, but then a slow block
is a dropout. A retake keeps the early take in the output ring as the safety net: starting
``reserve_s`` before the block is due, the model thread computes it again from the state saved
before it (performer/audio/checkpoint.py), with the bends that came in meanwhile, and overwrites
the early take only if the retake is done at least GUARD_S before the callback that reads it. A
retake that is too late is dropped and the state the early take left is put back: that knob move
is heard a block later, and nothing is lost. The cost: a state save per block, and a second model
call for each block during which a knob moved.

The reserve follows the model thread's recent time per take (an envelope that jumps to a slow
take and decays over about a second), so a loaded machine retakes less often rather than late.
"""

from __future__ import annotations

from dataclasses import dataclass

GUARD_S = 0.001  # a retake must be in the ring this long before the callback that reads it
MARGIN_S = 0.001  # the reserve: FACTOR x the take envelope + this
FACTOR = 1.25
DECAY = 0.95  # per take: the envelope falls back from a slow take in ~20 blocks


@dataclass
class Retakes:
    rate: int
    period: int  # device frames per callback
    window: int  # device frames between a block's last input callback and its first output callback
    enabled: bool = True
    reason: str = ""  # why they are off, when they are
    done: int = 0  # retakes computed
    kept: int = 0  # ... and in the ring in time
    late: int = 0  # ... and dropped: done too near the callback that reads the block
    splices: int = 0  # the device read the block's head while a retake was being written
    _envelope_s: float = 0.0

    def note_take(self, seconds: float) -> None:
        """Model thread: a take (early or retake, state save included) took ``seconds``."""
        self._envelope_s = max(seconds, DECAY * self._envelope_s + (1.0 - DECAY) * seconds)

    @property
    def reserve_s(self) -> float:
        return FACTOR * self._envelope_s + MARGIN_S

    def due_in(self, queued: int, since_callback_s: float) -> float:
        """Seconds until the callback that reads a block whose first frame is ``queued`` frames past
        the device's read position, ``since_callback_s`` after the last callback (a period per callback)."""
        return (queued // self.period + 1) * self.period / self.rate - since_callback_s

    def start_in(self, queued: int, since_callback_s: float) -> float:
        """Seconds until a retake of that block should start (<= 0: now)."""
        return self.due_in(queued, since_callback_s) - self.reserve_s

    def worth_trying(self) -> bool:
        """Whether a retake can fit the window at all with the current reserve."""
        return self.enabled and self.reserve_s + GUARD_S < self.window / self.rate

    def describe(self) -> str:
        if not self.enabled:
            return f"no retakes: {self.reason}"
        return (f"retakes: a knob moved up to about {1000 * self.reserve_s:.1f} ms before a block is due is heard "
                f"in it (--no-retakes: off)")

    def snapshot(self) -> dict:
        return {"enabled": self.enabled, "reason": self.reason, "reserve_ms": round(1000 * self.reserve_s, 1),
                "done": self.done, "kept": self.kept, "late": self.late, "splices": self.splices}
