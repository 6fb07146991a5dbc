"""Where the beat comes from: an internal clock, MIDI clock in, or an Ableton Link session.

Each clock answers ``beat_at(t)`` (beats at monotonic time ``t``, continuous) and has ``bpm`` and
``playing``; ``poll(t)`` lets it notice trouble (a stalled MIDI clock, a Link peer that left) and
returns messages for people, once per event. Times are ``time.monotonic()`` seconds, the clock
the MIDI process stamps messages with.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from typing import Callable

import mido

from performer.errors import ValueRangeError

log = logging.getLogger("performer.tempo")
BPM_RANGE = (20.0, 300.0)


def check_bpm(value: float, label: str = "tempo") -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
            or not BPM_RANGE[0] <= value <= BPM_RANGE[1]:
        raise ValueRangeError(f"{label} must be in range {BPM_RANGE[0]:g}..{BPM_RANGE[1]:g} BPM, got {value!r}")
    return float(value)


class InternalClock:
    """A steady tempo. Changing it keeps the beat continuous (no jump in phase)."""

    name = "internal"

    def __init__(self, bpm: float = 120.0, now: float | None = None):
        self.bpm = check_bpm(bpm)
        self._t0 = time.monotonic() if now is None else now
        self._beat0 = 0.0
        self.playing = True

    def beat_at(self, t: float) -> float:
        return self._beat0 + (t - self._t0) * self.bpm / 60.0

    def set_tempo(self, bpm: float, t: float | None = None) -> float:
        t = time.monotonic() if t is None else t
        bpm = check_bpm(bpm)
        self._beat0, self._t0, self.bpm = self.beat_at(t), t, bpm
        return bpm

    def align(self, beat: float, t: float) -> None:
        """Continue from another clock's beat (a source switch must not jump the phase)."""
        self._beat0, self._t0 = beat, t

    def poll(self, t: float) -> list[str]:
        return []


class MidiClock:
    """MIDI clock in: 24 ticks per beat, start, stop, continue and song position.

    The tempo and the beat come from a least-squares line through the last beat of ticks (24), so
    one late tick (USB and JACK jitter is about a millisecond on a 20 ms tick) moves neither much,
    and a tempo change is followed within one beat. Between ticks the beat runs on along that
    line; when ticks stop for ``stall_s`` it says so once and runs on at the last tempo (a
    flywheel) until they come back. A tick interval that implies a tempo outside 20..300 BPM (a
    paused sender, a jump) restarts the fit rather than bending the tempo through it.

    ``feed(message, t)`` takes mido messages; ``sink(port, t, data)`` takes raw bytes as the MIDI
    link delivers them (it ignores everything but clock messages). Any thread, one at a time.
    """

    name = "midi"
    PPQN = 24
    REALTIME = frozenset({0xF8, 0xFA, 0xFB, 0xFC, 0xF2})

    def __init__(self, bpm: float = 120.0, stall_s: float = 0.5, window: int = PPQN):
        self.bpm = check_bpm(bpm)
        self.stall_s = stall_s
        self.playing = False
        self._ticks: deque[tuple[float, int]] = deque(maxlen=window)
        self._next = 0  # the position, in ticks, the next clock message stands for
        self._fit: tuple[float, float, float] | None = None  # (t_ref, tick_at_ref, ticks per second)
        self._last_t: float | None = None
        self._stalled = False
        self._messages: list[str] = []
        self.received = 0

    # -- input ------------------------------------------------------------------------------
    def sink(self, port: str, t: float, data: bytes) -> None:
        """A MIDI link message sink: clock bytes are fed, others ignored."""
        if data and data[0] in self.REALTIME:
            try:
                self.feed(mido.Message.from_bytes(list(data)), t)
            except (ValueError, IndexError) as exc:  # mido raises IndexError for a short message
                self._say(f"MIDI clock: malformed message {bytes(data).hex()} from {port} ({exc})")

    def tee(self, sink: Callable[[str, float, bytes], None] | None = None) -> Callable[[str, float, bytes], None]:
        """A MIDI link sink that gives clock bytes to this clock and everything else to ``sink``
        (the control router): ``MidiLink(config, tempo.midi.tee(router))``."""
        def tee(port: str, t: float, data: bytes) -> None:
            if data and data[0] in self.REALTIME:
                self.sink(port, t, data)
            elif sink is not None:
                sink(port, t, data)
        return tee

    def feed(self, message: mido.Message, t: float) -> None:
        kind = message.type
        if kind == "clock":
            self._tick(t)
        elif kind == "start":
            self._next = 0
            self._restart()
            self.playing = True
        elif kind == "continue":
            self.playing = True
        elif kind == "stop":
            self.playing = False
        elif kind == "songpos":  # in 16th notes: 6 ticks each
            self._next = message.pos * 6
            self._restart()

    def _tick(self, t: float) -> None:
        self.received += 1
        if self._last_t is not None:
            gap = t - self._last_t
            if gap <= 0 or not BPM_RANGE[0] <= 60.0 / (gap * self.PPQN) <= BPM_RANGE[1]:
                if self._ticks and not self._stalled:
                    self._say(f"MIDI clock: a tick {gap * 1000:.1f} ms after the last (a stop or a jump); "
                              f"holding {self.bpm:.2f} BPM and following again from here")
                self._restart(keep_position=True)
        if self._stalled:
            self._stalled = False
            self._say(f"MIDI clock: ticks are back ({self.bpm:.2f} BPM)")
        self._last_t = t
        self._ticks.append((t, self._next))
        self._next += 1
        self._refit()

    def _restart(self, keep_position: bool = False) -> None:
        self._ticks.clear()
        if not keep_position:
            self._fit = None
        self._last_t = None

    def _refit(self) -> None:
        n = len(self._ticks)
        t_last, k_last = self._ticks[-1]
        if n < 3:
            rate = self.bpm / 60.0 * self.PPQN
        else:
            mt = sum(t for t, _ in self._ticks) / n
            mk = sum(k for _, k in self._ticks) / n
            sxx = sum((t - mt) ** 2 for t, _ in self._ticks)
            sxk = sum((t - mt) * (k - mk) for t, k in self._ticks)
            rate = sxk / sxx if sxx > 0 else self.bpm / 60.0 * self.PPQN
            bpm = rate * 60.0 / self.PPQN
            if BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:
                self.bpm = bpm
                # the line through the window's centroid, read at the last tick (jitter averaged out)
                k_fit = mk + rate * (t_last - mt)
                self._fit = (t_last, k_fit, rate)
                return
        self._fit = (t_last, float(k_last), rate)

    # -- reading ----------------------------------------------------------------------------
    def beat_at(self, t: float) -> float:
        if self._fit is None:
            return (self._next) / self.PPQN
        t_ref, k_ref, rate = self._fit
        return (k_ref + (t - t_ref) * rate) / self.PPQN

    def poll(self, t: float) -> list[str]:
        if self._last_t is not None and not self._stalled and t - self._last_t > self.stall_s:
            self._stalled = True
            self._say(f"MIDI clock: no tick for {t - self._last_t:.1f} s; running on at {self.bpm:.2f} BPM")
        out, self._messages = self._messages, []
        return out

    @property
    def stalled(self) -> bool:
        return self._stalled or self._last_t is None

    def _say(self, message: str) -> None:
        log.warning("%s", message)
        self._messages.append(message)


class LinkClock:
    """An Ableton Link session through ``aalink``: follows and sets its tempo, shares start/stop.

    The beat is Link's own (``quantum`` beats to a bar, 4 by default), so a synced modulator is in
    phase with every peer: Tidal, SuperCollider, Ableton Live, another Performer. Link keeps
    working alone when the last peer leaves (the tempo stays); ``poll`` says when peers come or go.
    """

    name = "link"

    def __init__(self, bpm: float = 120.0, quantum: float = 4.0, link=None):
        self._loop = None
        if link is None:
            link, self._loop = _new_link(check_bpm(bpm))
        self.link = link
        self.link.quantum = quantum
        self.link.start_stop_sync_enabled = True
        self.link.enabled = True
        self._peers = 0

    @property
    def bpm(self) -> float:
        return float(self.link.tempo)

    @property
    def playing(self) -> bool:
        return bool(self.link.playing)

    @playing.setter
    def playing(self, value: bool) -> None:
        self.link.playing = bool(value)

    @property
    def peers(self) -> int:
        return int(self.link.num_peers)

    def set_tempo(self, bpm: float, t: float | None = None) -> float:
        self.link.tempo = check_bpm(bpm)
        return float(bpm)

    def beat_at(self, t: float) -> float:
        beat = float(self.link.beat)  # Link's beat now; its clock and ours advance alike
        return beat + (t - time.monotonic()) * self.bpm / 60.0

    def poll(self, t: float) -> list[str]:
        peers = self.peers
        if peers == self._peers:
            return []
        before, self._peers = self._peers, peers
        if peers < before:
            message = (f"Link: a peer left ({peers} left); "
                       + (f"keeping {self.bpm:.2f} BPM alone" if peers == 0 else f"following at {self.bpm:.2f} BPM"))
        else:
            message = f"Link: {peers} peer{'s' if peers != 1 else ''} in the session, {self.bpm:.2f} BPM"
        log.info("%s", message)
        return [message]

    def close(self) -> None:
        self.link.enabled = False
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop = None


def _new_link(bpm: float):
    """An ``aalink.Link`` with the asyncio loop it insists on, run by a daemon thread of its own:
    the show reads Link's beat and tempo synchronously, from the modulation thread."""
    import asyncio
    import threading

    import aalink  # only a show that uses Link needs it loaded

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="performer-link", daemon=True).start()

    async def make():
        return aalink.Link(bpm)

    return asyncio.run_coroutine_threadsafe(make(), loop).result(timeout=5.0), loop
