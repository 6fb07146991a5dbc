"""Bend specs: TRANSFORM[:PARAM=VALUE...][@PERCENT], comma-separated."""

from __future__ import annotations

import pytest

from performer.errors import ValueRangeError
from performer.sensitivity.bends import DEFAULT_BENDS, parse_bend, parse_bends


def test_specs_parse_and_round_trip():
    bend = parse_bend("scale:factor=0@10")
    assert (bend.transform, bend.params, bend.percent) == ("scale", (("factor", 0.0),), 10.0)
    assert bend.spec == "scale:factor=0@10"
    assert parse_bend("noise").spec == "noise@100"
    assert parse_bend("roll:axis=taps:fraction=0.25@50%").spec == "roll:axis=taps:fraction=0.25@50"
    assert [b.spec for b in parse_bends(None)] == list(DEFAULT_BENDS)
    assert [b.spec for b in parse_bends(" invert@10 , noise ")] == ["invert@10", "noise@100"]


def test_addresses_put_one_slot_on_the_tensor():
    pairs = dict(parse_bend("noise:sigma=2@10").addresses(3))
    assert pairs == {"#3/0/transform": "noise", "#3/0/sigma": 2.0, "#3/0/amount": 1.0, "#3/0/percent": 0.1,
                     "#3/0/mode": "random", "#3/0/seed": 0}


@pytest.mark.parametrize("text, message", [
    ("wobble@10", "unknown transform 'wobble'; one of: scale"),
    ("none", "unknown transform 'none'"),
    ("noise@0", "range 0..100"),
    ("noise@lots", "must be a number 0..100"),
    ("noise:sigma", "written :NAME=VALUE"),
    ("noise:depth=1", "depth"),
    ("noise:sigma=99", "sigma must be in range 0..10"),
    ("noise@100,noise", "lists a bend twice"),
])
def test_errors_say_what_is_valid(text, message):
    with pytest.raises(ValueRangeError, match=message):
        parse_bends(text)
