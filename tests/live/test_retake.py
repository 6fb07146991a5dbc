"""Retakes: a block computed again just before it is due, when a knob moved after it was computed."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf

import performer.live.retake as retake_module
from performer.live.retake import XFADE, Retakes, splice
from performer.live.server import LiveServer, ServeOptions
from performer.rig import Rig
from tests.conftest import tone

STEP_24_BIT = 2.0 ** -23
RATE, PERIOD = 48000, 480  # 10 ms periods keep the arithmetic readable


def retakes(window_periods: int = 3) -> Retakes:
    return Retakes(RATE, PERIOD, window_periods * PERIOD)


def test_the_reserve_covers_nine_takes_in_ten_of_the_recent_ones():
    r = retakes()
    r.note_take(0.004)
    assert r.reserve_s == pytest.approx(1.2 * 0.004 + 0.001)
    for _ in range(31):
        r.note_take(0.004)
    r.note_take(0.012)  # one slow take in 32 is not what the next retake will take
    assert r.reserve_s == pytest.approx(1.2 * 0.004 + 0.001)
    for _ in range(4):  # four in the last 32 are
        r.note_take(0.010)
    assert r.reserve_s == pytest.approx(1.2 * 0.010 + 0.001)
    for _ in range(32):  # and they pass
        r.note_take(0.005)
    assert r.reserve_s == pytest.approx(1.2 * 0.005 + 0.001)


def test_a_retake_starts_the_reserve_before_the_callback_that_reads_the_block():
    r = retakes()
    r.note_take(0.004)  # reserve 5.8 ms
    # two periods queued ahead of the block, 2 ms after the last callback: due in 28 ms
    assert r.due_in(2 * PERIOD, 0.002) == pytest.approx(0.028)
    assert r.start_in(2 * PERIOD, 0.002) == pytest.approx(0.028 - 0.0058)
    assert r.start_in(0, 0.008) < 0  # due in 2 ms: too late to start one


def test_retakes_are_not_tried_when_the_reserve_leaves_no_room_in_the_window():
    r = retakes(window_periods=1)
    r.note_take(0.004)
    assert r.worth_trying()
    for _ in range(32):
        r.note_take(0.008)  # 10.6 ms reserve + guard > 10 ms window
    assert not r.worth_trying()
    off = Retakes(RATE, PERIOD, 3 * PERIOD, enabled=False, reason="switched off")
    assert not off.worth_trying() and "switched off" in off.describe()


def serve_with_a_knob_move_after_block(model, tmp_path, block: int, slow_retake_s: float = 0.0,
                                       headroom_ms: float | None = None):
    """A headless server; right after block ``block``'s first take, a bend (computed at once, as the
    bend worker would), then ``slow_retake_s`` of stall in its retake. Returns the server after
    stopping, the takes per block (first, retake) and the output file."""
    sf.write(tmp_path / "in.wav", tone(3.0, 44100)[0], 44100)
    rig = Rig(model)
    conv = max((t for t in rig.tensors if t.kind == "conv"), key=lambda t: t.size)
    server = LiveServer(rig, ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "out.wav",
                                          headroom_ms=headroom_ms, report=lambda message: None))
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


def test_a_knob_moved_after_a_block_was_computed_is_heard_in_that_block(small_model, tmp_path, monkeypatch):
    # room for a slow test machine: the retake is in time
    monkeypatch.setattr(retake_module, "MARGIN_S", 0.008)
    server, firsts, retaken, out, installs = serve_with_a_knob_move_after_block(small_model, tmp_path, block=10,
                                                                                headroom_ms=40)
    snap = server.telemetry.snapshot()["retakes"]
    assert snap["enabled"] and snap["kept"] == 1, str(snap)
    assert snap["spliced"] == snap["late"] == snap["torn"] == 0
    assert list(retaken) == [10]  # only the block the knob moved after
    n = firsts[0].shape[0]
    assert np.abs(retaken[10] - firsts[9]).max() > 0.01  # the bend is heard
    # recorders get the take that was played (the file is 24-bit: one step of tolerance)
    np.testing.assert_allclose(out[9 * n:10 * n], retaken[10][:, 0], atol=STEP_24_BIT)
    np.testing.assert_allclose(out[8 * n:9 * n], firsts[8][:, 0], atol=STEP_24_BIT)
    assert len(installs) == 1


def test_a_retake_done_after_the_block_started_playing_comes_in_crossfaded_where_the_device_has_not_read(
        small_model, tmp_path):
    # the retake starts a reserve (a few ms) before the block is due: 15 ms more is into the block.
    # 40 ms of headroom: on a slow or stolen host the reserve (1.2 times the slow takes) would not
    # fit the default window, and retakes would rightly be off
    server, firsts, retaken, out, installs = serve_with_a_knob_move_after_block(
        small_model, tmp_path, block=10, slow_retake_s=0.015, headroom_ms=40)
    snap = server.telemetry.snapshot()
    assert snap["retakes"]["spliced"] == 1 and snap["retakes"]["kept"] == snap["retakes"]["late"] == 0
    assert snap["late_frames"] == 0
    n = firsts[0].shape[0]
    first, again, played = firsts[9][:, 0], retaken[10][:, 0], out[9 * n:10 * n]
    differs = np.flatnonzero(np.abs(played - first) > STEP_24_BIT)
    period = server.latency.period
    at = differs[0] - differs[0] % period  # the fade's first samples are within a 24-bit step
    assert differs[0] - at < 8 and period <= at <= n - XFADE  # from a callback's first frame, inside the block
    np.testing.assert_allclose(played[at + XFADE:], again[at + XFADE:], atol=STEP_24_BIT)
    fade = played[at:at + XFADE]
    assert np.all(np.minimum(first[at:at + XFADE], again[at:at + XFADE]) - STEP_24_BIT <= fade)
    assert np.all(fade <= np.maximum(first[at:at + XFADE], again[at:at + XFADE]) + STEP_24_BIT)
    assert len(installs) == 1


def test_a_retake_with_no_room_left_is_dropped_and_the_knob_is_heard_a_block_later(small_model, tmp_path,
                                                                                     monkeypatch):
    monkeypatch.setattr(Retakes, "placement", lambda self, position, frames, read, left_s: None)
    server, firsts, retaken, out, installs = serve_with_a_knob_move_after_block(small_model, tmp_path, block=10,
                                                                                headroom_ms=40)
    snap = server.telemetry.snapshot()
    assert snap["retakes"]["late"] == 1 and snap["retakes"]["kept"] == snap["retakes"]["spliced"] == 0
    n = firsts[0].shape[0]
    np.testing.assert_allclose(out[9 * n:10 * n], firsts[9][:, 0], atol=STEP_24_BIT)
    assert np.abs(retaken[10] - firsts[9]).max() > 0.01
    assert len(installs) == 1  # noted once, for the next block (where the bend is first heard)


def test_a_late_retake_goes_in_from_the_callback_after_next_or_not_at_all():
    r = retakes()  # period 480
    assert r.placement(position=4800, frames=4800, read=3840, left_s=0.005) == 4800  # in time: whole
    # too near the callback that reads the head: from the one after next
    assert r.placement(position=4800, frames=4800, read=4800, left_s=0.0005) == 5280
    assert r.placement(position=4800, frames=4800, read=6720, left_s=-0.02) == 7200
    assert r.placement(position=4800, frames=4800, read=9120, left_s=-0.05) is None  # not a crossfade left


def test_a_splice_is_the_first_take_then_a_crossfade_into_the_retake():
    first, again = np.full((1024, 2), 0.5, np.float32), np.full((1024, 2), -0.5, np.float32)
    out = splice(first, again, 256)
    assert np.all(out[:256] == 0.5) and np.all(out[256 + XFADE:] == -0.5)
    fade = out[256:256 + XFADE, 0]
    assert np.all(np.diff(fade) < 0) and -0.5 < fade.min() and fade.max() < 0.5


def test_retakes_can_be_switched_off(small_model, tmp_path):
    sf.write(tmp_path / "in.wav", tone(0.5, 44100)[0], 44100)
    options = ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "o.wav", retakes=False)
    with LiveServer(Rig(small_model), options) as server:
        time.sleep(0.2)
        assert not server.pipeline.can_retake
        assert "--no-retakes" in server.retakes.describe()


def test_a_block_is_noted_as_heard_at_the_callback_that_reads_its_first_frame():
    """Knob-to-sound ends at the callback that hands the block to the device, plus the device's
    output latency: frame ``read`` goes out at the next callback, a period after the last one."""
    from performer.live.shared import HEARTBEAT_NS, OUT_READ, Layout, SharedAudio
    from performer.live.telemetry import Latency

    server = LiveServer.__new__(LiveServer)
    server.shared = SharedAudio.create(Layout(1 << 12, 1, 1))
    try:
        server.retakes = retakes()
        server.latency = Latency(rate=RATE, block=4 * PERIOD, headroom=2 * PERIOD, period=PERIOD, signal=0.0,
                                 device_in=0.0, device_out=0.005)
        server.shared.header[OUT_READ] = 10 * PERIOD
        server.shared.header[HEARTBEAT_NS] = time.monotonic_ns() - 4_000_000  # the last callback, 4 ms ago
        before = time.perf_counter()
        heard = server._heard_at(12 * PERIOD)  # read by the third callback from now
        after = time.perf_counter()
    finally:
        server.shared.unlink()
    expected = 3 * PERIOD / RATE - 0.004 + 0.005
    assert before + expected - 0.001 <= heard <= after + expected


def test_with_spliced_knobs_a_knob_moved_while_a_block_plays_is_spliced_into_it(small_model, tmp_path):
    sf.write(tmp_path / "in.wav", tone(3.0, 44100)[0], 44100)
    rig = Rig(small_model)
    conv = max((t for t in rig.tensors if t.kind == "conv"), key=lambda t: t.size)
    server = LiveServer(rig, ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "out.wav",
                                          splice_knobs=True, block=4096, report=lambda message: None))
    # blocks of 93 ms: a splice must start a reserve (1.2 times the slow takes) before the next
    # block's input is in, which a slow or stolen host's reserve leaves no room for in 46 ms blocks
    firsts, moved = [], []
    with server:
        pipeline, follow, period = server.pipeline, server._follow_take, server.latency.period
        process = pipeline.process

        def first_take(frames):
            out = process(frames)
            firsts.append(out.copy())
            return out

        def knob_while_playing():
            take = server._take
            read = server.shared.output.read
            if not moved and len(firsts) >= 10 and take.retaken and take.position + 2 * period <= read:
                rig.set(f"#{conv.index}/0/transform", "invert")
                rig.compute_pending()
                moved.append((len(firsts), read - take.position))
            follow()

        pipeline.process, server._follow_take = first_take, knob_while_playing
        deadline = time.monotonic() + 30  # a loaded CI host needs a while to find the moment
        while (len(firsts) < 20 or not moved) and time.monotonic() < deadline:
            time.sleep(0.02)
        snap = server.telemetry.snapshot()
        installs = list(server.telemetry.installs)
    out = sf.read(tmp_path / "out.wav", dtype="float32")[0]
    assert moved and snap["retakes"]["on_demand"] == 1 and snap["retakes"]["spliced"] == 1, snap["retakes"]
    block, read_at_move = moved[0]
    n = firsts[0].shape[0]
    first, played = firsts[block - 1][:, 0], out[(block - 1) * n:block * n]
    differs = np.flatnonzero(np.abs(played - first) > STEP_24_BIT)
    at = differs[0] - differs[0] % period
    # from a callback the device had not reached when the knob moved, inside the block, crossfaded
    assert differs[0] - at < 8 and read_at_move + period <= at <= n - XFADE, (at, read_at_move)
    assert np.abs(played[at + XFADE:] - first[at + XFADE:]).max() > 0.01  # the bend is heard from there
    assert len(installs) == 1 and snap["late_frames"] == 0
