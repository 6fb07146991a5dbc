"""Bends that move by themselves: modulators, macros, and tempo (internal, MIDI clock, Link).

The Show builds ``Modulation(rig, Tempo(), Features(sample_rate))``, starts and stops it, hands
``features.push`` to the model thread and ``tempo.midi.sink`` to the MIDI link. Everything a
performer sets is an address on the Rig (see ``performer.modulation.addresses``).
"""

from performer.modulation.clocks import InternalClock, LinkClock, MidiClock
from performer.modulation.engine import Modulation
from performer.modulation.features import Features, SilentFeatures
from performer.modulation.tempo import Tempo

__all__ = ["Features", "InternalClock", "LinkClock", "MidiClock", "Modulation", "SilentFeatures", "Tempo"]
