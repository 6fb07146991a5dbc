"""MidiStreamParser: whole MIDI messages from one input port -> ControlEvents.

Stateful, because 14-bit values arrive as two messages (MIDI 1.0: MSB on CC n = 0..31, LSB on
CC n+32; NRPN/RPN: parameter number on CC 99/98 or 101/100, value on data entry CC 6/38,
steps on CC 96/97). One parser per input port; it never raises on input: broken messages are
counted in ``malformed``, valid ones it has no use for (sysex, system common, realtime) in
``ignored``, and both return [].

Pairing rule for 14-bit values (declared CC pairs and NRPN/RPN data entry)
--------------------------------------------------------------------------
Emitting on every half is what the spec implies and it glitches: an MSB-first sender moving
from (0x41, 0x00) to (0x40, 0x7F) shows 0x2000 for a moment, an LSB-first sender 0x20FF.
Mixxx (src/controllers/midi/midicontroller.cpp) queues the first half and emits when the
other arrives, in either order, which stalls a sender that sends one half alone (midi.org
forum thread 4281: "it is possible to send only the LSB if the MSB has not changed").
The order cannot be told from the stream: an MSB-first sender that omits unchanged MSBs
(L L M L) and an LSB-first one (L L L M) look alike. So each pair has a declared *order*:
"msb_first" (the spec's, the default) or "lsb_first"; MIDI learn can read it off the first
two messages of a moved control, as Mixxx's learning wizard does.

1. Each pair keeps the last MSB and LSB. Nothing is emitted until an MSB has been seen.
2. The trailing half (the LSB for "msb_first") always emits, with the other half as last
   seen: a lone LSB from a sender omitting an unchanged MSB takes effect at once.
3. Once a leader has been seen directly followed by its trailer (no other channel message
   between; realtime bytes and sysex do not count), the pair is *strict*: a leader is held,
   not emitted, and its trailer emits the complete value once. Senders that send both
   halves, in their declared order, so never produce an intermediate value.
4. If the message after a held leader is not its trailer, the leader came alone: it is
   emitted then, just before that message's own events, and the pair stops holding until
   it sees another leader-trailer pair. Until the first such pair, leaders emit at once.
5. With "msb_first", an MSB resets the LSB to 0, as the spec asks (such a sender follows an
   MSB with the LSB unless the LSB is 0); with "lsb_first" the fresh LSB has just arrived.

What is left: a lone leader in strict mode waits for the port's next channel message; the
very first pair of a "msb_first" sender shows its coarse value before the full one; an
"lsb_first" sender that omits unchanged MSBs turns holding off with its lone LSBs, so it
shows one stale-MSB value at each MSB change (no order-only rule can avoid that one).

NRPN/RPN: each channel has one current parameter; CC 99/98 select an NRPN, 101/100 an RPN
(either byte alone changes the number, keeping the other, as the spec asks receivers to
allow); RPN 127/127 ("null") and Reset All Controllers (CC 121) deselect. Data values are
kept per parameter, so a data-entry LSB alone combines with that parameter's own MSB. With
no parameter selected, CC 6/38/96/97 are ordinary controllers (plenty of knobs send CC 6).
NRPN 127/127 stays a valid parameter (16383); only the RPN null is defined as a deselect.
NRPN/RPN values always carry 14 bits; a parameter sent with the data MSB alone (7-bit) is
``value >> 7``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from performer.control.midi.events import RES7, RES14, ControlEvent

MSB, LSB = 0, 1
PairOrder = Literal["msb_first", "lsb_first"]
LEADERS: dict[str, int] = {"msb_first": MSB, "lsb_first": LSB}

# Controller numbers with a defined meaning for parameter numbers (MIDI 1.0).
DATA_MSB, DATA_LSB = 6, 38
DATA_INCREMENT, DATA_DECREMENT = 96, 97
NRPN_LSB, NRPN_MSB = 98, 99
RPN_LSB, RPN_MSB = 100, 101
RESET_ALL_CONTROLLERS = 121

REALTIME = frozenset({0xF8, 0xFA, 0xFB, 0xFC, 0xFE, 0xFF})  # F9 and FD are undefined
SYSTEM_COMMON_LENGTHS = {0xF1: 2, 0xF2: 3, 0xF3: 2, 0xF6: 1}  # F4, F5 undefined; F7 only ends sysex
CHANNEL_LENGTHS = {0x80: 3, 0x90: 3, 0xA0: 3, 0xB0: 3, 0xC0: 2, 0xD0: 2, 0xE0: 3}


@dataclass(slots=True)
class _Halves:
    """The last two 7-bit halves of one 14-bit value."""

    msb: int | None = None
    lsb: int = 0


@dataclass(slots=True)
class _Order:
    """A pair's declared leading half, and whether its sender has been seen to pair (rule 3)."""

    leader: int
    strict: bool = False


@dataclass(slots=True)
class _Last:
    """The previous channel message, if it was half of a pair: for rule 3."""

    order: _Order
    half: int


@dataclass(slots=True)
class _Held:
    """A leader waiting for its trailer, with the event to emit if the trailer never comes."""

    event: ControlEvent
    order: _Order
    channel: int
    trailer_cc: int


@dataclass(slots=True)
class _Channel:
    """Parameter-number state of one MIDI channel."""

    data_order: _Order
    nrpn: list[int | None] = field(default_factory=lambda: [None, None])
    rpn: list[int | None] = field(default_factory=lambda: [None, None])
    active: Literal["nrpn", "rpn"] | None = None
    values: dict[tuple[str, int], _Halves] = field(default_factory=dict)

    def parameter(self) -> tuple[Literal["nrpn", "rpn"], int] | None:
        """The selected (kind, number), or None when none is (or only one byte of it is)."""
        if self.active is None:
            return None
        msb, lsb = self.nrpn if self.active == "nrpn" else self.rpn
        if msb is None or lsb is None:
            return None
        return self.active, (msb << 7) | lsb


def _as_bytes(message: object) -> tuple[int, ...] | None:
    """The message as a tuple of ints 0..255, or None if it is not one."""
    try:
        if isinstance(message, (bytes, bytearray, memoryview)):
            return tuple(bytes(message))
        to_bytes = getattr(message, "bytes", None)
        if callable(to_bytes):  # a mido.Message
            message = to_bytes()
        if not isinstance(message, Sequence) or isinstance(message, str):
            return None
        data = tuple(message)
        if not all(isinstance(b, int) and 0 <= b <= 255 for b in data):
            return None
        return data
    except Exception:  # whatever a foreign object does, feed() must not raise
        return None


class MidiStreamParser:
    """Decode the messages of one input port, one complete message per ``feed``.

    ``cc14`` declares 14-bit controller pairs as (channel 1..16, MSB controller 0..31) or
    (channel, MSB controller, order); more can be added with ``declare_cc14``.
    ``data_entry_order`` is the order of CC 6/38 for NRPN/RPN values on this port.
    ``parameter_numbers=False`` turns NRPN/RPN decoding off, leaving CC 6, 38 and 96..101 as
    ordinary controllers.

    >>> p = MidiStreamParser(cc14=[(1, 7)])
    >>> p.feed([0xB0, 7, 0x40]), p.feed([0xB0, 39, 0x10])[0].value
    ([ControlEvent(kind='cc14', channel=1, number=7, value=8192, resolution=16383, delta=None, on=None)], 8208)
    >>> p.feed([0x90, 60, 0])[0].on, p.feed(b"\\xf8"), p.ignored, p.feed([0x90, 200, 1]), p.malformed
    (False, [], 1, [], 1)
    """

    def __init__(
        self,
        cc14: Iterable[tuple[int, int] | tuple[int, int, PairOrder]] = (),
        *,
        data_entry_order: PairOrder = "msb_first",
        parameter_numbers: bool = True,
    ) -> None:
        if data_entry_order not in LEADERS:
            raise ValueError("data_entry_order must be 'msb_first' or 'lsb_first'")
        self.parameter_numbers = parameter_numbers
        self.data_entry_order: PairOrder = data_entry_order
        self.malformed = 0
        self.ignored = 0
        self._cc14: dict[tuple[int, int], tuple[_Order, _Halves]] = {}
        self._lsb_of: dict[tuple[int, int], int] = {}  # (channel, LSB controller) -> MSB controller
        self._channels: dict[int, _Channel] = {}
        self._last: _Last | None = None
        self._held: _Held | None = None
        for declaration in cc14:
            self.declare_cc14(*declaration)

    def declare_cc14(self, channel: int, msb_number: int, order: PairOrder = "msb_first") -> None:
        """Treat CC ``msb_number`` (0..31) and CC ``msb_number + 32`` on ``channel`` as one 14-bit value.

        ``order`` is the half the sender sends first (see the module docstring).
        """
        if not isinstance(channel, int) or not isinstance(msb_number, int):
            raise TypeError("channel and msb_number must be int")
        if not 1 <= channel <= 16:
            raise ValueError("channel must be in range 1..16")
        if not 0 <= msb_number <= 31:
            raise ValueError("14-bit MSB controller must be in range 0..31")
        if order not in LEADERS:
            raise ValueError("order must be 'msb_first' or 'lsb_first'")
        self._cc14[(channel, msb_number)] = (_Order(LEADERS[order]), _Halves())
        self._lsb_of[(channel, msb_number + 32)] = msb_number

    def reset(self) -> None:
        """Forget running state (halves, strictness, selected parameters); keep declarations."""
        for key, (order, _) in self._cc14.items():
            self._cc14[key] = (_Order(order.leader), _Halves())
        self._channels.clear()
        self._last = None
        self._held = None

    def feed(self, message: bytes | Sequence[int]) -> list[ControlEvent]:
        """Decode one complete message (as rtmidi delivers them); [] if it yields nothing."""
        data = _as_bytes(message)
        if not data or data[0] < 0x80:  # no running status: rtmidi always sends the status byte
            self.malformed += 1
            return []
        status = data[0]
        if status >= 0xF0:
            self._system(data)
            return []
        # Realtime bytes may legally sit inside another message; drop them.
        body = [b for b in data[1:] if b not in REALTIME]
        self.ignored += len(data) - 1 - len(body)
        if len(body) != CHANNEL_LENGTHS[status & 0xF0] - 1 or any(b > 127 for b in body):
            self.malformed += 1
            return []

        held, self._held = self._held, None
        out: list[ControlEvent] = []
        if held is not None and not (
            status & 0xF0 == 0xB0 and (status & 0x0F) + 1 == held.channel and body[0] == held.trailer_cc
        ):
            held.order.strict = False  # rule 4: that leader came alone
            out.append(held.event)
        out.extend(self._channel_message(status & 0xF0, (status & 0x0F) + 1, body))
        return out

    def _system(self, data: tuple[int, ...]) -> None:
        status = data[0]
        if status == 0xF0:
            ok = len(data) >= 2 and data[-1] == 0xF7 and all(b < 0x80 for b in data[1:-1])
        elif status in REALTIME:
            ok = len(data) == 1
        else:
            n = SYSTEM_COMMON_LENGTHS.get(status)
            ok = n is not None and len(data) == n and all(b < 0x80 for b in data[1:])
        if ok:
            self.ignored += 1
        else:
            self.malformed += 1

    def _channel_message(self, kind: int, channel: int, body: list[int]) -> list[ControlEvent]:
        if kind == 0xB0:
            return self._control_change(channel, body[0], body[1])
        self._last = None
        if kind == 0x90:
            velocity = body[1]
            return [ControlEvent("note", channel, body[0], velocity, RES7, on=velocity > 0)]
        if kind == 0x80:
            return [ControlEvent("note", channel, body[0], body[1], RES7, on=False)]
        if kind == 0xE0:  # LSB first on the wire
            return [ControlEvent("pitchbend", channel, None, (body[1] << 7) | body[0], RES14)]
        if kind == 0xD0:
            return [ControlEvent("pressure", channel, None, body[0], RES7)]
        if kind == 0xA0:
            return [ControlEvent("polypressure", channel, body[0], body[1], RES7)]
        return [ControlEvent("program", channel, None, body[0], RES7)]  # 0xC0

    def _control_change(self, channel: int, number: int, value: int) -> list[ControlEvent]:
        if self.parameter_numbers:
            events = self._parameter_number(channel, number, value)
            if events is not None:
                return events
        pair = self._cc14.get((channel, number))
        if pair is not None:
            return self._half(channel, number, MSB, value, *pair, "cc14", number)
        msb_number = self._lsb_of.get((channel, number))
        if msb_number is not None:
            pair = self._cc14[(channel, msb_number)]
            return self._half(channel, number, LSB, value, *pair, "cc14", msb_number)
        self._last = None
        return [ControlEvent("cc", channel, number, value, RES7)]

    def _parameter_number(self, channel: int, number: int, value: int) -> list[ControlEvent] | None:
        """Events for an NRPN/RPN controller, or None to treat ``number`` as an ordinary CC."""
        state = self._channels.get(channel)
        if number in (NRPN_MSB, NRPN_LSB, RPN_MSB, RPN_LSB):
            if state is None:
                state = self._channels[channel] = _Channel(data_order=_Order(LEADERS[self.data_entry_order]))
            self._last = None
            kind: Literal["nrpn", "rpn"] = "nrpn" if number in (NRPN_MSB, NRPN_LSB) else "rpn"
            selected = state.nrpn if kind == "nrpn" else state.rpn
            selected[MSB if number in (NRPN_MSB, RPN_MSB) else LSB] = value
            state.active = kind
            if kind == "rpn" and selected == [127, 127]:
                state.active = None  # the RPN null: later data entry goes nowhere
            return []
        if number == RESET_ALL_CONTROLLERS and state is not None:
            state.active = None
            return None  # still reported as a CC
        if number not in (DATA_MSB, DATA_LSB, DATA_INCREMENT, DATA_DECREMENT) or state is None:
            return None
        if state.active is None:
            return None
        parameter = state.parameter()
        if parameter is None:  # one byte of the number only: nothing sensible to address
            self._last = None
            return []
        kind, param = parameter
        if number in (DATA_INCREMENT, DATA_DECREMENT):
            self._last = None
            delta = 1 if number == DATA_INCREMENT else -1
            return [ControlEvent(kind, channel, param, value, RES7, delta=delta)]
        halves = state.values.setdefault(parameter, _Halves())
        half = MSB if number == DATA_MSB else LSB
        return self._half(channel, number, half, value, state.data_order, halves, kind, param)

    def _half(
        self,
        channel: int,
        number: int,
        half: int,
        byte: int,
        order: _Order,
        halves: _Halves,
        kind: Literal["cc14", "nrpn", "rpn"],
        event_number: int,
    ) -> list[ControlEvent]:
        """Apply one half of a 14-bit pair (the rules in the module docstring).

        ``number`` is the controller that carried it, ``event_number`` what the event reports
        (the MSB controller of a CC pair, or the NRPN/RPN parameter).
        """
        last = self._last
        self._last = _Last(order, half)
        if half == MSB:
            if order.leader == MSB:
                halves.lsb = 0  # rule 5
            halves.msb = byte
        else:
            halves.lsb = byte
        if half != order.leader and last is not None and last.order is order and last.half == order.leader:
            order.strict = True  # rule 3: this sender pairs
        if halves.msb is None:  # rule 1
            return []
        event = ControlEvent(kind, channel, event_number, (halves.msb << 7) | halves.lsb, RES14)
        if order.strict and half == order.leader:  # rule 3
            trailer_cc = number + 32 if half == MSB else number - 32
            self._held = _Held(event, order, channel, trailer_cc)
            return []
        return [event]
