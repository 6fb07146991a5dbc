"""LFO shapes, the step sequencer and macro curves: values at known points, repeatable randomness."""

import pytest

from performer.modulation.shapes import CURVES, LFO_SHAPES, curve, hash01, lfo, step


@pytest.mark.parametrize("shape, points", [
    ("sine", {0.0: 0.5, 0.25: 1.0, 0.5: 0.5, 0.75: 0.0}),
    ("triangle", {0.0: 0.5, 0.25: 1.0, 0.5: 0.5, 0.75: 0.0}),
    ("saw", {0.0: 0.0, 0.25: 0.25, 0.5: 0.5, 0.75: 0.75}),
    ("square", {0.0: 1.0, 0.25: 1.0, 0.5: 0.0, 0.75: 0.0}),
])
def test_periodic_shapes_at_quarter_cycles(shape, points):
    for c, expected in points.items():
        assert lfo(shape, c) == pytest.approx(expected, abs=1e-12)
        assert lfo(shape, c + 3) == pytest.approx(expected, abs=1e-12)  # periodic


@pytest.mark.parametrize("shape", LFO_SHAPES)
def test_every_shape_stays_in_unit_range(shape):
    values = [lfo(shape, i / 97.0, seed=5) for i in range(2000)]
    assert 0.0 <= min(values) and max(values) <= 1.0


def test_sample_and_hold_holds_within_a_cycle_and_repeats_per_seed():
    assert lfo("sh", 4.1, 7) == lfo("sh", 4.9, 7)
    assert lfo("sh", 4.1, 7) != lfo("sh", 5.1, 7)
    assert lfo("sh", 4.1, 7) != lfo("sh", 4.1, 8)
    assert [hash01(3, n) for n in range(5)] == [hash01(3, n) for n in range(5)]


def test_smooth_random_is_continuous_and_meets_the_held_values():
    assert lfo("smooth", 6.0, 1) == pytest.approx(lfo("sh", 6.0, 1))
    values = [lfo("smooth", 6 + i / 1000.0, 1) for i in range(3001)]
    assert max(abs(a - b) for a, b in zip(values, values[1:])) < 0.01


def test_steps_one_per_cycle_looping_over_length():
    steps = [0.1, 0.2, 0.3, 0.4] + [0.9] * 12
    assert [step(steps, 4, c + 0.5) for c in range(6)] == [0.1, 0.2, 0.3, 0.4, 0.1, 0.2]


@pytest.mark.parametrize("name", CURVES)
def test_curves_keep_their_ends(name):
    assert curve(name, 0.0) == 0.0 and curve(name, 1.0) == 1.0
    assert 0.0 < curve(name, 0.5) < 1.0
