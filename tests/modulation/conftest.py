"""A real Rig on the small fixture model and a Modulation engine on it, at a still 120 bpm."""

import pytest

from performer.modulation import Modulation, Tempo
from performer.rig import Rig


@pytest.fixture
def rig(small_model):
    return Rig(small_model)


@pytest.fixture
def mod(rig):
    m = Modulation(rig, Tempo(bpm=120.0, now=lambda: 0.0))
    yield m
    m.close()


def amount(rig, i=3, slot=0):
    """The amount address of tensor ``i``'s transform in ``slot``."""
    return f"{rig.tensors[i].name}/{slot}/amount"
