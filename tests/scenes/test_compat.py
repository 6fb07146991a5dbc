"""Model identity and compatibility against genuine RAVE exports, and the filtered state applied
to a real Rig with Rig.load_state."""

from __future__ import annotations

import shutil

import pytest

from performer.model import load_model
from performer.rig import Rig
from performer.scenes import (COMPATIBLE, EXACT, PARTIAL, Scene, SceneStore, check_compatible, file_sha256,
                              filter_state, model_identity, tensor_signature)

pytestmark = pytest.mark.fixtures
WAVEFORM = "decoder.waveform_module.weight"  # twice the output channels in the stereo export


@pytest.fixture(scope="module")
def rigs(rave_export):
    names = ("v2_small_c8", "v2_small_c8_nt15", "v2_small_c8_stereo", "v1_c8")
    return {name: Rig(load_model(rave_export(name))) for name in names}


def bent(rig: Rig) -> Scene:
    """A scene bending a tensor every v2_small variant shares, one the stereo export reshapes, the
    latent, and the selection."""
    rig.load_state({"tensors": {}, "latent": {"scale": [1.0] * 8, "offset": [0.0] * 8}, "globals": {}, "selected": 0})
    rig.set("decoder.net.2.weight/0/transform", "scale")
    rig.set("decoder.net.2.weight/0/factor", 0.5)
    rig.set(f"{WAVEFORM}/0/amount", 0.25)
    rig.set("latent/2/offset", 1.5)
    rig.set("mix", 0.75)
    rig.set("select/tensor", 60)
    return Scene.from_rig("bent", rig, locks=("output/gain",))


def test_identity_is_hashed_once_and_records_bent_shapes(rigs, rave_export):
    rig = rigs["v2_small_c8"]
    scene = bent(rig)
    ident = scene.model
    assert ident.file == "v2_small_c8.ts" and ident.sha256 == file_sha256(rave_export("v2_small_c8"))
    assert ident.tensor_count == len(rig.tensors) == 61
    assert ident.tensor_signature == tensor_signature([(t.name, t.shape) for t in rig.tensors])[0]
    assert set(ident.shapes) == {"decoder.net.2.weight", WAVEFORM}
    assert ident.shapes[WAVEFORM] == rig.tensors[rig.tensor_index(WAVEFORM)].shape
    assert model_identity(rig) == model_identity(rig)  # cached: same digest, no second read


def test_same_file_is_exact_and_applies_whole(rigs, tmp_path):
    rig = rigs["v2_small_c8"]
    scene = SceneStore(tmp_path).load(SceneStore(tmp_path).save(bent(rig)).stem)
    compat = check_compatible(scene, rig)
    assert compat.level == EXACT and compat.applies_fully and compat.report() == []
    assert compat.summary() == "exact: made on this model file (v2_small_c8.ts)"
    state, lines = filter_state(scene, rig)
    assert lines == [] and state == scene.state


def test_same_architecture_other_export_is_compatible(rigs):
    scene = bent(rigs["v2_small_c8"])
    other = rigs["v2_small_c8_nt15"]
    compat = check_compatible(scene, other)
    assert compat.level == COMPATIBLE and compat.applies_fully
    assert "same 61 tensors" in compat.summary()
    state, lines = filter_state(scene, other)
    assert lines == [] and other.load_state(state) == []
    assert other.get("decoder.net.2.weight/0/factor") == 0.5 and other.get("latent/2/offset") == 1.5


def test_other_channel_count_applies_where_shapes_match(rigs):
    scene = bent(rigs["v2_small_c8"])
    stereo = rigs["v2_small_c8_stereo"]
    compat = check_compatible(scene, stereo)
    assert compat.level == PARTIAL and not compat.applies_fully
    assert compat.matching == ("decoder.net.2.weight",) and compat.missing == ()
    (name, was, now), = compat.mismatched
    assert name == WAVEFORM and was != now
    assert compat.summary().startswith("partial: made on v2_small_c8.ts (61 tensors), this is "
                                       "v2_small_c8_stereo.ts (61); 1 of 2 bent tensors apply")
    state, lines = filter_state(scene, stereo)
    assert list(state["tensors"]) == ["decoder.net.2.weight"]
    assert lines == [f"{WAVEFORM}: shape {'x'.join(map(str, was))} in the scene, "
                     f"{'x'.join(map(str, now))} in this model, bend left out"]
    assert stereo.load_state(state) == []
    assert stereo.get("decoder.net.2.weight/0/factor") == 0.5 and stereo.get("mix") == 0.75


def test_other_architecture_reports_missing_tensors_and_fits_the_rest(rigs):
    scene = bent(rigs["v2_small_c8"])
    v1 = rigs["v1_c8"]
    compat = check_compatible(scene, v1)
    assert compat.level == PARTIAL and "decoder.net.2.weight" in compat.missing
    state, lines = filter_state(scene, v1)
    assert "decoder.net.2.weight: not in this model, bend left out" in lines
    assert state["selected"] == 0 and any(line.startswith("selected: tensor #60 is beyond") for line in lines)
    assert v1.load_state(state) == []
    assert v1.get("latent/2/offset") == 1.5 and v1.get("mix") == 0.75


def test_latent_size_is_fitted(rigs):
    rig = rigs["v2_small_c8"]
    scene = bent(rig)
    state = dict(scene.state, latent={"scale": [2.0] * 10, "offset": [0.5] * 10})
    fitted, lines = filter_state(state, rig, scene.model)
    assert fitted["latent"] == {"scale": [2.0] * 8, "offset": [0.5] * 8}
    assert lines == ["latent: the scene has 10 dimensions, this model 8: extra values left out"]
    state["latent"] = {"scale": [2.0] * 3, "offset": [0.5] * 3}
    fitted, lines = filter_state(state, rig, scene.model)
    assert fitted["latent"] == {"scale": [2.0] * 3 + [1.0] * 5, "offset": [0.5] * 3 + [0.0] * 5}
    assert rig.load_state(fitted) == []


def test_without_identity_tensors_match_by_name(rigs):
    rig = rigs["v2_small_c8"]
    state, lines = filter_state(bent(rig).state, rig)
    assert set(state["tensors"]) == {"decoder.net.2.weight", WAVEFORM}
    assert sorted(lines) == [f"{name}: shape not recorded in the scene, bend applied by name"
                             for name in ("decoder.net.2.weight", WAVEFORM)]


def test_a_copy_is_exact_and_the_digest_stays_with_the_loaded_model(rigs, rave_export, tmp_path):
    src = rave_export("v2_small_c8")
    copy = tmp_path / "copy.ts"
    shutil.copyfile(src, copy)
    twin = Rig(load_model(copy))
    scene = bent(rigs["v2_small_c8"])
    assert check_compatible(scene, twin).level == EXACT  # same bytes, another path
    copy.write_bytes(copy.read_bytes() + b"\0")  # the loaded model keeps its digest
    assert check_compatible(scene, twin).level == EXACT
