"""Takeover: what an absolute control does when its target was changed from elsewhere.

Three modes, as in Ableton Live ("MIDI and Key Remote Control", Takeover Mode), Bitwig and
the Deluge firmware. Everything is in normalised units (0..1, see shaping.Shape.inverse)
and deterministic: callers pass the time in.

"none"     every value goes through: jumps are the performer's business.

"pickup"   Mixxx's soft takeover (src/controllers/softtakeover.cpp, the willIgnore() of
           current Mixxx), the most precisely specified open implementation. With
           prev = the control's previous value (accepted or not), current = the target's
           value now (clamped to 0..1, so a target outside the control's reach is caught at
           the end stop, Mixxx's CatchOutOfBounds), a value is ACCEPTED when
             1. it arrives less than ``whip_time`` (50 ms) after the last accepted value
                (fast whips on slow-refresh controllers keep working), or
             2. prev and the value lie on opposite sides of current, or either equals it
                (the control crossed the value: the Deluge firmware's "only picked up if
                changed very slowly" bug #427 is what happens without this), or
             3. the value or prev is within ``threshold`` (3/128) of current.
           Otherwise it is ignored. Mixxx's truth table, for a value far from current and
           more than 50 ms after the last accepted one: ignored only when prev is on the
           same side and also far. Mixxx ignores the first value after enabling, having no
           prev; here the first value (after construction or ``reset()``) is accepted when
           it is within the threshold and ignored otherwise, as Mixxx's other rules would
           only let a near value through anyway.
           Once accepted, current follows the control, so later values pass by rule 2 or 3
           until something else moves the target again. After such an external change call
           ``note_external_change()``: it ends the whip window, so a control far from the
           new value must pick it up again even if it was being turned just now.

"scaling"  Ableton's value scaling: "calculates a smooth convergence of the two as the control
           is moved. As soon as they are equal, the destination value tracks the control's
           value 1:1." Moving the control from p to c moves the value v the same fraction of
           the way to the end stop the control is heading for:
             c > p:  v' = v + (c - p) * (1 - v) / (1 - p)
             c < p:  v' = v - (p - c) * v / p
           so control and value meet at the end stop at the latest. Within ``threshold``
           of current, the value tracks 1:1 (the snap is below Mixxx's audible jump). The
           first value after ``reset()`` has no p: it is accepted if within the threshold,
           otherwise only remembered.
"""

from __future__ import annotations

from typing import Literal

from performer.control.midi.shaping import clamp01

TakeoverMode = Literal["none", "pickup", "scaling"]
TAKEOVER_MODES: tuple[TakeoverMode, ...] = ("none", "pickup", "scaling")

DEFAULT_THRESHOLD = 3.0 / 128  # Mixxx kDefaultTakeoverThreshold
DEFAULT_WHIP_TIME = 0.050  # Mixxx kSubsequentValueOverrideTime, seconds


class Takeover:
    """Takeover state of one absolute control bound to one target.

    >>> t = Takeover("pickup")
    >>> t.feed(0.1, current=0.5, now=0.0) is None, t.feed(0.6, current=0.5, now=1.0)
    (True, 0.6)
    """

    def __init__(
        self,
        mode: TakeoverMode = "pickup",
        threshold: float = DEFAULT_THRESHOLD,
        whip_time: float = DEFAULT_WHIP_TIME,
    ) -> None:
        if mode not in TAKEOVER_MODES:
            raise ValueError(f"unknown takeover mode {mode!r} (valid: {', '.join(TAKEOVER_MODES)})")
        if not 0 <= threshold < 1:
            raise ValueError("threshold must be in range 0..1")
        if not whip_time >= 0:
            raise ValueError("whip_time must be >= 0")
        self.mode: TakeoverMode = mode
        self.threshold = float(threshold)
        self.whip_time = float(whip_time)
        self.reset()

    def reset(self) -> None:
        """Forget the control's history: use when another physical control (a layer switch) feeds it."""
        self._prev: float | None = None
        self._accepted_at: float | None = None

    def note_external_change(self) -> None:
        """The target was set from elsewhere (scene recall, OSC, dashboard): end the whip window."""
        self._accepted_at = None

    def feed(self, incoming: float, current: float, now: float) -> float | None:
        """The value to set for control position ``incoming``, or None to leave the target alone.

        ``current`` is the target's present value and ``now`` the time in seconds, both
        normalised / monotonic as the caller keeps them.
        """
        incoming = clamp01(incoming)
        current = clamp01(current)
        prev, self._prev = self._prev, incoming
        if self.mode == "none":
            result: float | None = incoming
        elif self.mode == "pickup":
            result = incoming if self._picks_up(incoming, prev, current, now) else None
        else:
            result = self._scaled(incoming, prev, current)
        if result is not None:
            self._accepted_at = now
        return result

    def _near(self, a: float, b: float) -> bool:
        return abs(a - b) <= self.threshold

    def _picks_up(self, incoming: float, prev: float | None, current: float, now: float) -> bool:
        if prev is None:
            return self._near(incoming, current)
        if self._accepted_at is not None and 0 <= now - self._accepted_at < self.whip_time:
            return True
        if (prev - current) * (incoming - current) <= 0:
            return True
        return self._near(incoming, current) or self._near(prev, current)

    def _scaled(self, incoming: float, prev: float | None, current: float) -> float | None:
        if self._near(incoming, current):
            return incoming
        if prev is None or incoming == prev:
            return None
        if incoming > prev:
            value = current + (incoming - prev) * (1.0 - current) / (1.0 - prev)
        else:
            value = current - (prev - incoming) * current / prev
        # Never overshoot the control: once they would cross, they have met.
        if (current - incoming) * (value - incoming) <= 0:
            return incoming
        return clamp01(value)
