"""Scenes on the beat: scene/quantize/beats, its values, the lead, and the queue that waits."""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import pytest

from performer.errors import PerformerError, ValueRangeError
from performer.live.retake import Retakes
from performer.live.schedule import LateStart
from performer.live.telemetry import Latency
from performer.modulation import Tempo
from performer.scenes.quantize import SPLICE_PERIODS, BeatQueue, live_lead_s, parse_beats


class Clock:
    """A monotonic clock the test moves; the queue's thread looks at it every few ms."""

    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def wait_for(condition, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.002)
    return condition()


@pytest.mark.parametrize("value, beats", [
    (0, 0.0), ("off", 0.0), ("0", 0.0), (1, 1.0), (2.5, 2.5), ("2", 2.0), ("1/4", 1.0), ("1/16", 0.25),
    ("1/8", 0.5), ("1/2", 2.0), ("1/1", 4.0), ("3/4", 3.0), ("beat", 1.0), ("1 beat", 1.0), ("3 beats", 3.0),
    ("bar", 4.0), ("1 bar", 4.0), (" 2 Bars ", 8.0), ("16 bars", 64.0),
])
def test_quantize_values_in_beats_note_values_and_bars(value, beats):
    assert parse_beats(value) == beats


def test_a_bar_is_the_tempos_quantum():
    assert parse_beats("2 bars", quantum=3.0) == 6.0


@pytest.mark.parametrize("value", ["1/64", 0.1, 65, "17 bars", -1, "fast", "1/0", True, None, math.nan, [4]])
def test_quantize_values_out_of_range_say_what_is_taken(value):
    with pytest.raises(ValueRangeError, match=r"scene/quantize/beats takes 0 \(off\) or 0.25..64 beats.*\"1 bar\""):
        parse_beats(value)


# -- the lead: how long before an output time a state is published ---------------------------------
def live(retakes: bool = True, splice: bool = False, reserve_ms: float | None = None, running: bool = True):
    rate, period, block, headroom = 44100, 256, 2048, 512
    latency = Latency(rate=rate, block=block, headroom=headroom, period=period, signal=0.0, device_in=0.002,
                      device_out=0.004)
    window = latency.compute_window
    r = Retakes(rate, period, window, enabled=retakes, splice_knobs=splice)
    r.note_take(0.004)
    return SimpleNamespace(latency=latency if running else None, blocks=10 if running else None, retakes=r,
                           schedule=LateStart(rate, period, window, None if reserve_ms is None else reserve_ms / 1000))


def test_no_lead_without_audio():
    assert live_lead_s(live(running=False)) is None


def test_the_lead_follows_the_live_servers_install_path():
    block, out, period = 2048 / 44100, 0.004, 256 / 44100
    spliced = live(splice=True)
    assert live_lead_s(spliced) == pytest.approx(out + spliced.retakes.reserve_s + SPLICE_PERIODS * period)
    retaken = live()
    assert live_lead_s(retaken) == pytest.approx(block + out + retaken.retakes.reserve_s)
    assert live_lead_s(live(retakes=False, reserve_ms=5.0)) == pytest.approx(block + out + 0.005)
    assert live_lead_s(live(retakes=False)) == pytest.approx(block + out + (512 + 256) / 44100)


@pytest.mark.parametrize("retakes", [True, False])
def test_published_one_lead_early_a_state_is_first_in_the_block_that_plays_the_downbeat(retakes):
    """The install rule of the live server without splices (performer/live/retake.py): a block is
    taken a compute window before it is due, and taken again ``reserve`` before it is due with
    what was published meanwhile. For any phase of the blocks and any downbeat, a state published
    ``lead`` before the downbeat is first in the block whose output contains the downbeat."""
    server = live(retakes=retakes)
    lat, lead = server.latency, live_lead_s(server)
    block, out = lat.block / lat.rate, lat.device_out
    last_chance = server.retakes.reserve_s if retakes else lat.compute_window / lat.rate  # before due
    for phase in [i / 31 * block for i in range(31)]:
        heard = [phase + k * block for k in range(300)]  # when the first frame of block k leaves the device
        for downbeat in [10.0 + i / 29 * block for i in range(29)]:
            published = downbeat - lead
            first = next(k for k, s in enumerate(heard) if s - out - last_chance >= published)
            assert heard[first] <= downbeat < heard[first] + block


# -- the queue ----------------------------------------------------------------------------------------
@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def queue(clock):
    tempo = Tempo(bpm=120.0, now=clock)  # beat 0 at t = 100, a beat every 0.5 s
    q = BeatQueue(tempo, lambda: 0.2)
    yield q
    q.close()


def test_a_change_is_published_its_lead_before_the_next_reachable_boundary(queue, clock):
    applied = []
    clock.t = 100.1  # beat 0.2: beat 1 (t 100.5) is 0.4 s away, reachable with a 0.2 s lead
    planned = queue.submit("recall", "verse", 1.0, lambda: applied.append(clock.t))
    assert (planned.beat, planned.at, planned.lead) == (1.0, pytest.approx(100.5), 0.2)
    clock.t = 100.299
    time.sleep(0.1)
    assert applied == []  # never early
    clock.t = 100.3
    assert wait_for(lambda: applied == [100.3])
    assert queue.applied[-1].published == 100.3 and queue.pending == []
    clock.t = 100.45  # beat 1 is 50 ms away, less than the lead: the next bar of 4 beats then
    assert queue.submit("recall", "chorus", 4.0, lambda: None).beat == 4.0


def test_a_later_change_of_the_same_kind_replaces_the_pending_one_and_kinds_keep_their_order(queue, clock):
    applied = []
    queue.submit("recall", "verse", 4.0, lambda: applied.append("verse"))
    queue.submit("morph", "0.3", 4.0, lambda: applied.append("morph 0.3"))
    queue.submit("recall", "chorus", 4.0, lambda: applied.append("chorus"))
    queue.submit("morph", "0.6", 4.0, lambda: applied.append("morph 0.6"))
    assert [p.label for p in queue.pending] == ["chorus", "0.6"]
    clock.t = 100.0 + 2.0 - 0.2  # beat 4's due
    assert wait_for(lambda: len(applied) == 2)
    assert applied == ["chorus", "morph 0.6"]


def test_a_tempo_change_moves_the_boundary_and_a_beat_that_jumps_back_retargets(queue, clock):
    applied = []
    clock.t = 102.1  # beat 4.2
    planned = queue.submit("recall", "verse", 4.0, lambda: applied.append(clock.t))
    assert planned.beat == 8.0 and planned.at == pytest.approx(104.0)
    queue.tempo.set_bpm(60.0)  # beat 8 is 3.8 s away now
    clock.t = 103.8  # the old due
    assert wait_for(lambda: queue.pending[0].at == pytest.approx(105.9))
    assert applied == []
    queue.tempo.internal.align(0.0, 103.8)  # a MIDI start: the beat is 0 again, beat 8 is far
    assert wait_for(lambda: queue.pending[0].beat == 4.0)
    assert queue.pending[0].at == pytest.approx(107.8)
    clock.t = 107.6
    assert wait_for(lambda: applied == [107.6])


def test_cancel_drops_pending_changes_and_a_failure_is_kept_not_raised(queue, clock):
    applied = []
    queue.submit("recall", "verse", 1.0, lambda: applied.append("verse"))
    assert [p.label for p in queue.cancel()] == ["verse"]

    def fails():
        raise PerformerError("no such tensor")
    queue.submit("morph", "0.5", 1.0, fails)
    clock.t = 101.0
    assert wait_for(lambda: "no such tensor" in queue.last_error)
    time.sleep(0.05)
    assert applied == []
    queue.close()
    with pytest.raises(PerformerError, match="closed"):
        queue.submit("recall", "verse", 1.0, lambda: None)


# -- through the scene manager's addresses (genuine model) ------------------------------------------
@pytest.fixture
def manager(small_model, tmp_path, clock):
    from performer.rig import Rig
    from performer.scenes.manager import SceneManager
    from performer.scenes.store import SceneStore

    rig = Rig(small_model)
    scenes = SceneManager(rig, SceneStore(tmp_path / "scenes"), setlist=["quiet", "loud"],
                          tempo=Tempo(bpm=120.0, now=clock), lead_s=lambda: 0.1)
    rig.set("output/gain", -30.0)
    rig.set("scene/save", "quiet")
    rig.set("output/gain", -3.0)
    rig.set("scene/save", "loud")
    rig.set("output/gain", 0.0)
    yield scenes
    scenes.close()


@pytest.mark.fixtures
def test_recalls_set_list_steps_and_morphs_land_on_the_beat(manager, clock):
    rig = manager.rig
    assert rig.set("scene/quantize/beats", "1 bar") == 4.0 and rig.get("scene/quantize/beats") == 4.0
    rig.set("scene/recall", "quiet")
    time.sleep(0.05)
    assert rig.get("output/gain") == 0.0 and manager.pending[0].beat == 4.0  # beat 4 at t = 102
    clock.t = 101.9  # its lead before the downbeat
    assert wait_for(lambda: rig.get("output/gain") == -30.0)
    assert manager.current == "quiet"
    rig.set("setlist/next", 1)  # position 0: "quiet", due at beat 8
    rig.set("setlist/next", 1)  # position 1: "loud", replaces it
    assert manager.position == 1 and [p.label for p in manager.pending] == ["loud"]
    clock.t = 103.9
    assert wait_for(lambda: rig.get("output/gain") == -3.0)
    rig.set("scene/a", "quiet")
    rig.set("scene/b", "loud")
    rig.set("scene/quantize/beats", "1/4")
    rig.set("scene/morph", 0.25)
    rig.set("scene/morph", 0.5)  # a fader drag: the latest position wins at the beat
    assert rig.get("scene/morph") == 0.5 and rig.get("output/gain") == -3.0
    clock.t = 104.4
    assert wait_for(lambda: rig.get("output/gain") == pytest.approx(-16.5))
    assert [p.label for p in manager.beats.applied[-3:]] == ["quiet", "loud", "0.5"]


@pytest.mark.fixtures
def test_panic_drops_a_pending_recall_and_off_is_immediate(manager, clock):
    rig = manager.rig
    rig.set("scene/quantize/beats", 2)
    rig.set("scene/recall", "quiet")
    rig.set("panic", 1)
    assert manager.pending == []
    clock.t = 110.0
    time.sleep(0.1)
    assert rig.get("output/gain") == 0.0
    rig.set("scene/quantize/beats", "off")
    rig.set("scene/recall", "loud")
    assert rig.get("output/gain") == -3.0  # at once
    with pytest.raises(ValueRangeError, match="scene/quantize/beats takes"):
        rig.set("scene/quantize/beats", "soon")
    assert rig.get("scene/quantize/beats") == 0.0  # unchanged


@pytest.mark.fixtures
def test_without_a_tempo_the_address_says_so(small_model, tmp_path):
    from performer.rig import Rig
    from performer.scenes.manager import SceneManager
    from performer.scenes.store import SceneStore

    rig = Rig(small_model)
    scenes = SceneManager(rig, SceneStore(tmp_path / "scenes"))
    with pytest.raises(PerformerError, match="needs the show's tempo"):
        rig.set("scene/quantize/beats", 4)
    scenes.close()
