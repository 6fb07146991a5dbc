"""The Rig: addresses, validation, change events, bends computed and installed between blocks."""

import threading

import pytest
import torch

from performer.errors import AddressError, ValueRangeError
from performer.rig import Rig

pytestmark = pytest.mark.fixtures


@pytest.fixture
def rig(small_model):
    return Rig(small_model)


def live(rig, index):
    return dict(rig.model.module.named_parameters())[rig.tensors[index].name]


def test_position_and_name_address_the_same_tensor(rig):
    name = rig.tensors[3].name
    rig.set("#3/0/amount", 0.25)
    assert rig.get(f"{name}/0/amount") == 0.25
    rig.set(f"{name}/0/percent", 0.5)
    assert rig.get("#3/0/percent") == 0.5


def test_new_slot_uses_default_transform_and_fillers_do_nothing(rig):
    rig.set("#3/2/amount", 0.5)
    chain = rig.chain(3)
    assert [s.transform for s in chain] == ["none", "none", "noise"]


def test_values_from_strings_are_coerced(rig):
    assert rig.set("#3/0/amount", "0.5") == 0.5
    assert rig.set("#3/0/seed", "12") == 12
    assert rig.set("#3/0/transform", "scale") == "scale"
    assert rig.set("#3/0/factor", "-3") == -3.0


@pytest.mark.parametrize("address,value,message", [
    ("#3/0/amount", 1.5, r"amount must be in range 0..1, got 1.5"),
    ("#3/0/percent", -0.1, r"percent must be in range 0..1"),
    ("#3/0/mode", "stripes", r"mode must be one of random, spread, channels"),
    ("#3/0/transform", "melt", r"transform must be one of .*scale.*invert"),
    ("#3/0/seed", 1.5, r"seed must be an integer"),
    ("#3/0/factor", 1.0, r"nor a parameter of 'noise' \(sigma\)"),
    ("#3/0/amount", "loud", r"must be a number, got 'loud'"),
    ("#3/0/amount", float("nan"), r"finite"),
    ("mix", 2, r"mix must be in range 0..1"),
    ("output/gain", 40, r"output/gain must be in range -60..12 \(dB\)"),
    ("latent/0/offset", 100, r"range -8..8"),
])
def test_invalid_values_name_what_is_valid_and_change_nothing(rig, address, value, message):
    before = rig.state()
    with pytest.raises(ValueRangeError, match=message):
        rig.set(address, value)
    assert rig.state() == before
    assert not rig.has_dirty


@pytest.mark.parametrize("address,message", [
    ("#999/0/amount", r"tensor position must be in range 0..60"),
    ("decoder.nope.weight/0/amount", r"no tensor named 'decoder.nope.weight'.*performer layers"),
    ("#3/8/amount", r"slot must be in range 0..7"),
    ("#3/x/amount", r"slot must be a number"),
    ("#3/0", r"expected <tensor>/<slot>/<field>"),
    ("latent/8/offset", r"latent index must be in range 0..7"),
    ("latent/0/tilt", r"latent/<0..7>/offset\|scale"),
    ("", r"non-empty string"),
])
def test_invalid_addresses_name_what_is_valid(rig, address, message):
    with pytest.raises(AddressError, match=message):
        rig.set(address, 1)


def test_change_events_carry_canonical_address_value_and_source(rig):
    seen = []
    rig.add_listener(seen.append)
    rig.set("#3/0/amount", 0.5, source="midi")
    rig.set("mix", 0.25)
    assert [(c.address, c.value, c.source) for c in seen] == [
        (f"{rig.tensors[3].name}/0/amount", 0.5, "midi"), ("mix", 0.25, "api")]


def test_failing_listener_does_not_break_set(rig):
    def broken(change):
        raise RuntimeError("boom")

    rig.add_listener(broken)
    assert rig.set("mix", 0.5) == 0.5


def test_bend_is_installed_only_by_install_pending(rig):
    original = live(rig, 5).detach().clone()
    rig.set("#5/0/transform", "invert")
    assert torch.equal(live(rig, 5), original)  # nothing touches the model on set()
    assert rig.compute_pending() == 1
    assert torch.equal(live(rig, 5), original)  # computed, published, not yet installed
    assert rig.install_pending() == 1
    assert torch.equal(live(rig, 5), -original)


def test_only_changed_tensors_are_recomputed(rig):
    rig.set("#5/0/transform", "invert")
    rig.set("#6/0/transform", "ablate")
    assert rig.compute_pending() == 2
    rig.set("#6/0/amount", 0.5)
    assert rig.compute_pending() == 1
    assert rig.compute_pending() == 0


def test_reset_restores_originals_bitwise(rig):
    originals = {i: live(rig, i).detach().clone() for i in (5, 6)}
    rig.set("#5/0/transform", "noise")
    rig.set("#6/0/transform", "shuffle")
    rig.compute_pending(), rig.install_pending()
    assert not torch.equal(live(rig, 5), originals[5])
    rig.set("#5/reset", 1)
    rig.compute_pending(), rig.install_pending()
    assert torch.equal(live(rig, 5), originals[5])
    rig.set("bends/reset", 1)
    rig.compute_pending(), rig.install_pending()
    assert all(torch.equal(live(rig, i), originals[i]) for i in originals)
    assert rig.state()["tensors"] == {}


def test_parameters_are_remembered_per_transform(rig):
    rig.set("#3/0/transform", "scale")
    rig.set("#3/0/factor", 5)
    rig.set("#3/0/transform", "noise")
    rig.set("#3/0/sigma", 0.3)
    rig.set("#3/0/transform", "scale")
    assert rig.get("#3/0/factor") == 5.0


def test_latent_bends_publish_audio_params(rig):
    assert rig.audio.latent_scale is None
    rig.set("latent/2/offset", 1.5)
    assert rig.audio.latent_offset.flatten()[2] == 1.5
    rig.set("latent/2/offset", 0)
    assert rig.audio.latent_scale is None  # identity again: forward path


def test_audio_params_are_replaced_only_when_a_block_would_sound_different(rig):
    """The model thread retakes a block when they are replaced: not for ``record`` or a same value."""
    before = rig.audio
    rig.set("record", 1)
    rig.set("mix", 1.0)
    assert rig.audio is before
    rig.set("latent/1/scale", 2.0)
    with_latent = rig.audio
    assert with_latent is not before
    rig.set("latent/1/scale", 2.0)
    assert rig.audio is with_latent  # equal tensors
    rig.set("mix", 0.5)
    assert rig.audio is not with_latent and rig.audio.mix == 0.5


def test_gains_are_stored_in_db_and_published_linear(rig):
    rig.set("output/gain", -6)
    assert rig.audio.output_gain == pytest.approx(10 ** (-6 / 20))


def test_concurrent_sets_and_computes_never_tear_or_crash(rig):
    errors = []

    def writer(seed):
        try:
            for i in range(200):
                rig.set(f"#{(seed + i) % 10}/0/amount", (i % 10) / 10)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for _ in range(50):
        rig.compute_pending()
        rig.install_pending()
    for t in threads:
        t.join()
    rig.compute_pending()
    rig.install_pending()
    assert not errors
    # final state installed: every tensor equals a fresh computation of its final chain
    for i in range(10):
        expected = rig.bank.compute(i, rig.chain(i))
        assert torch.equal(live(rig, i), expected)


def test_describe_addresses_lists_ranges(rig):
    spec = rig.describe_addresses()
    assert spec["globals"]["mix"]["max"] == 1.0
    assert "scale" in spec["transforms"] and spec["latent"]["size"] == 8
    assert len(spec["tensors"]) == len(rig.tensors)


def test_bank_selection_reaches_every_tensor_from_a_few_knobs(rig):

    count = len(rig.tensors)
    changes = []
    rig.add_listener(changes.append)
    assert rig.get("select/tensor") == 0
    rig.set("selected/0/transform", "scale")
    rig.set("selected+1/0/amount", 0.5)
    assert rig.chain(0)[0].transform == "scale" and rig.chain(1)[0].amount == 0.5
    assert rig.set("select/next", 8) == 8
    rig.set("selected/0/transform", "invert")
    assert rig.chain(8)[0].transform == "invert"
    assert changes[-1].address == f"{rig.tensors[8].name}/0/transform"  # canonical: the concrete tensor
    assert rig.set("select/next", 0) == 8  # a button's release moves nothing
    assert rig.set("select/prev", 9) == count - 1  # wraps
    rig.set("selected+1/0/transform", "scale")
    assert rig.chain(0)[0].transform == "scale"
    assert rig.set("select/tensor", rig.tensors[5].name) == 5
    assert rig.set("select/tensor", 3) == 3
    assert rig.state()["selected"] == 3
    assert [c.address for c in changes if c.source == "api"][-1] == "select/tensor"
    for bad in (count, -1, 1.5, "no.such.tensor"):
        with pytest.raises((ValueRangeError, AddressError)):
            rig.set("select/tensor", bad)
    with pytest.raises(ValueRangeError):
        rig.set("select/next", -2)
    assert rig.get("select/tensor") == 3  # failed sets change nothing


def test_load_state_swaps_everything_in_one_round_and_reports_the_rest(rig):
    rig.set("#0/0/transform", "scale")
    rig.set("#0/0/factor", 2.0)
    rig.set("#1/0/transform", "invert")
    rig.set("latent/0/offset", 1.5)
    rig.set("mix", 0.5)
    saved = rig.state()
    rig.compute_pending()
    rig.set("bends/reset", 1)
    rig.set("#2/0/transform", "ablate")
    rig.set("latent/0/offset", 0.0)
    rig.set("mix", 1.0)
    rig.set("record", 1)
    rig.compute_pending()
    changes = []
    rig.add_listener(changes.append)
    state = dict(saved, tensors=dict(saved["tensors"], **{"no.such.tensor": [], rig.tensors[3].name: [{"amount": 7}]}))
    report = rig.load_state(state, source="scene")
    assert rig.state()["tensors"] == saved["tensors"]  # #2 cleared, #3 (bad) left as it was (empty)
    assert rig.get("latent/0/offset") == 1.5 and rig.get("mix") == 0.5
    assert rig.get("record") == 1.0  # a recall never stops a recording
    assert any("no.such.tensor" in line for line in report) and any("amount" in line for line in report)
    assert rig.compute_pending() == 3  # #0, #1, #2 together, one round
    assert changes[0].address == "state" and changes[0].source == "scene"
    assert {c.address for c in changes[1:]} == {"latent/0/offset", "mix"}


def test_load_state_respects_locks(rig):
    rig.set("#0/0/transform", "scale")
    rig.set("mix", 0.3)
    rig.set("latent/1/offset", 2.0)
    rig.load_state({"tensors": {}, "latent": {"offset": [0.0] * rig.model.latent_size}, "globals": {"mix": 1.0}},
                   locks=["#0", "mix", "latent/1"])
    assert rig.chain(0)[0].transform == "scale" and rig.get("mix") == 0.3 and rig.get("latent/1/offset") == 2.0
    with pytest.raises(AddressError, match="lock 'nonsense'"):
        rig.load_state({}, locks=["nonsense"])


def test_a_swapped_out_model_keeps_its_bends_and_gets_them_back(rig, small_model_path):
    from performer.model import load_model

    first = rig.model
    rig.set("#3/0/transform", "invert")
    rig.set("#3/0/amount", 0.5)
    rig.set("mix", 0.7)
    rig.compute_pending(), rig.install_pending()
    bent = live(rig, 3).detach().clone()
    changes = []
    rig.add_listener(changes.append)

    other = load_model(small_model_path)  # a second copy: another model as far as the rig knows
    other.path = other.path.with_name("other.ts")
    rig.prepare_model(other)
    rig.switch_model(other, source="test")
    assert rig.model is other and rig.chain(3) == [] and rig.get("mix") == 0.7  # globals are the show's
    assert changes[-1].address == "model" and changes[-1].value == "other"
    rig.set("#5/0/transform", "ablate")
    assert rig.kept_model(first.path) is first

    rig.switch_model(first)
    assert rig.chain(3)[0].transform == "invert" and rig.get("#3/0/amount") == 0.5 and rig.chain(5) == []
    assert torch.equal(live(rig, 3), bent)  # still in its tensors: nothing to compute again
    rig.switch_model(rig.kept_model(other.path))
    assert rig.chain(5)[0].transform == "ablate"


def test_an_engine_keeps_its_model_while_the_rig_already_means_the_next(rig, small_model_path):
    import numpy as np

    from performer.audio.engine import BlockEngine
    from performer.model import load_model

    engine = BlockEngine(rig, compute_bends=False)
    other = load_model(small_model_path)
    other.path = other.path.with_name("other.ts")
    rig.prepare_model(other)
    rig.switch_model(other)
    rig.set("latent/0/scale", 2.0)  # the next model's latent bend: not for this engine's
    rig.set("#3/0/transform", "ablate")
    rig.compute_pending()
    out = engine.process_block(np.zeros((1, engine.block_size), dtype=np.float32))
    assert engine.model is not other and engine.stats.model_errors == 0 and out.shape[1] == engine.block_size
    assert engine.stats.tensors_installed == 0  # the next model's bends wait for its own engine
