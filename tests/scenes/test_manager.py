"""Scenes through the Rig's addresses (what MIDI, OSC and the web send), on genuine RAVE exports."""

from __future__ import annotations

import pytest

from performer.errors import PerformerError, ValueRangeError
from performer.model import load_model
from performer.rig import Rig
from performer.scenes.errors import SceneError
from performer.scenes.manager import SceneManager, read_setlist
from performer.scenes.store import SceneStore

pytestmark = pytest.mark.fixtures


@pytest.fixture
def rig(small_model):
    return Rig(small_model)


@pytest.fixture
def scenes(rig, tmp_path):
    manager = SceneManager(rig, SceneStore(tmp_path / "scenes"), setlist=["intro", "drop"])
    yield manager
    manager.close()


def make_scenes(rig):
    rig.set("#0/0/transform", "scale")
    rig.set("#0/0/factor", 2.0)
    rig.set("#1/0/transform", "invert")
    rig.set("mix", 0.5)
    rig.set("scene/save", "intro")
    intro = rig.state()
    rig.set("bends/reset", 1)
    rig.set("#2/0/transform", "ablate")
    rig.set("latent/0/offset", 2.0)
    rig.set("mix", 1.0)
    rig.set("scene/save", "drop")
    rig.compute_pending()
    return intro, rig.state()


def test_recall_swaps_every_tensor_in_one_round(rig, scenes):
    intro, drop = make_scenes(rig)
    rig.set("scene/recall", "intro", source="osc")
    assert rig.state()["tensors"] == intro["tensors"] and rig.get("mix") == 0.5
    assert rig.get("latent/0/offset") == 0.0
    assert rig.compute_pending() == 3  # #0, #1 in, #2 out: one publish, one block boundary
    assert rig.get("scene/recall") == "intro"


def test_morph_endpoints_are_the_scenes_and_between_is_between(rig, scenes):
    intro, drop = make_scenes(rig)
    rig.set("scene/a", "intro")
    rig.set("scene/b", "drop")
    rig.set("scene/morph", 0.0)
    assert rig.state()["tensors"] == intro["tensors"] and rig.get("mix") == 0.5
    rig.set("scene/morph", 1.0)
    assert rig.state()["tensors"] == drop["tensors"] and rig.get("mix") == 1.0
    rig.set("scene/morph", 0.25)
    assert rig.get("mix") == pytest.approx(0.625) and rig.get("latent/0/offset") == pytest.approx(0.5)
    with pytest.raises(ValueRangeError):
        rig.set("scene/morph", 1.5)


def test_setlist_buttons_step_and_release_does_nothing(rig, scenes):
    intro, drop = make_scenes(rig)
    rig.set("setlist/next", 1)
    rig.set("setlist/next", 0)
    assert rig.get("setlist/position") == 0 and rig.state()["tensors"] == intro["tensors"]
    rig.set("setlist/next", 1)
    rig.set("setlist/next", 1)  # stays on the last
    assert rig.get("setlist/position") == 1 and rig.state()["tensors"] == drop["tensors"]
    rig.set("setlist/prev", 1)
    assert rig.state()["tensors"] == intro["tensors"]


def test_undo_redo_and_panic_through_addresses(rig, scenes):
    rig.set("#0/0/transform", "scale")
    rig.set("latent/1/offset", 1.0)
    before = rig.state()["tensors"]
    rig.set("panic", 1)
    assert rig.state()["tensors"] == {} and rig.get("latent/1/offset") == 0.0
    rig.set("undo", 1)
    assert rig.state()["tensors"] == before and rig.get("latent/1/offset") == 1.0
    rig.set("redo", 1)
    assert rig.state()["tensors"] == {}


def test_locks_are_kept_by_recall(rig, scenes):
    make_scenes(rig)
    scenes.save("drop", locks=["mix"])
    rig.set("mix", 0.2)
    rig.set("scene/recall", "drop")
    assert rig.get("mix") == 0.2


def test_missing_scene_changes_nothing_and_says_so(rig, scenes):
    rig.set("#0/0/transform", "scale")
    before = rig.state()
    with pytest.raises(SceneError, match="nothing"):
        rig.set("scene/recall", "nothing")
    assert rig.state() == before
    with pytest.raises(PerformerError, match="scene/a and scene/b"):
        rig.set("scene/morph", 0.5)


def test_a_scene_for_another_model_applies_what_matches(small_model, tmp_path):
    from tests.conftest import FIXTURE_DIR

    other = Rig(load_model(FIXTURE_DIR / "v2_c16.ts"))
    rig = Rig(small_model)
    shapes = {t.name: tuple(t.shape) for t in rig.tensors}
    reshaped = next(t.name for t in other.tensors if t.name in shapes and shapes[t.name] != tuple(t.shape))
    same = next(t.name for t in other.tensors if shapes.get(t.name) == tuple(t.shape))
    store = SceneStore(tmp_path / "scenes")
    with_other = SceneManager(other, store, history=False)
    other.set(f"{reshaped}/0/transform", "invert")
    other.set(f"{same}/0/transform", "invert")
    other.set("mix", 0.25)
    other.set("scene/save", "theirs")
    with_other.close()
    mine = SceneManager(rig, store, history=False)
    report = mine.recall("theirs")
    assert rig.get("mix") == 0.25 and rig.chain(same)[0].transform == "invert"
    assert rig.chain(reshaped) == []
    assert any(reshaped in line for line in report), report
    mine.close()


def test_setlist_file(tmp_path):
    path = tmp_path / "setlist.txt"
    path.write_text("# opening\nintro\n\n  drop  \n")
    assert read_setlist(path) == ["intro", "drop"]
    with pytest.raises(SceneError, match="cannot read"):
        read_setlist(tmp_path / "absent.txt")


def test_a_recall_is_heard_whole_at_one_block_boundary(rig, scenes):
    from performer.audio.engine import BlockEngine
    import numpy as np

    intro, drop = make_scenes(rig)
    rig.set("scene/recall", "drop")
    engine = BlockEngine(rig, compute_bends=False)
    block = np.zeros((engine.in_channels, engine.block_size), dtype=np.float32)
    engine.process_block(block)
    rig.set("scene/recall", "intro")  # #2 out, #0 and #1 in
    engine.process_block(block)
    before = engine.stats.tensors_installed
    assert rig.compute_pending() == 3
    engine.process_block(block)  # the next block boundary installs all three together
    assert engine.stats.tensors_installed - before == 3
    engine.process_block(block)
    assert engine.stats.tensors_installed - before == 3


def test_quantised_recall_waits_for_the_boundary_and_a_later_one_wins(rig, tmp_path):
    import time
    from types import SimpleNamespace

    blocks = SimpleNamespace(blocks=5)  # the engine's block counter, passed in as the Show does
    scenes = SceneManager(rig, SceneStore(tmp_path / "scenes"), blocks=lambda: blocks.blocks)
    intro, drop = make_scenes(rig)
    rig.set("bends/reset", 1)
    rig.set("mix", 0.7)
    changes = []
    rig.add_listener(changes.append)
    rig.set("scene/quantize", 4)
    rig.set("scene/recall", "intro")  # due at block 8 (published during block 7)
    rig.set("scene/recall", "drop")  # overtakes it
    time.sleep(0.05)
    assert rig.get("mix") == 0.7 and rig.state()["tensors"] == {}  # nothing before the boundary
    blocks.blocks = 7
    deadline = time.monotonic() + 2
    while rig.get("mix") == 0.7 and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)
    assert rig.state()["tensors"] == drop["tensors"] and rig.get("mix") == 1.0 and scenes.current == "drop"
    assert not [c for c in changes if c.address == "mix" and c.value == 0.5]  # intro never applied
    scenes.close()


def test_scene_model_needs_model_swaps_and_takes_a_switch(rig, scenes):
    from performer.errors import PerformerError, ValueRangeError

    with pytest.raises(PerformerError, match="scene/model needs model swaps"):
        rig.set("scene/model", 1)
    with pytest.raises(ValueRangeError, match="scene/model takes 1"):
        rig.set("scene/model", "maybe")
    assert rig.set("scene/model", 0) == 0 and rig.get("scene/model") == 0
