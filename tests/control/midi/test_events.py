"""ControlEvent, and the doctests of every module in performer.control.midi."""

from __future__ import annotations

import dataclasses
import doctest
import importlib

import pytest

from performer.control.midi import KINDS, RES7, RES14, ControlEvent

MODULES = ["events", "parser", "relative", "shaping", "takeover"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(f"performer.control.midi.{name}")
    result = doctest.testmod(module)
    assert result.failed == 0


def test_event_is_frozen_and_keyed() -> None:
    event = ControlEvent("cc", 3, 74, 127, RES7)
    assert event.normalised == 1.0
    assert event.key == ("cc", 3, 74)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.value = 0  # type: ignore[misc]


def test_kinds() -> None:
    assert KINDS == {"cc", "cc14", "nrpn", "rpn", "note", "pitchbend", "pressure", "polypressure", "program"}
    assert ControlEvent("pitchbend", 1, None, 8192, RES14).normalised == pytest.approx(0.5, abs=1e-4)
