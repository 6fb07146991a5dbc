"""The Tempo: source switches keep the phase where they should, boundaries for quantised steps."""

import mido
import pytest

from performer.errors import ValueRangeError
from performer.modulation import Tempo


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_switching_back_to_internal_continues_the_midi_beat_and_tempo():
    now = Clock()
    tempo = Tempo(bpm=120.0, now=now)
    tempo.set_source("midi")
    tempo.midi.feed(mido.Message("start"), now.t)
    for i in range(48):  # two beats at 90 BPM
        tempo.midi.feed(mido.Message("clock"), now.t + i * 60 / 90 / 24)
    now.t += 48 * 60 / 90 / 24
    beat = tempo.beat_at()
    tempo.set_source("internal")
    assert tempo.beat_at() == pytest.approx(beat)
    assert tempo.bpm == pytest.approx(90.0, rel=1e-3)
    now.t += 1.0
    assert tempo.beat_at() == pytest.approx(beat + 1.5, rel=1e-3)


def test_next_boundary_is_the_next_bar_and_when_it_falls():
    now = Clock()
    tempo = Tempo(bpm=120.0, now=now)
    now.t += 2.25  # beat 4.5
    beat, at = tempo.next_boundary(4)
    assert beat == 8.0 and at == pytest.approx(now.t + 1.75)
    with pytest.raises(ValueRangeError):
        tempo.next_boundary(0)


def test_messages_say_what_the_clocks_did():
    now = Clock()
    tempo = Tempo(now=now)
    tempo.set_source("midi")
    assert "no ticks yet" in tempo.messages[-2] and "tempo source: midi" in tempo.messages[-1]
    with pytest.raises(ValueRangeError, match="follows the MIDI clock"):
        tempo.set_playing(1)
    tempo.midi.feed(mido.Message("start"), now.t)
    tempo.midi.feed(mido.Message("clock"), now.t)
    now.t += 1.0
    assert any("no tick for 1.0 s" in m for m in tempo.poll())
    assert tempo.describe()["source"] == "midi"
