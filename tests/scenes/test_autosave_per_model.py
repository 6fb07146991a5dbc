"""The live state is autosaved per model: another model starts clean and keeps the first one's."""

import pytest

from performer.model import load_model
from performer.rig import Rig
from performer.scenes.autosave import Autosave, autosave_path
from performer.scenes.identity import model_identity
from performer.scenes.paths import default_autosave_path
from performer.scenes.session import SceneSession, SessionOptions

pytestmark = pytest.mark.fixtures


@pytest.fixture
def models(small_model_path, rave_export):
    return small_model_path, rave_export("v1_c8")  # another architecture: other tensors, latent size


def run(path, tmp_path, reports, restore=True, autosave_dir="live", **bends):
    rig = Rig(load_model(path))
    session = SceneSession(rig, SessionOptions(scenes_dir=tmp_path / "scenes", restore=restore, bending_log=False,
                                               autosave_dir=autosave_dir and tmp_path / autosave_dir),
                           report=reports.append)
    restored = session.restore()
    session.start()
    for address, value in bends.items():
        rig.set(address.replace("_", "/"), value)
    state = rig.state()
    session.stop()
    return restored, state


def test_another_model_starts_clean_and_the_first_keeps_its_state(models, tmp_path):
    first, second = models
    reports = []
    _, bent = run(first, tmp_path, reports, mix=0.3, latent_0_offset=1.5)
    restored, state = run(second, tmp_path, reports, mix=0.8)
    assert restored == "" and reports == []  # no "tensor not in this model", no latent size warnings
    assert state["globals"]["mix"] == 0.8 and state["latent"]["offset"][0] == 0.0
    restored, state = run(first, tmp_path, reports)
    assert restored.startswith("restored the live state") and reports == []
    assert state == bent
    assert run(second, tmp_path, reports)[1]["globals"]["mix"] == 0.8
    assert len(list((tmp_path / "live").glob("*.json"))) == 2


def test_the_file_is_named_after_the_model(small_model_path, tmp_path):
    identity = model_identity(Rig(load_model(small_model_path)))
    path = autosave_path(tmp_path, identity)
    assert path.parent == tmp_path and path.name == f"v2_small_c8-{identity.sha256[:16]}.json"


def test_the_single_file_of_earlier_versions_carries_over_only_to_its_model(models, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    first, second = models
    rig = Rig(load_model(first))
    rig.set("mix", 0.25)
    legacy = default_autosave_path()
    legacy.parent.mkdir(parents=True, exist_ok=True)
    with Autosave(legacy, rig.state, identity=lambda state: model_identity(rig, state)) as autosave:
        autosave.flush()
    reports = []
    assert run(second, tmp_path, reports, autosave_dir=None)[0] == ""
    restored, state = run(first, tmp_path, reports, autosave_dir=None)
    assert str(legacy) in restored and state["globals"]["mix"] == 0.25 and reports == []
