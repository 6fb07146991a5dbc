"""Scene changes on the beat: what ``scene/quantize/beats`` does.

  scene/quantize/beats B   recalls, set-list steps and morph moves wait for the next multiple of B
                           beats of the show's tempo and are heard from there; 0 = off.
                           B: beats (0.25..64), or text: "off", a note value "1/16" .. "1/1"
                           (1/4 = one beat), "1 beat", "2 beats", "bar" / "1 bar", "2 bars" (a bar
                           is the tempo's quantum: 4 beats). The address holds the beats.

Heard, not published: the boundary is a time on the tempo's clock (``Tempo.next_boundary``), and
a state given to the Rig then would be heard a model block and more later. So the change is
published ``lead`` seconds before the boundary, where ``lead`` is how long before an output time a
state must reach the Rig for the live server to play it from the block that contains that time
(``live_lead_s``, passed in by the Show as a callable; none without audio: then it is applied at
the boundary). The first boundary that can still be reached is the target: one closer than
``lead`` is skipped for the next. The boundary is kept as a beat and its time is asked again
while waiting, so a tempo change (internal, MIDI clock, Link) moves it; a beat that jumps back
(MIDI start, a Link realignment) re-targets the next boundary. A later change of the same kind
(a recall, a morph) replaces a pending one; panic drops them all.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from performer.errors import PerformerError, ValueRangeError

if TYPE_CHECKING:
    from performer.modulation.tempo import Tempo

log = logging.getLogger("performer.scenes")
BEATS_RANGE = (0.25, 64.0)
MAX_WAIT_S = 0.05  # the longest sleep between looks at the tempo (a tempo change moves the boundary)
GIVE_UP_S = 10.0  # a boundary that keeps receding (tempo falling all the while): applied this long
                  # after twice its first wait
SPLICE_PERIODS = 1.5  # a spliced knob is heard from the callback after next: 1 to 2 periods after its retake
_WORDS = re.compile(r"^(\d+(?:\.\d+)?)?\s*(beats?|bars?)$")
_NOTE = re.compile(r"^(\d+)\s*/\s*(\d+)$")


def parse_beats(value: object, quantum: float = 4.0) -> float:
    """``scene/quantize/beats``'s value in beats (0 = off); ValueRangeError says what it takes."""
    beats = _beats(value, quantum)
    if beats is None or not (beats == 0 or BEATS_RANGE[0] <= beats <= BEATS_RANGE[1]):
        raise ValueRangeError(
            f"scene/quantize/beats takes 0 (off) or {BEATS_RANGE[0]:g}..{BEATS_RANGE[1]:g} beats, a note value "
            f"like \"1/4\" (a beat) or \"1/16\", or \"1 bar\", \"2 bars\" (a bar is {quantum:g} beats); got {value!r}")
    return beats


def _beats(value: object, quantum: float) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in ("off", "none", ""):
        return 0.0
    try:
        number = float(text)
        return number if math.isfinite(number) else None
    except ValueError:
        pass
    note = _NOTE.match(text)
    if note:
        top, bottom = int(note.group(1)), int(note.group(2))
        return 4.0 * top / bottom if bottom else None  # a whole note is four beats
    words = _WORDS.match(text)
    if words:
        count = float(words.group(1) or 1)
        return count * (quantum if words.group(2).startswith("bar") else 1.0)
    return None


def live_lead_s(live) -> float | None:
    """For the Show: how long before an output time a state must be published for ``live`` (a
    LiveServer) to play it from the block that contains that time; None while no audio runs.

    It follows the live server's install paths (performer/live/retake.py, schedule.py):
      - retakes with spliced knobs (blocks of 1024 and more, by default): a state published while
        a block is queued or playing is computed into it and spliced in from the callback after
        next, a take (about the reserve) and 1 to 2 periods later: published that long before
        the boundary, it is heard there, or from the start of the block at the boundary;
      - retakes: a block is computed again ``reserve`` before it is due, with what was published
        meanwhile: a state is heard from the first block due more than ``reserve`` after it;
      - late starts (``--reserve``): a block starts ``reserve`` before it is due;
      - else a block starts when its input is in, the compute window before it is due.
    In the last three, publishing one block plus that before the boundary lands the state in the
    block the boundary falls in, whatever the blocks' phase; a slow bend compute makes it the
    next block at worst, never an earlier one. Device output latency comes on top of each."""
    latency = getattr(live, "latency", None)
    if latency is None or getattr(live, "blocks", None) is None:
        return None
    rate = float(latency.rate)
    block, out = latency.block / rate, float(latency.device_out)
    retakes, schedule = getattr(live, "retakes", None), getattr(live, "schedule", None)
    if retakes is not None and retakes.enabled and retakes.worth_trying():
        if retakes.splice_knobs:
            return out + retakes.reserve_s + SPLICE_PERIODS * latency.period / rate
        return block + out + retakes.reserve_s
    if schedule is not None and schedule.active:
        return block + out + schedule.reserve_s
    return block + out + latency.compute_window / rate


@dataclass
class Planned:
    """One change waiting for its boundary (and, once applied, what happened, for reports and tests)."""

    kind: str  # "recall" | "morph"
    label: str  # the scene, or the morph position
    grid: float  # beats between boundaries
    beat: float  # the boundary
    at: float  # when it is heard, on the tempo's clock (as last computed)
    lead: float  # seconds the change is published before ``at``
    seq: int
    apply: Callable[[], None]
    limit: float = math.inf  # applied by then whatever the tempo does
    published: float | None = None  # when it went to the Rig, on the tempo's clock

    @property
    def due(self) -> float:
        return self.at - self.lead


class BeatQueue:
    """Changes waiting for a tempo boundary, applied on a thread of their own.

    ``tempo``: the show's ``Tempo`` (``now``, ``beat_at``, ``time_of_beat``, ``next_boundary``).
    ``lead_s``: seconds before the boundary to publish (None: no audio, publish at the boundary)."""

    def __init__(self, tempo: Tempo, lead_s: Callable[[], float | None] | None = None):
        self.tempo = tempo
        self._lead_s = lead_s
        self._pending: dict[str, Planned] = {}
        self._seq = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.applied: list[Planned] = []  # the last few, newest last
        self.last_error = ""

    def lead(self) -> float:
        lead = self._lead_s() if self._lead_s is not None else None
        return max(0.0, float(lead)) if lead is not None else 0.0

    def submit(self, kind: str, label: str, grid: float, apply: Callable[[], None]) -> Planned:
        """Apply ``apply`` so it is heard at the next boundary of ``grid`` beats that can still be
        reached; replaces a pending change of the same ``kind``."""
        if self._closed:
            raise PerformerError("scenes are closed")
        lead = self.lead()
        now = self.tempo.now()
        beat, at = self.tempo.next_boundary(grid, now + lead)
        with self._cond:
            self._seq += 1
            planned = Planned(kind, label, grid, beat, at, lead, self._seq, apply,
                              limit=now + 2 * max(0.0, at - now) + GIVE_UP_S)
            self._pending[kind] = planned
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="performer-scene-beats", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return planned

    @property
    def pending(self) -> list[Planned]:
        with self._cond:
            return sorted(self._pending.values(), key=lambda p: p.seq)

    def cancel(self) -> list[Planned]:
        """Drop every pending change (panic); returns them."""
        with self._cond:
            dropped, self._pending = list(self._pending.values()), {}
            self._cond.notify_all()
        return dropped

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._pending = {}
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                if not self._pending:
                    self._cond.wait()
                    continue
                now = self.tempo.now()
                lead = self.lead()
                for planned in self._pending.values():
                    self._follow(planned, now, lead)
                due = [p for p in self._pending.values() if p.due <= now]
                if not due:
                    wait = min(p.due for p in self._pending.values()) - now
                    self._cond.wait(min(wait, MAX_WAIT_S))
                    continue
                for planned in due:
                    del self._pending[planned.kind]
            for planned in sorted(due, key=lambda p: p.seq):
                self._apply(planned)

    def _follow(self, planned: Planned, now: float, lead: float) -> None:
        """Lock held: the boundary's time at the tempo of now; a beat that jumped back (more than
        half a grid past the next reachable boundary) targets the next boundary from where it is."""
        if planned.beat - self.tempo.beat_at(now + lead) > 1.5 * planned.grid:
            planned.beat, planned.at = self.tempo.next_boundary(planned.grid, now + lead)
        else:
            planned.at = self.tempo.time_of_beat(planned.beat, now)
        planned.lead = lead
        if now >= planned.limit:
            log.warning("the %s of %s was still waiting for beat %g: applied now", planned.kind, planned.label,
                        planned.beat)
            planned.at, planned.lead = now, 0.0

    def _apply(self, planned: Planned) -> None:
        planned.published = self.tempo.now()
        try:
            planned.apply()
        except PerformerError as exc:
            self.last_error = f"the quantised {planned.kind} of {planned.label} failed: {exc}"
            log.error("%s", self.last_error)
        except Exception:  # noqa: BLE001 -- the thread serves the rest of the show
            log.exception("the quantised %s of %s failed", planned.kind, planned.label)
        self.applied = (self.applied + [planned])[-16:]
