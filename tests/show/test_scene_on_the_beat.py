"""A scene recall quantised to the bar is heard at the downbeat within one model block, measured
on the output: the Show runs headless (file in, clock thread out) and the test keeps what the
clock thread plays, with the time each period was played. With spliced knobs (the default for
2048-sample blocks) the recall comes in mid-block near the downbeat; with whole-block installs
(no retakes, as for the live model's small blocks) it comes from the start of the block that
plays the downbeat.

The output is the dry path (bypass) of a steady sine, so its level is exact; the scene drops
``output/gain`` to -40 dB. Where the level first falls is where the recall is heard; the
downbeat's time comes from the tempo. The clock thread is paced in real time and the recall is
published by a sleeping thread: on a loaded machine either may run late, so their measured
lateness is allowed on top of the block (never a constant guess)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf

from performer.control.surfaces import SurfaceOptions
from performer.live.server import ServeOptions
from performer.live.shared import HEARTBEAT_NS
from performer.model import load_model
from performer.scenes.session import SessionOptions
from performer.show.show import Show, ShowOptions, WebOptions

pytestmark = pytest.mark.fixtures
TEMPO = 300.0  # a bar of 4 beats is 0.8 s
QUIET_DB = -40.0


class Tape:
    """Wraps the headless clock's callback: every period it played, and when (the heartbeat the
    live server reads the device clock from: monotonic, the tempo's clock)."""

    def __init__(self, core):
        self.core = core
        self.chunks: list[np.ndarray] = []
        self.times: list[float] = []

    def __call__(self, indata, outdata, frames, flagged):
        self.core(indata, outdata, frames, flagged)
        self.times.append(int(self.core.header[HEARTBEAT_NS]) / 1e9)
        self.chunks.append(self.core._scratch[:frames, 0].copy())


def level(x: np.ndarray, cycle: int) -> np.ndarray:
    """The peak over the next sine cycle, per sample: exactly constant for a steady sine of
    ``cycle`` samples, and it falls from the first sample on which the gain falls."""
    windows = np.lib.stride_tricks.sliding_window_view(np.abs(x), cycle)
    return windows.max(axis=1)


@pytest.mark.parametrize("serve", [{}, {"retakes": False}], ids=["spliced", "whole-block"])
def test_a_recall_quantised_to_the_bar_is_heard_at_the_downbeat(tmp_path, small_model_path, serve):
    model = load_model(small_model_path)
    rate, cycle = model.sample_rate, 100  # 441 Hz at 44.1 kHz: a whole number of cycles loops cleanly
    t = np.arange(rate) / rate
    sf.write(tmp_path / "in.wav", (0.5 * np.sin(2 * np.pi * (rate / cycle) * t)).astype(np.float32), rate)
    options = ShowOptions(
        serve=ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "out.wav", **serve),
        session=SessionOptions(scenes_dir=tmp_path / "scenes", autosave_dir=tmp_path / "autosave", restore=False,
                               bending_log=False),
        surfaces=SurfaceOptions(shipped=False, midi=False, osc=False), web=WebOptions(enabled=False),
        bends=[("bypass", 1), ("tempo", TEMPO)])
    show = Show(model, options, report=lambda m: None)
    show.start()
    try:
        rig, manager, live = show.rig, show.session.manager, show.live
        tape = Tape(live.host.core)
        live.host.core = tape
        rig.set("output/gain", QUIET_DB)
        rig.set("scene/save", "quiet")
        rig.set("output/gain", 0.0)
        rig.set("scene/quantize/beats", "1 bar")
        time.sleep(0.15)  # the gain is back at 0 dB and steady
        start = len(tape.times)  # the periods played from here on are analysed
        rig.set("scene/recall", "quiet", source="test")
        planned = manager.pending[0]
        assert planned.grid == 4.0 and planned.beat % 4 == 0
        while not manager.beats.applied or time.monotonic() < manager.beats.applied[-1].at + 0.15:
            time.sleep(0.02)
        period, block = live.latency.period, live.latency.block
        splices = live.retakes.splice_knobs
    finally:
        show.stop()
    done = manager.beats.applied[-1]
    assert done.beat == planned.beat and rig.get("output/gain") == QUIET_DB

    played = np.array(tape.times[start:])
    out = np.concatenate(tape.chunks[start:])
    times = np.repeat(played, period) + np.tile(np.arange(period) / rate, len(played))
    env = level(out, cycle)
    steady = np.median(env[:rate // 50])  # the first 20 ms: before the recall can be heard
    assert steady == pytest.approx(0.5, rel=0.02)
    # The first sample from which the level stays 0.09 dB down or more: a dropout before it (a late
    # block on a busy machine, counted by the telemetry) is not the recall.
    changed = int(np.nonzero(env >= 0.99 * steady)[0][-1]) + 1
    assert times[changed] > done.published  # not before the recall went out
    assert env[min(len(env) - 1, changed + 2 * block)] < 0.02 * steady  # all the way down, once

    # The clock thread's lateness where the change played: against the steady pace it keeps.
    pace = played - np.arange(len(played)) * period / rate
    clock_late = pace[changed // period] - pace.min()
    publish_late = max(0.0, done.published - done.due)
    error = times[changed] - done.at
    block_s = block / rate
    print(f"\nheard {1000 * error:+.1f} ms ({round(error * rate):+d} samples) from the downbeat; block "
          f"{1000 * block_s:.1f} ms, lead {1000 * done.lead:.1f} ms, splices {splices}; published "
          f"{1000 * publish_late:.1f} ms late, clock {1000 * clock_late:.1f} ms late; "
          f"late frames {show.summary['late_frames']}")
    late_by = clock_late + publish_late
    assert -block_s <= error <= block_s + late_by
    if not splices:  # installed at a block boundary: the block that plays the downbeat, not the next
        assert error <= period / rate + late_by
