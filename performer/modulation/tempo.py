"""The show's tempo: one of three clocks (internal, MIDI clock in, Ableton Link) at a time.

Addresses (registered by ``performer.modulation.addresses``):
  tempo          BPM 20..300; sets the internal clock, or the Link session's tempo; with the
                 MIDI clock as source it is the sender's (setting it is an error that says so)
  tempo/source   internal | midi | link (or 0 | 1 | 2)
  tempo/playing  1 start, 0 stop (shared with Link peers); the MIDI clock's follows the sender
  tempo/beat     the beat now (read only)

A switch keeps the phase where it can: to internal, the new clock continues from the old one's
beat and tempo; to MIDI or Link, the beat becomes theirs (being in phase with them is the point).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from typing import Callable

from performer.bending.transforms import coerce_number
from performer.errors import PerformerError, ValueRangeError
from performer.modulation.clocks import InternalClock, LinkClock, MidiClock, check_bpm

log = logging.getLogger("performer.tempo")
SOURCES = ("internal", "midi", "link")


class Tempo:
    """Owns the clocks; ``beat_at``/``bpm`` read the current one. ``link_factory`` makes the Link
    clock on first use (tests pass their own; the default joins a real session)."""

    def __init__(self, bpm: float = 120.0, quantum: float = 4.0,
                 link_factory: Callable[[float, float], LinkClock] | None = None,
                 now: Callable[[], float] = time.monotonic):
        self.now = now
        self.quantum = quantum
        self.internal = InternalClock(bpm, now())
        self.midi = MidiClock(bpm)
        self._link: LinkClock | None = None
        self._link_factory = link_factory or (lambda bpm, quantum: LinkClock(bpm, quantum))
        self.clock = self.internal
        self.messages: deque[str] = deque(maxlen=50)  # for UIs: what happened to the clocks
        self._lock = threading.Lock()  # source switches against each other

    # -- reading (any thread) -----------------------------------------------------------------
    @property
    def source(self) -> str:
        return self.clock.name

    @property
    def bpm(self) -> float:
        return self.clock.bpm

    @property
    def playing(self) -> bool:
        return self.clock.playing

    def beat_at(self, t: float | None = None) -> float:
        return self.clock.beat_at(self.now() if t is None else t)

    def time_of_beat(self, beat: float, t: float | None = None) -> float:
        """When ``beat`` falls, at the current tempo (for quantised recalls and morph steps)."""
        t = self.now() if t is None else t
        return t + (beat - self.beat_at(t)) * 60.0 / self.bpm

    def next_boundary(self, beats: float, t: float | None = None) -> tuple[float, float]:
        """(beat, time) of the next multiple of ``beats`` after ``t`` (``beats`` = quantum: a bar)."""
        if beats <= 0:
            raise ValueRangeError(f"beats must be more than 0, got {beats:g}")
        t = self.now() if t is None else t
        beat = (math.floor(self.beat_at(t) / beats + 1e-9) + 1) * beats
        return beat, self.time_of_beat(beat, t)

    @property
    def link(self) -> LinkClock | None:
        return self._link

    # -- setting (control threads) ------------------------------------------------------------
    def set_bpm(self, value: object) -> float:
        bpm = check_bpm(coerce_number(value, "tempo"))
        clock = self.clock
        if clock is self.midi:
            raise ValueRangeError(f"tempo follows the MIDI clock now ({self.midi.bpm:.2f} BPM); "
                                  "set tempo/source to internal or link to set it here")
        clock.set_tempo(bpm, self.now())
        return bpm

    def set_source(self, value: object) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (0, 1, 2):
            value = SOURCES[int(value)]
        if value not in SOURCES:
            raise ValueRangeError(f"tempo/source must be one of {', '.join(SOURCES)} (or 0..2), got {value!r}")
        with self._lock:
            if value == self.clock.name:
                return value
            t = self.now()
            if value == "internal":
                beat, bpm = self.clock.beat_at(t), self.clock.bpm
                self.internal.set_tempo(bpm, t)
                self.internal.align(beat, t)
                self.clock = self.internal
            elif value == "midi":
                self.clock = self.midi
                if self.midi.stalled:
                    self._say("MIDI clock: no ticks yet; holding "
                              f"{self.midi.bpm:.2f} BPM until a sender plays")
            else:
                if self._link is None:
                    try:
                        self._link = self._link_factory(self.clock.bpm, self.quantum)
                    except (ImportError, OSError, RuntimeError) as exc:
                        raise PerformerError(f"cannot join Ableton Link: {exc} (pip install aalink)") from None
                self.clock = self._link
            self._say(f"tempo source: {value} ({self.clock.bpm:.2f} BPM)")
            return value

    def set_playing(self, value: object) -> int:
        playing = coerce_number(value, "tempo/playing") >= 0.5
        if self.clock is self.midi:
            raise ValueRangeError("tempo/playing follows the MIDI clock's start and stop now")
        self.clock.playing = playing
        return int(playing)

    def poll(self) -> list[str]:
        """Let the clocks notice trouble (modulation thread, each tick); new messages."""
        t = self.now()
        new = self.midi.poll(t) if self.clock is self.midi else []
        if self.clock is not self.midi:
            self.midi.poll(t)  # keep its stall state fresh; its messages matter only when in use
        if self._link is not None:
            new += self._link.poll(t)
        self.messages.extend(new)
        return new

    def close(self) -> None:
        if self._link is not None:
            self._link.close()

    def describe(self) -> dict:
        t = self.now()
        out = {"tempo": round(self.bpm, 3), "source": self.source, "playing": self.playing,
               "beat": self.beat_at(t), "quantum": self.quantum, "sources": list(SOURCES),
               "messages": list(self.messages)[-5:]}
        if self._link is not None:
            out["link_peers"] = self._link.peers
        return out

    def _say(self, message: str) -> None:
        log.info("%s", message)
        self.messages.append(message)
