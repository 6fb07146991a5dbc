"""model/load on the Show as `performer serve` builds it, headless (file in, file out)."""

import time

import numpy as np
import pytest
import soundfile as sf

from performer.errors import ValueRangeError
from tests.show.test_show import build


def wait_for_blocks(show, more, timeout=20.0):
    target = show.live.blocks + more
    deadline = time.monotonic() + timeout
    while show.live.blocks < target and time.monotonic() < deadline:
        time.sleep(0.02)
    assert show.live.blocks >= target


def test_model_load_swaps_while_the_show_plays_and_each_model_keeps_its_bends(tmp_path, models_folder):
    reports = []
    show = build(tmp_path, "default", "--models", str(models_folder), "--crossfade", "30")
    show.report = show.swap.report = reports.append
    show.start()
    try:
        assert "models: " in " ".join(show.lines) and any("broken" in r for r in reports)  # preloaded
        assert show.rig.get("model/list") == ["default", "live", "broken", "small"]  # program-change order
        show.rig.set("#2/0/transform", "invert", source="test")
        wait_for_blocks(show, 5)

        assert show.rig.set("model/load", "small", source="test") == "small"
        assert show.swap.wait_idle(30)
        assert show.rig.model.path.name == "small.ts" and show.rig.get("model/load") == "small"
        assert show.rig.chain(2) == []  # the small model starts unbent
        result = show.swap.results[-1]
        assert result.name == "small" and result.load_ms < 50  # preloaded: no file read mid-show
        assert 0 < result.total_ms < 30000
        show.rig.set("#1/0/transform", "ablate", source="test")
        show.rig.set("scene/save", "on-small", source="test")  # a scene records its model
        show.rig.set("#1/0/transform", "invert", source="test")
        wait_for_blocks(show, 5)

        with pytest.raises(ValueRangeError, match="no model named 'nope'; the models are default, live, broken"):
            show.rig.set("model/load", "nope", source="test")
        with pytest.raises(ValueRangeError, match="program 9 has no model"):
            show.rig.set("model/load", 9, source="test")
        show.rig.set("model/load", 2, source="test")  # program 2: the broken file
        assert show.swap.wait_idle(30)
        assert "model broken not loaded" in show.swap.failures[-1] and "keeps playing" in show.swap.failures[-1]
        wait_for_blocks(show, 5)  # and it does

        show.rig.set("model/load", "default", source="test")
        assert show.swap.wait_idle(30)
        assert show.rig.model.path.stem == "default" and show.rig.chain(2)[0].transform == "invert"
        wait_for_blocks(show, 5)

        show.rig.set("scene/model", 1, source="test")  # a recall brings the scene's model back
        show.rig.set("scene/recall", "on-small", source="test")
        assert show.swap.wait_idle(30)
        assert show.rig.get("model/load") == "small" and show.rig.chain(1)[0].transform == "ablate"
        show.rig.set("model/load", "default", source="test")
        assert show.swap.wait_idle(30)
        show.rig.set("scene/model", 0, source="test")  # off: applied to the model playing, reported
        show.rig.set("scene/recall", "on-small", source="test")
        assert show.rig.get("model/load") == "default" and show.session.manager.last_report
        wait_for_blocks(show, 5)
    finally:
        show.stop()
    assert show.summary["model_errors"] == 0
    out, _ = sf.read(tmp_path / "out.wav")
    assert np.isfinite(out).all() and np.abs(out).max() > 0


def test_a_program_change_mapped_to_model_load_picks_the_model_at_that_position(models_folder, small_model):
    import tomllib

    from performer.control.mapping import parse_mapping
    from performer.control.router import MidiRouter
    from performer.rig import Rig
    from performer.show.swap import ModelSwap

    rig = Rig(small_model)
    swap = ModelSwap(rig, None, [models_folder], report=lambda m: None)  # no audio: a load switches the rig
    try:
        text = ('schema_version = 1\nname = "t"\ndevice = "nano"\n'
                '[[controls]]\nmatch = { type = "program" }\naddress = "model/load"\n')
        router = MidiRouter(rig, [parse_mapping(tomllib.loads(text), "test")])
        assert swap.names() == ["broken", "small"]
        router.handle("nanoKONTROL2:out", bytes([0xC0, 1]))  # program 1 (channel 1)
        assert swap.wait_idle(10) and rig.get("model/load") == "small"
        router.handle("nanoKONTROL2:out", bytes([0xC0, 0]))  # the broken file: reported, nothing changes
        assert swap.wait_idle(10) and rig.get("model/load") == "small"
        assert "model broken not loaded: cannot load" in swap.failures[-1]
        router.handle("nanoKONTROL2:out", bytes([0xC0, 7]))  # no model there: the router reports it
        assert router.stats.errors == 1 and rig.get("model/load") == "small"
    finally:
        swap.close()
