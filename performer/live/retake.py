"""Retakes: a block is computed as soon as its input is in, and computed again just before it is
due when a knob moved meanwhile.

Bends are installed when a block is computed, so a knob moved just after a block started is heard
one model block plus the compute window later (46.4 + 17.4 ms for the default model at 44.1 kHz /
256). Starting blocks late (``--reserve``) shortens that to block + reserve, but then a slow block
is a dropout. A retake keeps the early take in the output ring as the safety net: starting
``reserve_s`` before the block is due, the model thread computes it again from the state saved
before it (performer/audio/checkpoint.py), with the bends that came in meanwhile, and overwrites
the early take if the retake is done at least GUARD_S before the callback that reads it. A retake
done later than that comes in where the device has not read yet: from the callback after next (a
period away at least), crossfaded over XFADE frames (a convex mix of two safe takes: never over
the ceiling), so the knob is heard a period or two late rather than a block late. Only a retake
with no such room left is dropped, and the state the early take left is put back: that knob move
is heard a block later, and nothing is lost. The cost: a state save per block, and a second model
call for each block during which a knob moved.

With ``splice_knobs`` (``serve --splice-knobs``, off by default) a block stays open after its
retake until the next block is due to start: a knob moved meanwhile is computed into it at once
(SPLICES_PER_BLOCK at most, a model call each) and spliced in from the callback after next, so a
lone knob move is heard about a take and two periods after it (~25 ms), not up to a block + the
reserve. The price: the change comes mid-block (crossfaded like a late retake) instead of at a
block boundary, and a knob moving all the time costs up to three model calls per block.

The reserve follows the model thread's recent time per take: FACTOR x the 90th percentile of the
last RECENT takes + MARGIN_S. Every ms of it is a ms on the worst knob-to-sound (a knob moved just
after a retake started waits a block + the reserve), and a late retake is only spliced in a
period or two late, so the reserve covers most takes rather than the slowest: one slow take (a
machine stall) does not widen it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from performer.live.fades import fade_gains
from performer.live.schedule import due_in

GUARD_S = 0.001  # a retake must be in the ring this long before the callback that reads it
MARGIN_S = 0.001  # the reserve: FACTOR x the recent takes' 90th percentile + this
FACTOR = 1.2
RECENT = 32  # takes (one or two a block: under a second)
XFADE = 128  # frames over which a late retake takes over from the early take
_XFADE_RAMP = fade_gains(0, XFADE, XFADE, rising=True)[:, None]  # the raised cosine the output fades use
SPLICES_PER_BLOCK = 1  # knob moves spliced into a block that is queued or playing (splice_knobs)


@dataclass
class Retakes:
    rate: int
    period: int  # device frames per callback
    window: int  # device frames between a block's last input callback and its first output callback
    enabled: bool = True
    reason: str = ""  # why they are off, when they are
    splice_knobs: bool = False  # a block stays open for knob moves until the next one starts
    splices_per_block: int = SPLICES_PER_BLOCK
    done: int = 0  # retakes computed
    kept: int = 0  # ... and in the ring whole, in time
    spliced: int = 0  # ... and in from a later callback on, crossfaded
    late: int = 0  # ... and dropped: the device had read (nearly) all of the block
    torn: int = 0  # the device read frames of a retake's region while it was being written
    on_demand: int = 0  # retakes for a knob moved after the block's retake (splice_knobs)
    reserve_s: float = MARGIN_S
    _recent: deque = field(default_factory=lambda: deque(maxlen=RECENT), repr=False)

    def note_take(self, seconds: float) -> None:
        """Model thread: a take (early or retake, state save included) took ``seconds``."""
        self._recent.append(seconds)
        ordered = sorted(self._recent)
        self.reserve_s = FACTOR * ordered[(len(ordered) * 9) // 10] + MARGIN_S

    def due_in(self, queued: int, since_callback_s: float) -> float:
        """Seconds until the callback that reads a block whose first frame is ``queued`` frames past
        the device's read position (live/schedule.py)."""
        return due_in(queued, since_callback_s, self.period, self.rate)

    def start_in(self, queued: int, since_callback_s: float) -> float:
        """Seconds until a retake of that block should start (<= 0: now)."""
        return self.due_in(queued, since_callback_s) - self.reserve_s

    def placement(self, position: int, frames: int, read: int, left_s: float) -> int | None:
        """Where a finished retake of the ``frames`` at ``position`` goes in, with the device's read
        position at ``read`` and ``left_s`` until the callback that reads ``position``: the whole
        block with GUARD_S left; else from the first frame the callback after next reads (a period
        away at least); None when that leaves less than a crossfade of the block."""
        if left_s >= GUARD_S and position >= read:
            return position
        start = max(position, read + self.period)
        return start if start + XFADE <= position + frames else None

    def worth_trying(self) -> bool:
        """Whether a retake can fit the window at all with the current reserve."""
        return self.enabled and self.reserve_s + GUARD_S < self.window / self.rate

    def describe(self) -> str:
        if not self.enabled:
            return f"no retakes: {self.reason}"
        if self.splice_knobs:
            return ("retakes: a knob moved while a block is queued or plays is spliced into it, crossfaded "
                    f"(--splice-knobs; reserve {1000 * self.reserve_s:.1f} ms)")
        return (f"retakes: a knob moved up to about {1000 * self.reserve_s:.1f} ms before a block is due is heard "
                f"in it (--no-retakes: off; --splice-knobs: also later, mid-block)")

    def snapshot(self) -> dict:
        return {"enabled": self.enabled, "reason": self.reason, "reserve_ms": round(1000 * self.reserve_s, 1),
                "done": self.done, "kept": self.kept, "spliced": self.spliced, "late": self.late, "torn": self.torn,
                "splice_knobs": self.splice_knobs, "on_demand": self.on_demand}


def splice(first: np.ndarray, retake: np.ndarray, at: int) -> np.ndarray:
    """[frames, channels]: the first take up to ``at``, then a raised-cosine crossfade over XFADE
    frames into the retake (both takes come from the same state and input: they are alike but for
    the knob, so the crossfade is smooth)."""
    out = retake.copy()
    out[:at] = first[:at]
    fade = slice(at, at + XFADE)
    out[fade] = first[fade] + (retake[fade] - first[fade]) * _XFADE_RAMP
    return out
