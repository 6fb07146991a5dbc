"""Feedback to controllers: LED rings and motor faders follow values changed elsewhere.

Rules (TouchOSC's defaults and the research's recommendations): a change that came from a
controller is not echoed back to that controller; identical consecutive messages are dropped;
each control gets at most ``max_rate`` messages a second, the latest value winning, so a flood of
OSC changes never floods a MIDI output buffer.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import mido

from performer.control.mapping import Match
from performer.control.midi.events import PITCHBEND_CENTRE

SendBytes = Callable[[bytes, str | None], None]  # (message, port name or None = every port)


def encode(match: Match, position: float) -> bytes:
    """The MIDI bytes that put control ``match`` at ``position`` (0..1): mido messages, so a
    channel or number out of range raises here rather than reaching a controller garbled."""
    position = 0.0 if position != position else min(1.0, max(0.0, position))
    return b"".join(bytes(m.bytes()) for m in messages(match, position))


def messages(match: Match, position: float) -> list[mido.Message]:
    ch = match.channel - 1  # mido counts channels 0..15
    if match.type in ("cc14", "nrpn", "rpn", "pitchbend"):
        v14 = round(position * 16383)
        msb, lsb = v14 >> 7, v14 & 0x7F
        if match.type == "pitchbend":
            return [mido.Message("pitchwheel", channel=ch, pitch=v14 - PITCHBEND_CENTRE)]
        if match.type == "cc14":
            pairs = [(match.number, msb), (match.number + 32, lsb)]
        else:
            select = (99, 98) if match.type == "nrpn" else (101, 100)
            pairs = [(select[0], match.number >> 7), (select[1], match.number & 0x7F), (6, msb), (38, lsb)]
        return [mido.Message("control_change", channel=ch, control=c, value=v) for c, v in pairs]
    v7 = round(position * 127)
    if match.type == "note":  # velocity 0 = LED off, as controllers expect
        return [mido.Message("note_on", channel=ch, note=match.number, velocity=v7)]
    if match.type == "pressure":
        return [mido.Message("aftertouch", channel=ch, value=v7)]
    return [mido.Message("control_change", channel=ch, control=match.number, value=v7)]


class FeedbackSender:
    """Rate-limited, deduplicated sends from any thread; a small thread flushes what waited."""

    def __init__(self, send: SendBytes, max_rate: float = 50.0, clock: Callable[[], float] = time.monotonic):
        self._send = send
        self._interval = 1.0 / max_rate
        self._clock = clock
        self._lock = threading.Lock()
        self._last_sent: dict[tuple, tuple[float, bytes]] = {}
        self._waiting: dict[tuple, tuple[bytes, str | None]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.dropped_duplicates = 0
        self.coalesced = 0

    def start(self) -> "FeedbackSender":
        self._thread = threading.Thread(target=self._run, name="performer-feedback", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def offer(self, key: tuple, message: bytes, port: str | None) -> None:
        """Queue ``message`` for control ``key``: sent now if allowed, else when its slot comes."""
        now = self._clock()
        with self._lock:
            last = self._last_sent.get(key)
            if last is not None and last[1] == message:
                self._waiting.pop(key, None)  # back where the controller already is
                self.dropped_duplicates += 1
                return
            if last is None or now - last[0] >= self._interval:
                self._last_sent[key] = (now, message)
                due = True
            else:
                self.coalesced += key in self._waiting
                self._waiting[key] = (message, port)
                due = False
        if due:
            self._deliver(message, port)
        else:
            self._wake.set()

    def _deliver(self, message: bytes, port: str | None) -> None:
        self._send(message, port)
        self.sent += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval / 4)
            self._wake.clear()
            now = self._clock()
            ready = []
            with self._lock:
                for key, (message, port) in list(self._waiting.items()):
                    if now - self._last_sent.get(key, (-1e9, b""))[0] >= self._interval:
                        del self._waiting[key]
                        self._last_sent[key] = (now, message)
                        ready.append((message, port))
            for message, port in ready:
                self._deliver(message, port)
