"""Relative encoders: Ableton's four encodings as a table, detection, acceleration."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from performer.control.midi import ENCODINGS, Acceleration, decode_relative, detect_encoding

# Ableton's table (Live manual, "Mapping to Relative MIDI Controllers"):
#   Signed Bit   inc 1-64   dec 65-127 | Signed Bit 2  inc 65-127 dec 1-64
#   Bin Offset   inc 65-127 dec 63-1   | 2's Comp.     inc 1-64   dec 127-65
TABLE = [
    # encoding           value  delta
    ("twos_complement", 0, 0),
    ("twos_complement", 1, 1),
    ("twos_complement", 2, 2),
    ("twos_complement", 63, 63),
    ("twos_complement", 64, 64),
    ("twos_complement", 65, -63),
    ("twos_complement", 126, -2),
    ("twos_complement", 127, -1),
    ("binary_offset", 0, -64),
    ("binary_offset", 1, -63),
    ("binary_offset", 62, -2),
    ("binary_offset", 63, -1),
    ("binary_offset", 64, 0),
    ("binary_offset", 65, 1),
    ("binary_offset", 66, 2),
    ("binary_offset", 127, 63),
    ("signed_bit", 0, 0),
    ("signed_bit", 1, 1),
    ("signed_bit", 63, 63),
    ("signed_bit", 64, 64),
    ("signed_bit", 65, -1),
    ("signed_bit", 66, -2),
    ("signed_bit", 127, -63),
    ("signed_bit_2", 0, 0),
    ("signed_bit_2", 1, -1),
    ("signed_bit_2", 63, -63),
    ("signed_bit_2", 64, -64),
    ("signed_bit_2", 65, 1),
    ("signed_bit_2", 66, 2),
    ("signed_bit_2", 127, 63),
]

# Ableton's ranges: (increments, decrements) per encoding.
RANGES = {
    "signed_bit": (range(1, 65), range(65, 128)),
    "signed_bit_2": (range(65, 128), range(1, 65)),
    "binary_offset": (range(65, 128), range(1, 64)),
    "twos_complement": (range(1, 65), range(65, 128)),
}


@pytest.mark.parametrize(("encoding", "value", "delta"), TABLE)
def test_ableton_table(encoding: str, value: int, delta: int) -> None:
    assert decode_relative(value, encoding) == delta  # type: ignore[arg-type]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_value_falls_on_the_documented_side(encoding: str) -> None:
    increments, decrements = RANGES[encoding]
    for v in increments:
        assert decode_relative(v, encoding) > 0  # type: ignore[arg-type]
    for v in decrements:
        assert decode_relative(v, encoding) < 0  # type: ignore[arg-type]
    steps = [decode_relative(v, encoding) for v in range(128)]  # type: ignore[arg-type]
    assert len(set(steps)) == 128  # no two values mean the same step


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_one_step_each_way(encoding: str) -> None:
    """The smallest step either way exists in every encoding: what a slow turn sends."""
    steps = {decode_relative(v, encoding): v for v in range(128)}  # type: ignore[arg-type]
    assert 1 in steps and -1 in steps


@pytest.mark.parametrize(("value", "error"), [(-1, ValueError), (128, ValueError), (1.0, TypeError)])
def test_out_of_range_values_raise(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_relative(value, "twos_complement")  # type: ignore[arg-type]


def test_unknown_encoding_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="twos_complement, binary_offset, signed_bit, signed_bit_2"):
        decode_relative(1, "sign_magnitude")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("left_turn", "expected"),
    [
        ([127], "twos_complement"),
        ([127, 126, 127], "twos_complement"),
        ([63], "binary_offset"),
        ([63, 62], "binary_offset"),
        ([65], "signed_bit"),
        ([65, 66], "signed_bit"),
        ([1], "signed_bit_2"),
        ([1, 2], "signed_bit_2"),
        ([], None),
        ([64], "signed_bit_2"),
        ([0], "binary_offset"),  # 0 is binary offset's -64
        ([1, 127], None),  # no encoding reads both as a decrement
    ],
)
def test_detect_encoding_from_a_slow_left_turn(left_turn: list[int], expected: str | None) -> None:
    assert detect_encoding(left_turn) == expected


# --- acceleration ------------------------------------------------------------------------------

def test_linear_by_default() -> None:
    acc = Acceleration(steps_per_range=100)
    changes = [acc.step(d, t * 0.001) for t, d in enumerate([1, 1, 5, -3, 1])]
    assert changes == pytest.approx([0.01, 0.01, 0.05, -0.03, 0.01])


def turn(acc: Acceleration, interval: float, n: int, delta: int = 1, start: float = 0.0) -> list[float]:
    return [acc.step(delta, start + i * interval) for i in range(n)]


def test_slow_turns_stay_at_gain_one() -> None:
    acc = Acceleration(128, acceleration=1.0)
    assert turn(acc, 0.2, 10) == pytest.approx([1 / 128] * 10)  # 5 detents/s < reference 10/s


def test_fast_turns_get_bigger_steps_up_to_max_gain() -> None:
    acc = Acceleration(128, acceleration=1.0, max_gain=4.0)
    changes = turn(acc, 0.002, 200)  # 500 detents/s
    assert changes[0] == pytest.approx(1 / 128)
    assert all(b >= a for a, b in zip(changes, changes[1:]))
    assert changes[-1] == pytest.approx(4.0 / 128)


def test_gain_formula() -> None:
    acc = Acceleration(128, acceleration=0.5, reference_rate=10.0, max_gain=100.0, smoothing=1e-6)
    acc.step(1, 0.0)
    acc.step(1, 0.01)  # 100 detents/s; smoothing so short that the rate is the instant one
    assert acc.rate == pytest.approx(100.0)
    assert acc.gain() == pytest.approx((100.0 / 10.0) ** 0.5)


def test_direction_change_and_pause_reset_the_rate() -> None:
    acc = Acceleration(128, acceleration=1.0)
    turn(acc, 0.002, 50)
    assert acc.gain() > 1
    assert acc.step(-1, 0.1) == pytest.approx(-1 / 128)
    turn(acc, 0.002, 50, delta=-1, start=0.102)
    assert acc.step(-1, 10.0) == pytest.approx(-1 / 128)


def test_same_timestamp_does_not_spike() -> None:
    acc = Acceleration(128, acceleration=1.0)
    acc.step(1, 1.0)
    assert acc.step(1, 1.0) == pytest.approx(1 / 128)
    assert acc.step(0, 1.0) == 0.0


@given(st.lists(st.tuples(st.integers(-64, 64), st.floats(0, 0.3)), max_size=50), st.floats(0, 3))
@settings(max_examples=100, deadline=None)
def test_deterministic_and_bounded(events: list[tuple[int, float]], acceleration: float) -> None:
    def run() -> list[float]:
        acc = Acceleration(128, acceleration=acceleration)
        now, out = 0.0, []
        for delta, dt in events:
            now += dt
            out.append(acc.step(delta, now))
        return out

    first = run()
    assert first == run()
    for (delta, _), change in zip(events, first):
        assert abs(delta) / 128 <= abs(change) + 1e-12 <= abs(delta) * 8.0 / 128 + 2e-12
        assert change * delta >= 0


@pytest.mark.parametrize(
    "kwargs",
    [{"steps_per_range": 0}, {"acceleration": -1}, {"max_gain": 0.5}, {"reference_rate": 0}],
)
def test_bad_settings_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Acceleration(**kwargs)
