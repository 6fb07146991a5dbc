"""One value rule: Rig.set, whole-state loads and scene files take and refuse the same values."""

import ast
from pathlib import Path

import pytest

from performer.errors import ValueRangeError
from performer.rig import Rig
from performer.rig.values import LATENT_RANGE, global_value, latent_value
from performer.scenes import Scene, SceneError
from tests.scenes.scene_data import IDENTITY, make_state

RIG_PACKAGE = Path(__file__).parents[2] / "performer" / "rig"


def _state_with(state: dict, address: str, value: object) -> dict:
    if address.startswith("latent/"):
        _, index, kind = address.split("/")
        state["latent"][kind][int(index)] = value
    else:
        state["globals"][address] = value
    return state


def _value_at(state: dict, address: str) -> object:
    if address.startswith("latent/"):
        _, index, kind = address.split("/")
        return state["latent"][kind][int(index)]
    return state["globals"][address]


# (address, value sent, value stored): numeric text is a number on every path
ACCEPTED = [("mix", "0.5", 0.5), ("output/gain", "-6", -6.0), ("bypass", "1", 1.0), ("bypass", True, 1.0),
            ("bypass", 0.7, 1.0), ("latent/1/offset", "2.5", 2.5), ("latent/0/scale", -8, -8.0)]
REFUSED = [("mix", "loud"), ("mix", "nan"), ("mix", "inf"), ("mix", 1.5), ("mix", None), ("input/gain", "30"),
           ("latent/1/offset", "8.5"), ("latent/1/offset", float("inf")), ("latent/0/scale", [1])]


@pytest.mark.parametrize("address,value,stored", ACCEPTED)
def test_scene_files_store_what_set_stores(address, value, stored):
    scene = Scene("s", _state_with(make_state(), address, value), IDENTITY)
    got = _value_at(scene.state, address)
    assert got == stored and type(got) is float


@pytest.mark.parametrize("address,value", REFUSED)
def test_scene_files_refuse_what_set_refuses(address, value):
    with pytest.raises(SceneError, match="must be"):
        Scene("s", _state_with(make_state(), address, value), IDENTITY)


def test_the_rule_checks_ranges_without_a_model():
    assert global_value("mix", "0.25") == 0.25
    assert latent_value(" 3 ", "z") == 3.0
    with pytest.raises(ValueRangeError, match=r"output/gain must be in range -60..12 \(dB\), got 13"):
        global_value("output/gain", 13)
    with pytest.raises(ValueRangeError, match=r"z must be in range -8..8, got -9"):
        latent_value("-9", "z")


def test_state_does_not_import_from_rig():
    """rig.py imports state.py; state.py takes the rule from values.py, not a private name of rig.py."""
    for module in ("state.py", "values.py", "addresses.py"):
        tree = ast.parse((RIG_PACKAGE / module).read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "performer.rig.rig" not in imported and "performer.rig" not in imported, module


def test_the_latent_bound_is_written_once():
    root = RIG_PACKAGE.parents[1]
    for path in ("performer/rig/rig.py", "performer/rig/state.py", "performer/rig/overlay.py", "performer/scenes/scene.py",
                 "web/lib/layers.js"):
        text = (root / path).read_text()
        assert "8.0" not in text and "-8," not in text and "-8.." not in text, f"{path} writes the latent bound"


@pytest.mark.fixtures
class TestOnTheRig:
    @pytest.fixture
    def rig(self, small_model):
        return Rig(small_model)

    @pytest.mark.parametrize("address,value,stored", ACCEPTED)
    def test_set_and_state_loads_store_the_same(self, rig, address, value, stored):
        assert rig.set(address, value) == stored
        fresh = rig.state()
        size = rig.model.latent_size
        rig.load_state({"tensors": {}, "latent": {"scale": [1.0] * size, "offset": [0.0] * size}, "globals": {}})
        assert rig.load_state(_state_with(rig.state(), address, value)) == []
        assert rig.state() == fresh

    @pytest.mark.parametrize("address,value", REFUSED)
    def test_set_raises_and_state_loads_report_the_same_values(self, rig, address, value):
        before = rig.state()
        with pytest.raises(ValueRangeError) as refused:
            rig.set(address, value)
        report = rig.load_state(_state_with(rig.state(), address, value))
        assert report == [f"{refused.value}; skipped"]
        assert rig.state() == before

    def test_slot_text_values_load_as_set_stores_them(self, rig):
        name = rig.tensors[3].name
        slot = {"transform": "scale", "amount": "0.5", "seed": "7", "bypass": "0", "params": {"scale": {"factor": "-3"}}}
        assert rig.load_state({"tensors": {name: [slot]}, "latent": {}, "globals": {}}) == []
        assert rig.state()["tensors"][name][0] | {"params": None} == {
            "transform": "scale", "amount": 0.5, "percent": 1.0, "mode": "random", "seed": 7, "bypass": False,
            "params": None}
        assert rig.get(f"{name}/0/factor") == -3.0

    def test_describe_addresses_gives_the_latent_bound(self, rig):
        latent = rig.describe_addresses()["latent"]
        assert (latent["offset"]["min"], latent["offset"]["max"]) == LATENT_RANGE == (latent["scale"]["min"],
                                                                                    latent["scale"]["max"])
