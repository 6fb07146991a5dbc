"""When blocks start: as late as the deadline allows less the reserve, backing off after a late block."""

from __future__ import annotations

import threading
import time

import pytest
import soundfile as sf

from performer.live.schedule import LateStart
from performer.live.server import LiveServer, ServeOptions
from performer.rig import Rig
from tests.conftest import tone

RATE, PERIOD = 48000, 480  # 10 ms periods keep the arithmetic readable


def schedule(window_periods: int = 3, reserve_s: float = 0.012) -> LateStart:
    return LateStart(RATE, PERIOD, window_periods * PERIOD, reserve_s)


def test_a_block_waits_until_due_less_the_reserve():
    # two periods queued ahead of this block, 2 ms after the last callback: due in 28 ms
    assert schedule().delay(2 * PERIOD, 0.002, now=0.0) == pytest.approx(0.028 - 0.012)


def test_a_slow_recent_block_widens_the_reserve():
    # slowest recent block 10 ms: 1.5 x 10 + 2 = 17 ms reserved instead of 12
    assert schedule().delay(2 * PERIOD, 0.002, now=0.0, slowest_s=0.010) == pytest.approx(0.028 - 0.017)
    assert schedule().delay(2 * PERIOD, 0.002, now=0.0, slowest_s=0.002) == pytest.approx(0.028 - 0.012)


def test_a_block_already_due_within_the_reserve_starts_at_once():
    assert schedule().delay(0, 0.001, now=0.0) == 0.0  # due in 9 ms, reserve 12 ms
    assert schedule().delay(-PERIOD, 0.0, now=0.0) == 0.0  # already late


def test_a_reserve_as_long_as_the_window_switches_late_starts_off():
    s = schedule(window_periods=1, reserve_s=0.010)
    assert not s.active and s.delay(5 * PERIOD, 0.0, now=0.0) == 0.0
    assert "as soon as" in s.describe()
    assert "12.0 ms before" in schedule().describe()


def test_a_late_block_backs_off_then_late_starts_resume():
    s = schedule()
    s.note_late(now=100.0)
    assert s.backoffs == 1
    assert s.delay(2 * PERIOD, 0.0, now=100.0 + s.backoff_s - 1) == 0.0
    s.note_late(now=101.0)  # late again while backed off: the back-off is extended, counted once
    assert s.backoffs == 1
    assert s.delay(2 * PERIOD, 0.0, now=101.0 + s.backoff_s) > 0


def test_no_reserve_starts_blocks_at_once():
    s = LateStart(RATE, PERIOD, 3 * PERIOD, None)
    assert not s.active and s.delay(2 * PERIOD, 0.0, now=0.0) == 0.0


@pytest.mark.fixtures
def test_serve_starts_blocks_at_once_unless_asked(small_model, tmp_path):
    sf.write(tmp_path / "in.wav", tone(0.5, 44100)[0], 44100)
    server = LiveServer(Rig(small_model), ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "out.wav"))
    with server:
        snap = server.telemetry.snapshot()
    assert snap["late_start"] == {"active": False, "reserve_ms": None, "backoffs": 0}


@pytest.mark.fixtures
def test_live_blocks_start_late_and_none_misses_its_deadline(small_model, tmp_path, monkeypatch):
    sf.write(tmp_path / "in.wav", tone(1.5, 44100)[0], 44100)
    rig = Rig(small_model)
    server = LiveServer(rig, ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "out.wav",
                                          headroom_ms=60.0, reserve_ms=20.0))
    waits = []
    sleep = time.sleep

    def model_thread_sleep(seconds: float) -> None:
        if threading.current_thread().name == "performer-model":
            waits.append(seconds)
        sleep(seconds)
    monkeypatch.setattr("performer.live.server.time.sleep", model_thread_sleep)
    with server:
        time.sleep(1.2)
        snap = server.telemetry.snapshot()
        window_s = server.latency.compute_window / server.latency.rate
        reserve_s = server.schedule.reserve_s
        backoffs = server.schedule.backoffs  # of the show: stopping is not part of it
    assert server.schedule.active and snap["late_frames"] == 0 and backoffs == 0
    # the model thread's waits include the late starts: most blocks waited about window - reserve
    late_starts = [w for w in waits if w > 0.5 * (window_s - reserve_s)]
    assert len(late_starts) >= snap["blocks"] // 2, (waits, snap["blocks"])
    assert max(waits) <= window_s


@pytest.mark.fixtures
def test_a_negative_reserve_is_refused_before_anything_opens(small_model):
    with pytest.raises(ValueError, match="reserve must be >= 0"):
        LiveServer(Rig(small_model), ServeOptions(reserve_ms=-1.0)).start()


@pytest.mark.parametrize("value", ["-1", "nan", "soon"])
def test_serve_refuses_a_bad_reserve(value, capsys):
    from performer.cli import main

    with pytest.raises(SystemExit) as info:
        main(["serve", "--reserve", value])
    assert info.value.code == 2
    assert "--reserve" in capsys.readouterr().err
