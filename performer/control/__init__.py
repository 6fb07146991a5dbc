"""Control surfaces: MIDI and OSC into Rig.set, feedback back out."""
