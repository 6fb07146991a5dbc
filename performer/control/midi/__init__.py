"""Pure MIDI control logic: no ports, no I/O, no clock (timestamps are passed in).

By concern:

  events      ControlEvent, the decoded gesture (kind, channel 1..16, number, raw value)
  parser      MidiStreamParser: one input port's messages -> ControlEvents; 14-bit CC pairs,
              NRPN/RPN, notes, pitch bend, pressure, program change; never raises on input
  relative    decode_relative / detect_encoding for endless encoders (Ableton's four
              encodings), Acceleration for speed-dependent steps
  shaping     Shape: 0..1 <-> target range with curve, inversion and step, and its inverse
  takeover    Takeover: none / pickup (Mixxx soft takeover) / scaling (Ableton value scaling)
"""

from performer.control.midi.events import KINDS, PITCHBEND_CENTRE, RES7, RES14, ControlEvent, EventKind
from performer.control.midi.parser import MidiStreamParser, PairOrder
from performer.control.midi.relative import ENCODINGS, Acceleration, Encoding, decode_relative, detect_encoding
from performer.control.midi.shaping import CURVES, Curve, Shape, clamp01
from performer.control.midi.takeover import TAKEOVER_MODES, Takeover, TakeoverMode

__all__ = [
    "CURVES",
    "ENCODINGS",
    "KINDS",
    "PITCHBEND_CENTRE",
    "RES14",
    "RES7",
    "TAKEOVER_MODES",
    "Acceleration",
    "ControlEvent",
    "Curve",
    "Encoding",
    "EventKind",
    "MidiStreamParser",
    "PairOrder",
    "Shape",
    "Takeover",
    "TakeoverMode",
    "clamp01",
    "decode_relative",
    "detect_encoding",
]
