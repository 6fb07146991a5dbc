"""The modulation engine on a real Rig: offsets on top of the knobs, addresses, scenes, undo,
macros, bad input, and the thread's cost."""

import time

import pytest
import torch

from performer.errors import AddressError, ValueRangeError
from performer.modulation import Modulation, Tempo
from performer.rig import Rig
from performer.scenes.history import UndoHistory

from tests.modulation.conftest import amount

pytestmark = pytest.mark.fixtures


def test_modulated_value_is_knob_plus_offset_clamped_and_the_knob_keeps_its_value(rig, mod):
    rig.set(amount(rig), 0.5)
    mod.configure(0, "square", {amount(rig): 0.4})  # bipolar square: +1 for the first half cycle
    mod.tick(0.0)
    assert rig.modulated(amount(rig)) == pytest.approx(0.9)
    assert rig.get(amount(rig)) == 0.5
    assert rig.state()["tensors"][rig.tensors[3].name][0]["amount"] == 0.5
    rig.set(f"mod/0/target/0/depth", 1.0)
    mod.tick(0.1)
    assert rig.modulated(amount(rig)) == 1.0  # clamped to 0..1
    for t in (0.2, 0.3, 0.4, 0.5, 0.6):  # free LFOs advance at most 0.1 s per tick (MAX_DT_S)
        mod.tick(t)  # second half: -1
    assert rig.modulated(amount(rig)) == 0.0


def test_the_bend_computed_is_the_modulated_one(rig, mod):
    name = rig.tensors[3].name
    rig.set(f"{name}/0/transform", "scale")
    rig.set(f"{name}/0/amount", 0.2)
    mod.configure(0, "square", {f"{name}/0/amount": 0.5})
    mod.tick(0.0)
    rig.compute_pending()
    rig.install_pending()
    modulated = dict(rig.model.module.named_parameters())[name].detach().clone()
    mod.stop()  # offsets cleared: the knob's own bend
    rig.compute_pending()
    rig.install_pending()
    plain = dict(rig.model.module.named_parameters())[name].detach().clone()
    assert not torch.equal(modulated, plain)
    rig.set(f"{name}/0/amount", 0.7)  # the value the modulation reached
    rig.compute_pending()
    rig.install_pending()
    assert torch.allclose(dict(rig.model.module.named_parameters())[name], modulated)


def test_ticks_make_no_change_events_and_no_undo_entries(rig, mod):
    events = []
    history = UndoHistory(rig)
    mod.configure(0, "sine", {amount(rig): 0.3, "mix": -0.2, "latent/0/offset": 0.5}, rate=3.0)
    rig.add_listener(events.append)
    depth = history.undo_depth
    for i in range(50):
        mod.tick(i * 0.01)
    assert events == [] and history.undo_depth == depth
    assert rig.audio.mix != 1.0 and rig.get("mix") == 1.0
    assert rig.audio.latent_offset is not None


def test_settings_are_addresses_undoable_and_in_scenes(rig, mod):
    history = UndoHistory(rig)
    rig.set("mod/2/kind", "triangle")
    rig.set("mod/2/target/0", amount(rig))
    rig.set("mod/2/target/0/depth", -0.25)
    assert rig.get("mod/2/target/0/depth") == -0.25
    saved = rig.state()
    assert saved["modulation"]["modulators"]["2"]["targets"][0] == {"address": amount(rig), "depth": -0.25}
    assert history.undo()
    assert rig.get("mod/2/target/0/depth") == 0.5  # the default depth of a new target
    assert history.undo() and history.undo()
    assert rig.get("mod/2/kind") == "off"
    assert rig.load_state(saved) == []
    assert rig.get("mod/2/kind") == "triangle" and rig.get("mod/2/target/0/depth") == -0.25


def test_a_scene_with_a_missing_target_loads_the_rest_with_a_report(rig, mod):
    state = rig.state()
    state["modulation"] = {"modulators": {
        "0": {"kind": "saw", "rate": 2.0, "targets": [{"address": "decoder.nope.weight/0/amount", "depth": 0.3},
                                                      {"address": "mix", "depth": 0.1}]},
        "1": {"kind": "sine", "depth": 7}, "99": {"kind": "sine"}}}
    report = rig.load_state(state)
    assert any("mod/0/target/0" in r and "no tensor named 'decoder.nope.weight'" in r for r in report)
    assert any("mod/1/depth must be in range 0..1" in r for r in report)
    assert any("mod/99: no such mod" in r for r in report)
    assert rig.get("mod/0/kind") == "saw" and rig.get("mod/0/rate") == 2.0
    assert rig.get("mod/0/target/1") == "mix" and rig.get("mod/0/target/0") == ""
    assert rig.get("mod/1/kind") == "sine" and rig.get("mod/1/depth") == 1.0


@pytest.mark.parametrize("address, value, error, match", [
    ("mod/0/target/0", "decoder.nope.weight/0/amount", AddressError, "no tensor named"),
    ("mod/0/target/0", "#3/0/seed", AddressError, "only continuous addresses"),
    ("mod/0/target/0", "bypass", AddressError, "only continuous addresses"),
    ("mod/0/target/0", "mod/1/depth", AddressError, "is an action"),
    ("mod/0/depth", 1.5, ValueRangeError, r"mod/0/depth must be in range 0\.\.1"),
    ("mod/0/target/0/depth", 0.5, ValueRangeError, "has no address"),
    ("mod/0/kind", "wobble", ValueRangeError, "must be one of off, sine"),
    ("mod/0/beats", 64, ValueRangeError, r"0\.25\.\.32"),
    ("mod/0/value", 0.5, ValueRangeError, "read only"),
    ("macro/0", 2.0, ValueRangeError, r"macro/0 must be in range 0\.\.1"),
    ("tempo", 5000, ValueRangeError, r"20\.\.300 BPM"),
])
def test_bad_input_names_what_is_valid_and_changes_nothing(rig, mod, address, value, error, match):
    rig.set("mod/0/kind", "sine")
    events = []
    rig.add_listener(events.append)
    before = rig.state()
    with pytest.raises(error, match=match):
        rig.set(address, value)
    assert rig.state() == before and events == []


def test_a_bank_address_target_is_stored_canonical(rig, mod):
    rig.set("select/tensor", 5)
    assert rig.set("mod/0/target/0", "selected/0/percent") == f"{rig.tensors[5].name}/0/percent"


def test_beat_synced_lfo_is_phase_locked_to_the_tempo(rig):
    now = [0.0]
    mod = Modulation(rig, Tempo(bpm=120.0, now=lambda: now[0]))
    mod.configure(0, "saw", {"mix": -0.5}, sync=1, beats=2, polarity="unipolar")
    values = []
    for t in (0.0, 0.25, 0.5, 0.999):  # 120 BPM: 2 beats = 1 s
        mod.tick(t)
        values.append(mod.modulators[0].value)
    assert values == pytest.approx([0.0, 0.25, 0.5, 0.999], abs=1e-6)
    mod.close()


def test_free_rate_change_does_not_jump_the_phase(rig, mod):
    mod.configure(0, "saw", {"mix": -0.5}, rate=1.0, polarity="unipolar")
    for i in range(26):
        mod.tick(i * 0.01)
    before = mod.modulators[0].value
    rig.set("mod/0/rate", 10.0)
    mod.tick(0.26)
    assert mod.modulators[0].value == pytest.approx(before + 0.1, abs=1e-6)


def test_step_sequencer_and_envelope_from_the_input(rig, mod):
    import numpy as np

    for j, v in enumerate([0.0, 1.0, 0.5, 0.25]):
        rig.set(f"mod/0/step/{j}", v)
    mod.configure(0, "steps", {"mix": -0.5}, length=4, rate=10.0, phase=0.5, polarity="unipolar")
    seen = []
    for i in range(9):
        mod.tick(i * 0.1 + 0.05)
        seen.append(mod.modulators[0].value)
    assert seen[1:] == pytest.approx([1.0, 0.5, 0.25, 0.0, 1.0, 0.5, 0.25, 0.0])
    from performer.modulation.features import Features

    features = Features(48000)
    env = Modulation(rig, features=features, register=False)
    env.modulators[1].kind = "envelope"
    env.modulators[1].polarity = "unipolar"
    env.modulators[1].numbers.update(attack=1.0, release=100.0)
    from performer.modulation.modulator import Target
    env.modulators[1].targets[0] = Target("mix", -1.0, 1.0)
    features.push(np.full(480, 0.5, np.float32))
    env.tick(0.0)
    env.tick(0.01)
    assert env.modulators[1].value == pytest.approx(1 - 6.02 / 60, abs=0.02)  # fast attack
    features.push(np.zeros(480, np.float32))
    env.tick(0.02)
    assert 0.5 < env.modulators[1].value < 0.9  # slow release


def test_macro_sets_targets_over_their_ranges_as_one_undo_entry_per_drag(rig, mod):
    history = UndoHistory(rig)
    rig.set("macro/0/target/0", amount(rig))
    rig.set("macro/0/target/0/min", 0.2)
    rig.set("macro/0/target/0/max", 0.6)
    rig.set("macro/0/target/1", "output/gain")
    rig.set("macro/0/target/1/curve", "exp")
    depth = history.undo_depth
    for x in (0.1, 0.3, 0.5):
        rig.set("macro/0", x, source="midi")
    assert rig.get(amount(rig)) == pytest.approx(0.4)
    assert rig.get("output/gain") == pytest.approx(-60 + 72 * 0.25)
    assert history.undo_depth == depth + 1
    history.undo()
    assert rig.get("output/gain") == 0.0
    with pytest.raises(ValueRangeError, match=r"range 0\.\.1 \(the range of"):
        rig.set("macro/0/target/0/max", 3)


def test_tempo_addresses(rig, mod):
    assert rig.set("tempo", "133") == 133.0
    assert rig.get("tempo") == 133.0
    assert rig.set("tempo/source", 1) == "midi"
    with pytest.raises(ValueRangeError, match="follows the MIDI clock"):
        rig.set("tempo", 100)
    assert rig.set("tempo/source", "internal") == "internal"
    assert rig.get("tempo") == pytest.approx(120.0)  # the MIDI clock's held tempo


def test_the_thread_ticks_at_its_rate_and_stop_clears_the_offsets(rig):
    mod = Modulation(rig, rate_hz=200.0)
    mod.configure(0, "sine", {"mix": -0.5}, rate=5.0)
    mod.start()
    time.sleep(0.5)
    mod.stop()
    stats = mod.stats()
    assert 60 <= stats["ticks"] <= 110
    assert stats["tick_us_p50"] < 2000
    assert rig.audio.mix == 1.0
    mod.close()
    with pytest.raises(AddressError):
        rig.set("mod/0/kind", "sine")  # unregistered: the addresses are gone


def test_a_transform_parameter_is_modulated_within_its_range_and_only_while_the_slot_has_it(rig, mod):
    name = rig.tensors[3].name
    rig.set(f"{name}/0/transform", "scale")
    rig.set(f"{name}/0/factor", 9.0)
    mod.configure(0, "square", {f"{name}/0/factor": 0.25})  # a quarter of -10..10: +5
    mod.tick(0.0)
    assert rig.modulated(f"{name}/0/factor") == 10.0 and rig.get(f"{name}/0/factor") == 9.0
    rig.set(f"{name}/0/transform", "noise")  # noise has no factor: the offset waits, harmlessly
    mod.tick(0.01)
    assert rig.compute_pending() >= 1
    with pytest.raises(AddressError, match="only continuous"):
        rig.set("mod/1/target/0", f"{name}/0/source")  # a path parameter


def test_tensor_targets_follow_at_the_tensor_rate_and_globals_every_tick(rig):
    mod = Modulation(rig, rate_hz=100.0, tensor_rate_hz=25.0)
    rig.set(amount(rig), 0.5)
    mod.configure(0, "saw", {amount(rig): 0.5, "mix": -0.5}, rate=1.0, polarity="unipolar")
    recomputes = 0
    heard_amount, heard_mix = [], []
    for i in range(20):
        mod.tick(i * 0.01)
        recomputes += rig.compute_pending()
        heard_amount.append(rig.modulated(amount(rig)))
        heard_mix.append(rig.audio.mix)
    assert recomputes == 5  # 0.2 s at 25 Hz
    assert len(set(heard_mix)) == 20
    assert len(set(heard_amount)) == 5
    mod.close()


def test_a_saved_scene_recalls_its_modulators_and_a_scene_without_them_clears_them(rig, mod, tmp_path):
    from performer.scenes.manager import SceneManager
    from performer.scenes.store import SceneStore

    scenes = SceneManager(rig, SceneStore(tmp_path / "scenes"))
    rig.set("scene/save", "plain")
    mod.configure(3, "sh", {amount(rig): 0.2}, sync=1, beats=0.5)
    rig.set("scene/save", "wobbly")
    rig.set("scene/recall", "plain")
    assert rig.get("mod/3/kind") == "off" and rig.get("mod/3/target/0") == ""
    rig.set("scene/recall", "wobbly")
    assert rig.get("mod/3/kind") == "sh" and rig.get("mod/3/beats") == 0.5
    assert rig.get("mod/3/target/0") == amount(rig)
    assert scenes.last_report == []
    scenes.close()
