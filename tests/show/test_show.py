"""The Show as `performer serve` builds it, headless (file in, file out): parts, order, wiring."""

import time
from pathlib import Path

import pytest

import numpy as np
import soundfile as sf

from performer.cli import build_parser
from performer.model import load_model
from performer.show import Show
from performer.show.cli import show_options
from tests.conftest import tone


def build(tmp_path, model_path, *extra):
    source = tmp_path / "in.wav"
    sf.write(source, tone(2.0, 44100).T, 44100)
    args = build_parser().parse_args(
        ["serve", str(model_path), "--input-file", str(source), "--output-file", str(tmp_path / "out.wav"),
         "--scenes", str(tmp_path / "scenes"), "--no-midi", "--osc-port", "0", "--web-port", "0", "--fresh", *extra])
    return Show(load_model(args.model), show_options(args, lambda m: None), report=lambda m: None)


def test_serve_runs_every_part_and_stops_them(tmp_path, small_model_path):
    show = build(tmp_path, small_model_path, "--bend", "mix=0.5")
    show.start()
    try:
        assert show.rig.get("mix") == 0.5
        assert show.session.manager is not None and show.surfaces.osc is not None and show.web is not None
        assert show.rig.dispatcher is show.changes
        show.rig.set("scene/save", "verse", source="test")  # scenes are addresses of the show's rig
        assert show.session.manager.store.exists("verse")
        time.sleep(0.5)
        assert show.live.blocks and show.live.blocks > 0
    finally:
        written = show.stop()
    assert (tmp_path / "out.wav") in written
    out, _ = sf.read(tmp_path / "out.wav")
    assert np.abs(out).max() > 0
    assert show.summary is not None and show.summary["blocks"] > 0  # lateness: the benches
    assert show.stop() == []  # twice is harmless


def test_modulation_is_wired_to_the_model_thread(tmp_path, small_model_path):
    show = build(tmp_path, small_model_path, "--bend", "mod/0/kind=sine", "--bend", "mod/0/target/0=mix",
                 "--bend", "mod/0/depth=0.4", "--bend", "mod/0/rate=4")
    show.start()
    try:
        time.sleep(1.0)
        assert show.features.written > 0  # the model thread feeds the analyser
        heard = {round(show.rig.modulated("mix"), 2) for _ in range(20) if not time.sleep(0.02)}
        assert len(heard) > 1 and show.rig.get("mix") == 1.0  # the knob keeps its value
    finally:
        show.stop()
    assert show.rig.modulated("mix") == 1.0  # stopped: offsets cleared


def test_model_export_is_an_address_and_stays_in_its_folder(tmp_path, small_model_path):
    from performer.errors import ValueRangeError
    from performer.model.export_info import read_export_info

    show = build(tmp_path, small_model_path, "--bend", "#3/0/transform=invert", "--no-web")
    show.start()
    try:
        with pytest.raises(ValueRangeError, match="export name"):
            show.rig.set("model/export", "../../etc/passwd", source="osc")
        written = show.rig.set("model/export", "my bend ✨", source="osc")
        assert Path(written).parent == show.exports.directory  # encoded, never outside
        deadline = time.monotonic() + 120
        while show.rig.get("model/export") != written and time.monotonic() < deadline:
            time.sleep(0.1)
        assert show.rig.get("model/export") == written
        assert read_export_info(written)["baked"]
        with pytest.raises(ValueRangeError):
            show.rig.set("model/export", "")
    finally:
        show.stop()
