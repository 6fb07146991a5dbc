"""Retakes: a block computed again just before it is due, when a knob moved after it was computed."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf

from performer.live.retake import Retakes
from performer.live.server import LiveServer, ServeOptions
from performer.rig import Rig
from tests.conftest import tone

STEP_24_BIT = 2.0 ** -23
RATE, PERIOD = 48000, 480  # 10 ms periods keep the arithmetic readable


def retakes(window_periods: int = 3) -> Retakes:
    return Retakes(RATE, PERIOD, window_periods * PERIOD)


def test_the_reserve_follows_the_take_time_and_falls_back_after_a_slow_one():
    r = retakes()
    r.note_take(0.004)
    assert r.reserve_s == pytest.approx(1.25 * 0.004 + 0.001)
    r.note_take(0.012)  # a slow take: the next retakes start early enough for another like it
    assert r.reserve_s == pytest.approx(1.25 * 0.012 + 0.001)
    for _ in range(40):
        r.note_take(0.004)
    assert r.reserve_s < 1.25 * 0.006 + 0.001


def test_a_retake_starts_the_reserve_before_the_callback_that_reads_the_block():
    r = retakes()
    r.note_take(0.004)  # reserve 6 ms
    # two periods queued ahead of the block, 2 ms after the last callback: due in 28 ms
    assert r.due_in(2 * PERIOD, 0.002) == pytest.approx(0.028)
    assert r.start_in(2 * PERIOD, 0.002) == pytest.approx(0.028 - 0.006)
    assert r.start_in(0, 0.008) < 0  # due in 2 ms: too late to start one


def test_retakes_are_not_tried_when_the_reserve_leaves_no_room_in_the_window():
    r = retakes(window_periods=1)
    r.note_take(0.004)
    assert r.worth_trying()
    r.note_take(0.008)  # 11 ms reserve + guard > 10 ms window
    assert not r.worth_trying()
    off = Retakes(RATE, PERIOD, 3 * PERIOD, enabled=False, reason="switched off")
    assert not off.worth_trying() and "switched off" in off.describe()


def serve_with_a_knob_move_after_block(model, tmp_path, block: int, slow_retake_s: float = 0.0):
    """A headless server; right after block ``block``'s first take, a bend (computed at once, as the
    bend worker would), then ``slow_retake_s`` of stall in its retake. Returns the server after
    stopping, the takes per block (first, retake) and the output file."""
    sf.write(tmp_path / "in.wav", tone(3.0, 44100)[0], 44100)
    rig = Rig(model)
    conv = max((t for t in rig.tensors if t.kind == "conv"), key=lambda t: t.size)
    server = LiveServer(rig, ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "out.wav",
                                          report=lambda message: None))
    firsts, retaken = [], {}
    with server:
        pipeline = server.pipeline
        process, retake = pipeline.process, pipeline.retake

        def first_take(frames):
            out = process(frames)
            firsts.append(out.copy())
            if len(firsts) == block:
                rig.set(f"#{conv.index}/0/transform", "invert")
                rig.compute_pending()
            return out

        def second_take():
            out = retake()
            retaken[len(firsts)] = out.copy()
            time.sleep(slow_retake_s)
            return out

        pipeline.process, pipeline.retake = first_take, second_take
        deadline = time.monotonic() + 10
        while len(firsts) < block + 6 and time.monotonic() < deadline:
            time.sleep(0.02)
        installs = list(server.telemetry.installs)
    return server, firsts, retaken, sf.read(tmp_path / "out.wav", dtype="float32")[0], installs


def test_a_knob_moved_after_a_block_was_computed_is_heard_in_that_block(small_model, tmp_path):
    server, firsts, retaken, out, installs = serve_with_a_knob_move_after_block(small_model, tmp_path, block=10)
    snap = server.telemetry.snapshot()["retakes"]
    assert snap["enabled"] and snap["kept"] >= 1 and snap["late"] == 0 and snap["splices"] == 0
    assert list(retaken) == [10]  # only the block the knob moved after
    n = firsts[0].shape[0]
    assert np.abs(retaken[10] - firsts[9]).max() > 0.01  # the bend is heard
    # recorders get the take that was played (the file is 24-bit: one step of tolerance)
    np.testing.assert_allclose(out[9 * n:10 * n], retaken[10][:, 0], atol=STEP_24_BIT)
    np.testing.assert_allclose(out[8 * n:9 * n], firsts[8][:, 0], atol=STEP_24_BIT)
    assert len(installs) == 1


def test_a_retake_done_too_late_is_dropped_and_the_knob_is_heard_a_block_later(small_model, tmp_path):
    # the retake starts a reserve (a few ms) before the block is due: 15 ms more is past due
    server, firsts, retaken, out, installs = serve_with_a_knob_move_after_block(
        small_model, tmp_path, block=10, slow_retake_s=0.015)
    snap = server.telemetry.snapshot()
    assert snap["retakes"]["late"] == 1 and snap["retakes"]["kept"] == 0
    assert snap["late_frames"] == 0  # the first take stood: nothing was dropped
    n = firsts[0].shape[0]
    np.testing.assert_allclose(out[9 * n:10 * n], firsts[9][:, 0], atol=STEP_24_BIT)
    assert np.abs(retaken[10] - firsts[9]).max() > 0.01
    assert len(installs) == 1  # noted once, for the next block (where the bend is first heard)


def test_retakes_can_be_switched_off(small_model, tmp_path):
    sf.write(tmp_path / "in.wav", tone(0.5, 44100)[0], 44100)
    options = ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "o.wav", retakes=False)
    with LiveServer(Rig(small_model), options) as server:
        time.sleep(0.2)
        assert not server.pipeline.can_retake
        assert "--no-retakes" in server.retakes.describe()
