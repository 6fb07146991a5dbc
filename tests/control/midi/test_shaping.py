"""Shape: ranges, curves, inversion, steps, and the inverse used by takeover and feedback."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from performer.control.midi import CURVES, Shape

PROPS = settings(max_examples=300, deadline=None)

# Ranges a mapping might use: up to 1e4 in size, non-zero ends at least 1e-3 (ratios up to 1e7).
magnitudes = st.floats(1e-3, 1e4)
bounds = st.one_of(st.just(0.0), magnitudes, magnitudes.map(lambda v: -v))
positions = st.floats(0.0, 1.0, allow_nan=False)
curves = st.sampled_from(CURVES)
bases = st.one_of(st.none(), st.sampled_from([0.01, 0.5, 2.0, 10.0, 1000.0]))


@st.composite
def shapes(draw: st.DrawFn, step: bool = False) -> Shape:
    lo, hi = draw(bounds), draw(bounds)
    assume(abs(hi - lo) > 1e-3)
    return Shape(
        lo,
        hi,
        draw(curves),
        invert=draw(st.booleans()),
        step=draw(st.sampled_from([0.001, 0.25, 1.0, 7.0])) if step else 0.0,
        base=draw(bases),
    )


@pytest.mark.parametrize("curve", CURVES)
@pytest.mark.parametrize(("lo", "hi"), [(0.0, 1.0), (20.0, 20000.0), (-1.0, 1.0), (0.0, 10.0), (-60.0, 0.0),
                                        (5.0, -5.0), (-20.0, -2.0)])
def test_end_points(curve: str, lo: float, hi: float) -> None:
    shape = Shape(lo, hi, curve)  # type: ignore[arg-type]
    assert shape.apply(0.0) == pytest.approx(lo)
    assert shape.apply(1.0) == hi
    inverted = Shape(lo, hi, curve, invert=True)  # type: ignore[arg-type]
    assert inverted.apply(0.0) == hi
    assert inverted.apply(1.0) == pytest.approx(lo)


def test_linear_mid_point() -> None:
    assert Shape(-1.0, 1.0).apply(0.5) == 0.0
    assert Shape(10.0, 0.0).apply(0.25) == 7.5  # min > max runs backwards, as in Ableton


def test_exponential_is_geometric_for_same_signed_ranges() -> None:
    shape = Shape(20.0, 20000.0, "exponential")
    for x in (0.0, 0.25, 0.5, 0.75, 1.0):
        assert shape.apply(x) == pytest.approx(20.0 * 1000.0**x)
    negative = Shape(-20.0, -20000.0, "exponential")
    assert negative.apply(0.5) == pytest.approx(-20.0 * math.sqrt(1000.0))


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 10.0), (-1.0, 1.0), (-10.0, 0.0)])
def test_exponential_across_zero_uses_the_default_base(lo: float, hi: float) -> None:
    shape = Shape(lo, hi, "exponential")
    y = (100.0**0.5 - 1) / (100.0 - 1)  # the documented curve with b = 100
    assert shape.apply(0.5) == pytest.approx(lo + (hi - lo) * y)
    assert shape.apply(0.5) < (lo + hi) / 2  # fine control near min


def test_logarithmic_is_the_mirror_of_exponential() -> None:
    exp, log = Shape(0.0, 1.0, "exponential"), Shape(0.0, 1.0, "logarithmic")
    for x in (0.1, 0.3, 0.5, 0.9):
        assert log.apply(exp.apply(x)) == pytest.approx(x)
        assert log.apply(x) > x > exp.apply(x)


def test_explicit_base() -> None:
    assert Shape(20.0, 20000.0, "exponential", base=10.0).apply(0.5) == pytest.approx(
        20.0 + 19980.0 * (math.sqrt(10.0) - 1) / 9.0
    )


def test_steps_snap_from_min() -> None:
    shape = Shape(1.0, 11.0, step=3.0)  # grid 1, 4, 7, 10; 11 is off it, so not reached
    assert [shape.apply(x) for x in (0.0, 0.1, 0.2, 0.5, 0.9, 1.0)] == [1.0, 1.0, 4.0, 7.0, 10.0, 10.0]
    assert Shape(0.0, 1.0, step=0.5).apply(0.74) == 0.5


def test_out_of_range_and_nan_positions_are_clamped() -> None:
    shape = Shape(0.0, 10.0, "exponential")
    assert shape.apply(-3.0) == 0.0
    assert shape.apply(7.0) == 10.0
    assert shape.apply(math.nan) == 0.0
    assert shape.inverse(-5.0) == 0.0
    assert shape.inverse(50.0) == 1.0
    assert shape.inverse(math.nan) == 0.0


def test_degenerate_range() -> None:
    shape = Shape(3.0, 3.0, "exponential")
    assert shape.apply(0.7) == 3.0
    assert shape.inverse(3.0) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"curve": "cubic"},
        {"step": -1.0},
        {"min": math.inf},
        {"max": math.nan},
        {"min": -1e308, "max": 1e308},
        {"base": 1.0},
        {"base": 0.0},
        {"base": -2.0},
    ],
)
def test_bad_shapes_raise(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Shape(**kwargs)  # type: ignore[arg-type]


@given(shapes(), positions)
@PROPS
def test_inverse_round_trip_from_position(shape: Shape, x: float) -> None:
    value = shape.apply(x)
    assert shape.apply(shape.inverse(value)) == pytest.approx(value, rel=1e-9, abs=1e-9 * abs(shape.max - shape.min))


@given(shapes(), st.floats(0.0, 1.0))
@PROPS
def test_inverse_round_trip_from_value(shape: Shape, fraction: float) -> None:
    value = shape.min + (shape.max - shape.min) * fraction
    x = shape.inverse(value)
    assert 0.0 <= x <= 1.0
    assert shape.apply(x) == pytest.approx(value, rel=1e-7, abs=1e-7 * abs(shape.max - shape.min))


@given(shapes(step=True), positions)
@PROPS
def test_quantised_values_survive_the_round_trip(shape: Shape, x: float) -> None:
    value = shape.apply(x)
    assert shape.apply(shape.inverse(value)) == value
    lo, hi = sorted((shape.min, shape.max))
    assert lo <= value <= hi


@given(shapes(), positions, positions)
@PROPS
def test_monotonic(shape: Shape, a: float, b: float) -> None:
    a, b = sorted((a, b))
    rising = (shape.max > shape.min) != shape.invert
    va, vb = shape.apply(a), shape.apply(b)
    tolerance = 1e-9 * abs(shape.max - shape.min)
    assert (vb >= va - tolerance) if rising else (vb <= va + tolerance)


@given(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    curves,
    st.booleans(),
    positions,
)
@PROPS
def test_any_finite_range_stays_finite_and_inside(lo: float, hi: float, curve: str, invert: bool, x: float) -> None:
    assume(math.isfinite(hi - lo))
    shape = Shape(lo, hi, curve, invert=invert)  # type: ignore[arg-type]
    value = shape.apply(x)
    assert min(lo, hi) <= value <= max(lo, hi)
    assert 0.0 <= shape.inverse(value) <= 1.0
