"""The live server with no device: file in, file out, paced by the software clock."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from performer.live.server import LiveServer, ServeOptions
from performer.rig import Rig
from tests.conftest import tone

pytestmark = pytest.mark.fixtures
REPO = Path(__file__).resolve().parents[2]


def impulses(rate: int, seconds: float, every: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros(int(rate * seconds), dtype=np.float32)
    at = np.arange(int(0.1 * rate), x.size - int(0.1 * rate), int(every * rate))
    x[at] = 0.5
    return x, at


@pytest.mark.parametrize("rate", [44100, 48000])  # 48 kHz: resampled both ways around the model
def test_impulses_come_out_after_exactly_the_signal_delay(small_model, tmp_path, rate):
    x, at = impulses(rate, 1.5)
    sf.write(tmp_path / "in.wav", x, rate, subtype="FLOAT")
    rig = Rig(small_model)
    rig.set("bypass", 1)
    server = LiveServer(rig, ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "out.wav",
                                          samplerate=rate))
    with server:
        time.sleep(1.6)
        delay = server.pipeline.signal_delay
    out, out_rate = sf.read(tmp_path / "out.wav", dtype="float32")
    assert out_rate == rate
    found = [int(np.argmax(np.abs(out[i:i + rate // 8]))) + i for i in at if i + rate // 8 < out.size]
    assert len(found) >= 3
    for expected, got in zip(at, found):
        assert abs(got - (expected + delay)) <= (0 if rate == 44100 else 1.0), (got, expected, delay)
    if rate == 44100:
        assert delay == server.engine.dry_delay.delay + server.engine.latency


def test_record_address_writes_output_and_input_from_a_writer_thread(small_model, tmp_path):
    sf.write(tmp_path / "in.wav", tone(1.0, 44100)[0], 44100)
    rig = Rig(small_model)
    server = LiveServer(rig, ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "out.wav",
                                          record_dir=tmp_path / "takes", record_input=True))
    with server:
        time.sleep(0.3)
        rig.set("record", 1)
        assert server.telemetry.snapshot()["recording"].startswith("performer-")
        time.sleep(1.0)
        assert list((tmp_path / "takes").glob("*.partial.wav"))  # in progress: never under the final name
        rig.set("record", 0)
    takes = sorted((tmp_path / "takes").glob("*.wav"), key=lambda p: p.name.endswith("-input.wav"))
    assert [p.name.endswith("-input.wav") for p in takes] == [False, True]
    output, rate = sf.read(takes[0])
    assert rate == 44100 and 0.8 * rate < output.shape[0] < 1.3 * rate and np.abs(output).max() > 0
    assert sf.info(takes[1]).frames > 0.8 * rate


def test_telemetry_snapshot_reports_the_engine(small_model, tmp_path):
    sf.write(tmp_path / "in.wav", tone(0.5, 44100)[0], 44100)
    rig = Rig(small_model)
    with LiveServer(rig, ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "o.wav")) as server:
        time.sleep(0.5)
        assert not hasattr(rig, "telemetry")  # nothing is stuck onto the Rig
        assert server.blocks == server.engine.stats.blocks > 0
        snap = server.telemetry.snapshot()
        line = server.telemetry.status_line()
    assert snap["state"] == "running" and snap["blocks"] > 0 and snap["model_ms"]["mean"] > 0
    assert 0 < snap["realtime_factor"] < 1 and snap["latency_ms"] > 46
    # the callback's own work is a sliver of the time between its wake-ups
    assert 0 < snap["callback_us"]["max"] < snap["callback_us"]["gap_max"]
    assert snap["margin_ms_min"] > 0  # every block reached the ring before it was due
    assert "margin" in line
    assert "RTF" in line and "xruns 0" in line


def test_serve_headless_from_the_command_line(small_model_path, tmp_path):
    sf.write(tmp_path / "in.wav", tone(0.5, 48000)[0], 48000)
    result = subprocess.run(
        [sys.executable, "-m", "performer", "serve", str(small_model_path), "--input-file", str(tmp_path / "in.wav"),
         "--output-file", str(tmp_path / "out.wav"), "--rate", "48000", "--duration", "2",
         "--bend", "#5/0/transform=invert", "--no-web"], capture_output=True, text=True, timeout=120, cwd=REPO,
        env=dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config")))
    assert result.returncode == 0, result.stderr
    assert "latency:" in result.stdout and "wrote" in result.stdout
    info = sf.info(tmp_path / "out.wav")
    assert info.samplerate == 48000 and 1.5 < info.duration < 2.5


def test_serve_refuses_a_bad_bend_before_opening_anything(small_model_path, tmp_path):
    result = subprocess.run([sys.executable, "-m", "performer", "serve", str(small_model_path), "--bend", "nope/0/x=1"],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 2 and "no tensor named 'nope'" in result.stderr


def stall_blocks(server: LiveServer, extra_s: dict[int, float], blocks: int) -> list[int]:
    """Stall the model thread before the blocks numbered in ``extra_s`` (from 1) for the compute
    window plus that many seconds, run ``blocks`` blocks, and return the late frames counted just
    before each stall."""
    window_s = server.latency.compute_window / server.rate
    process, calls, late_before = server.pipeline.process, [0], []

    def stalling(frames):
        calls[0] += 1
        if calls[0] in extra_s:
            late_before.append(server.telemetry.snapshot()["late_frames"])
            time.sleep(window_s + extra_s[calls[0]])
        return process(frames)

    server.pipeline.process = stalling
    deadline = time.monotonic() + 10
    while calls[0] < blocks and time.monotonic() < deadline:
        time.sleep(0.05)
    return late_before


def test_a_late_block_moves_the_output_later_once_instead_of_dropping_its_head(small_model, tmp_path):
    """A stall past the block's deadline plays silence once; the output then runs later by the
    lateness (reported), so a later stall past the original deadline finds room instead of
    dropping another head."""
    sf.write(tmp_path / "in.wav", tone(4.0, 44100)[0], 44100)
    messages: list[str] = []
    rig = Rig(small_model)
    options = ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "o.wav", report=messages.append)
    with LiveServer(rig, options) as server:
        # two stalls 20 blocks apart, each past the original window: the second is shorter than
        # the first's lateness, so the room the first made must absorb it
        late_before = stall_blocks(server, {10: 0.012, 30: 0.002}, blocks=40)
        snap = server.telemetry.snapshot()
    first_stall_late = late_before[1] - late_before[0]
    assert first_stall_late > 0 and snap["margin_ms_min"] < 0
    assert 0 < snap["latency_grown_ms"] <= 1000 * 4 * server.latency.period / server.rate + 0.1
    assert snap["late_frames"] - late_before[1] < first_stall_late  # the second stall found room
    assert any("a block was late: output latency now" in m for m in messages), messages


def test_with_late_starts_a_late_block_backs_off_instead_of_growing_latency(small_model, tmp_path):
    sf.write(tmp_path / "in.wav", tone(3.0, 44100)[0], 44100)
    rig = Rig(small_model)
    options = ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "o.wav", reserve_ms=8.0,
                           report=lambda message: None)
    with LiveServer(rig, options) as server:
        stall_blocks(server, {10: 0.012}, blocks=20)
        snap = server.telemetry.snapshot()
    assert snap["late_frames"] > 0 and snap["latency_grown_ms"] == 0
    assert snap["late_start"]["backoffs"] == 1


def test_the_model_thread_warms_up_before_the_stream_starts_and_leaves_the_engine_fresh(small_model, tmp_path,
                                                                                       monkeypatch):
    """A thread's first model calls are slow (its allocator arena, thread-local state): the model
    thread pays for them before the first callback, and the show starts from fresh state."""
    import threading

    from performer.audio.engine import BlockEngine
    from performer.live import server as server_module
    from performer.live.shared import CALLBACKS

    sf.write(tmp_path / "in.wav", tone(1.0, 44100)[0], 44100)
    server = LiveServer(Rig(small_model), ServeOptions(input_file=tmp_path / "in.wav",
                                                       output_file=tmp_path / "out.wav"))
    calls = []
    process_block = BlockEngine.process_block

    def noted(engine, block):
        callbacks = -1 if server.shared is None else int(server.shared.header[CALLBACKS])  # -1: before the rings exist
        calls.append((threading.current_thread().name, callbacks, engine.stats.blocks))
        return process_block(engine, block)

    monkeypatch.setattr(BlockEngine, "process_block", noted)
    with server:
        warm = [call for call in calls if call[0] == "performer-model"]
        assert len(warm) == server_module.THREAD_WARMUP_BLOCKS  # done before start() returned
        assert all(callbacks == 0 for _, callbacks, _ in warm)
        assert server.engine.stats.blocks == 0 and server.engine.stats.tensors_installed == 0
        time.sleep(0.3)
    live = [blocks for name, callbacks, blocks in calls if name == "performer-model" and callbacks > 0]
    assert live and live[0] == 0  # the first live block starts the count again


def test_a_bend_set_before_the_show_is_counted_and_noted_once_wherever_it_was_installed(small_model, tmp_path):
    """Published before the show, the warm-up blocks install it (a bend worker publishing during
    the model thread's warm-up does the same): still counted, and its first live block noted."""
    sf.write(tmp_path / "in.wav", tone(1.0, 44100)[0], 44100)
    rig = Rig(small_model)
    conv = max((t for t in rig.tensors if t.kind == "conv"), key=lambda t: t.size)
    rig.set(f"#{conv.index}/0/transform", "invert")
    rig.compute_pending()
    server = LiveServer(rig, ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "out.wav"))
    with server:
        time.sleep(0.5)
        installed = server.engine.stats.tensors_installed
        noted = len(server.telemetry.installs)
    assert installed == 1 and noted == 1


def test_stopping_fades_the_output_out_and_the_show_summary_leaves_the_shutdown_out(small_model, tmp_path):
    rate = 44100
    t = np.arange(3 * rate) / rate
    sf.write(tmp_path / "in.wav", (0.5 * np.sin(2 * np.pi * 441 * t)).astype(np.float32), rate)
    rig = Rig(small_model)
    rig.set("bypass", 1)  # the dry path: a steady sine, so the fade is all that changes
    server = LiveServer(rig, ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "out.wav"))
    with server:
        time.sleep(0.6)
        show = server.fade_out()
        assert server.fade_out() is show  # once per show
        ring, start, end, written = server.shared.output, server.fades.out_at, server.fades.out_end, server._out_pos
        played = ring.data[np.arange(start - 2048, written) % ring.capacity, 0].copy()
        time.sleep(0.2)  # the model thread writes nothing more: the device reads silence, counted as late
        after = server.telemetry.snapshot()
    before, fade, tail = played[:2048], played[2048:2048 + end - start], played[2048 + end - start:]
    assert np.abs(before).max() > 0.45 and written > end and not tail.any()
    quarter = fade.size // 4
    assert np.abs(fade[:quarter]).max() > 0.4 and np.abs(fade[-quarter:]).max() < 0.1
    assert np.abs(np.diff(played)).max() < 2 * np.pi * 441 / rate * 0.5 * 1.05  # no step anywhere: no click
    assert end - start == round(0.05 * rate)
    assert show["late_frames"] == 0 and after["late_frames"] > 0 and server.show is show


def test_the_show_fades_in_from_its_first_output_frame(small_model, tmp_path):
    from performer.live.fades import FADE_S, fade_gains

    rate = 44100
    t = np.arange(3 * rate) / rate
    sf.write(tmp_path / "in.wav", (0.5 * np.sin(2 * np.pi * 441 * t)).astype(np.float32), rate)
    rig = Rig(small_model)
    rig.set("bypass", 1)  # the dry path: a steady sine under the fade
    server = LiveServer(rig, ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "out.wav"))
    with server:
        time.sleep(0.5)
        first, fade = server.latency.ring_frames, round(FADE_S * rate)
        played = server.shared.output.data[first:first + fade + 4096, 0].copy()
    envelope = fade_gains(0, fade, fade, rising=True)
    assert np.all(np.abs(played[:fade]) <= 0.52 * envelope + 1e-4)  # under the rising raised cosine (0.5 in, 0.51 out)
    assert np.abs(played[fade:]).max() > 0.45  # then the whole tone
    assert np.abs(played[:fade // 4]).max() < 0.1 * 0.5


@pytest.mark.parametrize("period", [128, 256])
def test_the_live_model_runs_at_its_ratio_with_a_measured_window(tmp_path, period):
    """A model built for small blocks: its block is its ratio (128), retakes are off (the next
    block is 2.7 ms away), no 15 ms floor, and with a period longer than the block the ring
    still holds a period."""
    from performer.model import load_model

    sf.write(tmp_path / "in.wav", tone(1.0, 48000)[0], 48000)
    rig = Rig(load_model("live"))
    options = ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "out.wav", period=period,
                           report=lambda message: None)
    with LiveServer(rig, options) as server:
        time.sleep(0.6)
        snap = server.telemetry.snapshot()
    assert server.engine.block_size == 128
    assert not server.retakes.enabled
    assert server.latency.ring_frames >= period
    assert snap["blocks"] > 100  # lateness is the bench's business (bench/latency.py), not a unit test's
    out = sf.read(tmp_path / "out.wav", dtype="float32")[0]
    assert np.abs(out).max() > 0.01
