"""ControlEvent: one decoded MIDI control gesture, before any mapping.

Channels are 1..16 as printed on controllers and in mapping files (mido counts 0..15; the
parser converts at the edge). Values stay raw integers with their resolution beside them so
nothing is rounded twice; ``normalised`` divides them. Pitch bend keeps the wire form
0..16383 with the centre at 8192 (the MIDI spec's 2000H; mido's signed -8192..8191 is the
same value minus 8192). Program numbers stay 0-based as on the wire; showing 1..128 is the
dashboard's business (the off-by-one the research notes warn about).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EventKind = Literal["cc", "cc14", "nrpn", "rpn", "note", "pitchbend", "pressure", "polypressure", "program"]
KINDS: frozenset[str] = frozenset(EventKind.__args__)  # type: ignore[attr-defined]

RES7 = 127
RES14 = 16383
PITCHBEND_CENTRE = 8192


@dataclass(frozen=True, slots=True)
class ControlEvent:
    """A decoded control message.

    kind        "cc" (7-bit), "cc14" (declared MSB/LSB pair), "nrpn"/"rpn" (data entry or
                increment/decrement), "note", "pitchbend", "pressure" (channel),
                "polypressure" (per key), "program".
    channel     1..16.
    number      controller number ("cc"; the MSB's number for "cc14"), note number ("note",
                "polypressure"), 14-bit parameter number ("nrpn", "rpn"); None otherwise.
    value       raw value, 0..resolution. For note-on the velocity, for note-off the release
                velocity; for NRPN/RPN increment/decrement the data byte (most senders send 0).
    resolution  largest possible value: 127 or 16383.
    delta       +1 (CC 96, increment) or -1 (CC 97, decrement) for NRPN/RPN steps, else None.
    on          True for note-on with velocity > 0, False for note-off (0x80, or 0x90 with
                velocity 0); None for every other kind.
    """

    kind: EventKind
    channel: int
    number: int | None
    value: int
    resolution: int
    delta: int | None = None
    on: bool | None = None

    @property
    def normalised(self) -> float:
        """``value / resolution``, 0.0..1.0."""
        return self.value / self.resolution

    @property
    def key(self) -> tuple[str, int, int | None]:
        """What a mapping matches on: (kind, channel, number)."""
        return (self.kind, self.channel, self.number)
