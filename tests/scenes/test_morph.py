"""Morph: exact endpoints, continuous fields interpolated, categorical ones switched at 0.5,
different transforms crossing through silence; applied to a real Rig."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from performer.rig import Rig
from performer.scenes.morph import morph_state

A = {"tensors": {"t0": [{"transform": "scale", "amount": 0.2, "percent": 1.0, "mode": "random", "seed": 1,
                         "bypass": False, "params": {"scale": {"factor": 1.0}}}],
                 "t1": [{"transform": "invert", "amount": 1.0, "percent": 1.0, "mode": "random", "seed": 0,
                         "bypass": False, "params": {}}]},
     "latent": {"scale": [1.0, 1.0], "offset": [0.0, 2.0]},
     "globals": {"mix": 1.0, "input/gain": 0.0, "output/gain": 0.0, "bypass": 0.0}, "selected": 0}
B = {"tensors": {"t0": [{"transform": "scale", "amount": 0.6, "percent": 0.5, "mode": "structured", "seed": 9,
                         "bypass": False, "params": {"scale": {"factor": 3.0}}}],
                 "t1": [{"transform": "ablate", "amount": 0.5, "percent": 1.0, "mode": "random", "seed": 0,
                         "bypass": False, "params": {}}],
                 "t2": [{"transform": "noise", "amount": 0.8, "percent": 1.0, "mode": "random", "seed": 0,
                         "bypass": False, "params": {}}]},
     "latent": {"scale": [2.0, 1.0], "offset": [1.0, 0.0]},
     "globals": {"mix": 0.0, "input/gain": -6.0, "output/gain": 6.0, "bypass": 1.0}, "selected": 4}


def test_endpoints_are_the_scenes_exactly():
    assert morph_state(A, B, 0.0) == A and morph_state(A, B, 1.0) == B


def test_continuous_fields_interpolate_and_categorical_switch_at_half():
    quarter = morph_state(A, B, 0.25)
    t0 = quarter["tensors"]["t0"][0]
    assert t0["amount"] == pytest.approx(0.3) and t0["percent"] == pytest.approx(0.875)
    assert t0["params"]["scale"]["factor"] == pytest.approx(1.5)
    assert t0["mode"] == "random" and t0["seed"] == 1
    assert morph_state(A, B, 0.5)["tensors"]["t0"][0]["mode"] == "structured"
    assert quarter["globals"]["mix"] == pytest.approx(0.75) and quarter["globals"]["bypass"] == 0.0
    assert morph_state(A, B, 0.75)["globals"]["bypass"] == 1.0
    assert quarter["latent"]["offset"] == pytest.approx([0.25, 1.5])


def test_different_transforms_cross_through_silence():
    amounts = [(morph_state(A, B, x)["tensors"]["t1"][0]["transform"], morph_state(A, B, x)["tensors"]["t1"][0]["amount"])
               for x in (0.1, 0.49, 0.5, 0.9)]
    assert amounts[0] == ("invert", pytest.approx(0.8)) and amounts[1][0] == "invert" and amounts[1][1] < 0.03
    assert amounts[2] == ("ablate", 0.0) and amounts[3] == ("ablate", pytest.approx(0.4))
    t2 = morph_state(A, B, 0.25)["tensors"]["t2"][0]  # only in B: faded in from amount 0
    assert t2["transform"] == "noise" and t2["amount"] == pytest.approx(0.2)


@given(st.floats(0, 1))
def test_every_position_gives_valid_amounts(x):
    state = morph_state(A, B, x)
    for chain in state["tensors"].values():
        for slot in chain:
            assert 0.0 <= slot["amount"] <= 1.0 and 0.0 <= slot["percent"] <= 1.0


@pytest.mark.fixtures
def test_a_morph_sweep_loads_cleanly_into_a_real_rig(small_model):
    rig = Rig(small_model)
    rig.set("#0/0/transform", "scale")
    rig.set("#0/0/factor", 0.5)
    rig.set("#1/0/transform", "invert")
    a = rig.state()
    rig.set("bends/reset", 1)
    rig.set("#0/0/transform", "scale")
    rig.set("#0/0/factor", 2.0)
    rig.set("#2/0/transform", "ablate")
    rig.set("mix", 0.5)
    b = rig.state()
    for step in range(101):
        assert rig.load_state(morph_state(a, b, step / 100), source="morph") == []
    assert rig.state()["tensors"] == b["tensors"] and rig.get("mix") == 0.5
    rig.load_state(morph_state(a, b, 0.0))
    assert rig.state()["tensors"] == a["tensors"]
