"""Clocks: internal tempo changes without a phase jump; MIDI clock from real mido messages
(24 ppqn with jitter, start/stop/continue/song position, stalls and jumps reported)."""

import mido
import numpy as np
import pytest

from performer.errors import ValueRangeError
from performer.modulation.clocks import InternalClock, MidiClock

CLOCK = mido.Message("clock")


def send_ticks(clock, bpm, beats, t0=0.0, jitter_s=0.0, first_index=0, seed=0):
    """Feed ``beats`` beats of clock ticks at ``bpm`` starting at ``t0``; return the end time."""
    rng = np.random.default_rng(seed)
    interval = 60.0 / bpm / 24
    n = int(beats * 24)
    for i in range(n):
        clock.feed(CLOCK, t0 + i * interval + (rng.uniform(-jitter_s, jitter_s) if jitter_s else 0.0))
    return t0 + n * interval


def test_internal_clock_keeps_the_beat_continuous_across_a_tempo_change():
    c = InternalClock(120.0, now=0.0)
    assert c.beat_at(1.0) == pytest.approx(2.0)
    c.set_tempo(60.0, t=1.0)
    assert c.beat_at(1.0) == pytest.approx(2.0)
    assert c.beat_at(2.0) == pytest.approx(3.0)
    with pytest.raises(ValueRangeError, match="20..300 BPM"):
        c.set_tempo(1000.0)


@pytest.mark.parametrize("bpm", [60.0, 120.0, 174.0])
def test_midi_clock_tempo_within_a_third_of_a_percent_with_a_millisecond_of_jitter(bpm):
    c = MidiClock()
    c.feed(mido.Message("start"), 0.0)
    end = send_ticks(c, bpm, beats=8, jitter_s=0.001)
    assert c.playing
    assert c.bpm == pytest.approx(bpm, rel=0.003)
    # the beat follows the ticks: 8 beats sent, the next tick would be beat 8
    assert c.beat_at(end) == pytest.approx(8.0, abs=0.02)


def test_midi_clock_follows_a_tempo_change_within_one_beat():
    c = MidiClock()
    c.feed(mido.Message("start"), 0.0)
    t = send_ticks(c, 120.0, beats=4)
    send_ticks(c, 140.0, beats=1, t0=t, first_index=96)
    assert c.bpm == pytest.approx(140.0, rel=0.01)


def test_start_stop_continue_and_song_position():
    c = MidiClock()
    c.feed(mido.Message("start"), 0.0)
    t = send_ticks(c, 120.0, beats=2)
    c.feed(mido.Message("stop"), t)
    assert not c.playing
    c.feed(mido.Message("songpos", pos=16), t)  # 16 sixteenths = beat 4
    c.feed(mido.Message("continue"), t + 0.1)
    assert c.playing
    c.feed(CLOCK, t + 0.1)
    assert c.beat_at(t + 0.1) == pytest.approx(4.0)
    c.feed(mido.Message("start"), t + 0.2)
    c.feed(CLOCK, t + 0.2)
    assert c.beat_at(t + 0.2) == pytest.approx(0.0)


def test_a_stalled_clock_is_reported_once_and_runs_on_at_the_last_tempo():
    c = MidiClock(stall_s=0.5)
    c.feed(mido.Message("start"), 0.0)
    end = send_ticks(c, 120.0, beats=4)
    assert c.poll(end + 0.1) == []
    messages = c.poll(end + 1.0)
    assert len(messages) == 1 and "no tick" in messages[0] and "120.00 BPM" in messages[0]
    assert c.poll(end + 2.0) == []
    assert c.bpm == pytest.approx(120.0)
    assert c.beat_at(end + 1.0) == pytest.approx(4.0 + 2.0, abs=0.05)  # the flywheel
    c.feed(CLOCK, end + 3.0)
    assert any("back" in m for m in c.poll(end + 3.0))


def test_a_jump_in_the_ticks_restarts_the_fit_without_bending_the_tempo():
    c = MidiClock()
    c.feed(mido.Message("start"), 0.0)
    t = send_ticks(c, 120.0, beats=2)
    # a 0.3 s hole (would be 8 BPM) then the same tempo again
    send_ticks(c, 120.0, beats=2, t0=t + 0.3)
    assert c.bpm == pytest.approx(120.0, rel=0.001)
    assert any("a stop or a jump" in m for m in c.poll(t + 1.3))


def test_the_sink_takes_clock_bytes_and_ignores_the_rest():
    c = MidiClock()
    c.sink("port", 0.0, bytes([0xFA]))
    c.sink("port", 0.0, bytes([0xB0, 1, 64]))  # a control change: not the clock's
    for i in range(48):
        c.sink("port", i * 0.02083333, bytes([0xF8]))
    assert c.playing and c.received == 48
    assert c.bpm == pytest.approx(120.0, rel=0.001)
    c.sink("port", 1.0, bytes([0xF2, 0x7F]))  # song position missing a byte
    assert any("malformed" in m for m in c.poll(1.0))
