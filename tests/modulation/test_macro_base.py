"""A macro's base definition (what a mapping file gives): set whole or not at all, kept across
recalls of scenes that do not mention the macro, and only differences saved."""

import pytest

from performer.errors import AddressError, ValueRangeError

from tests.modulation.conftest import amount

pytestmark = pytest.mark.fixtures


def define(mod, rig):
    return mod.define_macro(0, [{"address": "#3/0/amount", "min": 0.2, "max": 0.8, "curve": "s"},
                                {"address": "output/gain", "min": 0.0, "max": -12.0}], origin="nano.toml")


def test_a_definition_sets_the_targets_through_their_addresses(rig, mod):
    changes = []
    rig.add_listener(changes.append)
    assert define(mod, rig) == [amount(rig), "output/gain"]  # stored canonical
    assert rig.get("macro/0/target/0") == amount(rig) and rig.get("macro/0/target/0/curve") == "s"
    assert (rig.get("macro/0/target/1/min"), rig.get("macro/0/target/1/max")) == (0.0, -12.0)
    assert {c.source for c in changes if c.address.startswith("macro/0/")} == {"mapping"}
    rig.set("macro/0", 0.5)
    assert rig.get(amount(rig)) == pytest.approx(0.5) and rig.get("output/gain") == pytest.approx(-6.0)
    assert mod.describe()["macros"][0]["mapping"] == "nano.toml"


@pytest.mark.parametrize("targets, match", [
    ([{"address": "#3/0/amount"}, {"address": "#999/0/amount"}], r"macro/0/target/1: .*#999"),
    ([{"address": "output/gain", "max": 30}],
     r"macro/0/target/0/max must be in range -60\.\.12 \(the range of output/gain\), got 30"),
    ([{"address": "output/gain", "curve": "cubic"}], r"macro/0/target/0/curve must be one of linear, exp, log, s"),
    ([{"address": "bypass"}], r"macro/0/target/0"),
    ([{"address": "mix"}] * 9, r"macro/0 takes up to 8 targets, got 9"),
])
def test_a_bad_definition_changes_nothing(rig, mod, targets, match):
    define(mod, rig)
    before = (mod.macros[0].targets, mod.macros[0].base)
    with pytest.raises((ValueRangeError, AddressError), match=match):
        mod.define_macro(0, targets)
    assert (mod.macros[0].targets, mod.macros[0].base) == before
    with pytest.raises(ValueRangeError, match=r"macro must be in range 0\.\.7, got 8"):
        mod.define_macro(8, [{"address": "mix"}])


def test_scenes_keep_the_base_unless_they_say_otherwise(rig, mod, tmp_path):
    from performer.scenes.manager import SceneManager
    from performer.scenes.store import SceneStore

    scenes = SceneManager(rig, SceneStore(tmp_path / "scenes"))
    rig.set("scene/save", "before the mapping")  # no macros at all
    define(mod, rig)
    assert rig.state()["modulation"]["macros"] == {}  # the base is not a difference
    rig.set("macro/0/target/1", "")  # this scene has macro 0 without its gain target
    rig.set("macro/1/target/0", "mix")
    rig.set("scene/save", "own")
    rig.set("scene/recall", "before the mapping")
    assert rig.get("macro/0/target/1") == "output/gain" and rig.get("macro/0/target/0/min") == 0.2
    assert rig.get("macro/1/target/0") == ""
    rig.set("scene/recall", "own")
    assert rig.get("macro/0/target/0") == amount(rig) and rig.get("macro/0/target/1") == ""
    assert rig.get("macro/1/target/0") == "mix"
    mod.define_macro(0, [])  # a mapping without the macro any more: the base is empty again
    assert rig.get("macro/0/target/0") == "" and mod.macros[0].is_default()
    scenes.close()
