"""Takeover: Mixxx's soft-takeover truth table, its corner cases, and Ableton's value scaling."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from performer.control.midi import Takeover
from performer.control.midi.takeover import DEFAULT_THRESHOLD


def pot(value: float) -> float:
    """Mixxx's test pot spans -250..250; its tests use these units."""
    return (value + 250.0) / 500.0


CURRENT = pot(50)  # Mixxx SoftTakeoverTestWithValue sets the control to 50
PREV = {"NearLess": 40, "NearMore": 55, "FarLess": -50, "FarMore": 120}
NEW = {"NearLess": 45, "NearMore": 60, "FarLess": 1, "FarMore": 100}
SOON, LATE = 0.010, 1.0

# Mixxx's 32 cases (src/test/softtakeover_test.cpp, SoftTakeoverTestWithValue): whether the
# new value is ignored. Eight of these tests are DISABLED in Mixxx, which states "ignore" for
# them while its implementation accepts; we follow the implementation, and say why:
#   crossing: prev and new lie on opposite sides of current; the control passed the value
#             (the Deluge firmware's bug #427 is what ignoring these gives);
#   whip:     less than 50 ms since the last accepted value;
#   near prev: prev was within the threshold: the control was already at the value.
IGNORED = {("FarLess", "FarLess", LATE), ("FarMore", "FarMore", LATE)}
MIXXX_DISABLED = {
    ("NearLess", "FarLess", LATE): "near prev",
    ("NearLess", "FarMore", LATE): "crossing",
    ("NearMore", "FarLess", LATE): "crossing",
    ("NearMore", "FarMore", LATE): "near prev",
    ("FarLess", "FarLess", SOON): "whip",
    ("FarLess", "FarMore", LATE): "crossing",
    ("FarMore", "FarMore", SOON): "whip",
    ("FarMore", "FarLess", LATE): "crossing",
}
CASES = [
    pytest.param(
        prev, new, when, (prev, new, when) in IGNORED, id=f"Prev{prev}_New{new}_{'Soon' if when == SOON else 'Late'}"
    )
    for prev in PREV
    for new in NEW
    for when in (SOON, LATE)
]


def primed(prev: str) -> Takeover:
    """The control was at ``prev`` and in charge (accepted at t=0); then the target moved to 50 elsewhere."""
    takeover = Takeover("pickup")
    assert takeover.feed(pot(PREV[prev]), current=pot(PREV[prev]), now=0.0) == pot(PREV[prev])
    return takeover


def test_the_table_has_32_cases() -> None:
    assert len(CASES) == 32
    assert all(case in {(p, n, w) for p in PREV for n in NEW for w in (SOON, LATE)} for case in MIXXX_DISABLED)
    assert not IGNORED & MIXXX_DISABLED.keys()  # we accept every case Mixxx's implementation accepts


def test_factors_are_what_the_names_say() -> None:
    for name, value in {**{f"p{k}": v for k, v in PREV.items()}, **{f"n{k}": v for k, v in NEW.items()}}.items():
        near = abs(pot(value) - CURRENT) <= DEFAULT_THRESHOLD
        assert near == ("Near" in name)
        assert (pot(value) < CURRENT) == ("Less" in name)


@pytest.mark.parametrize(("prev", "new", "when", "ignored"), CASES)
def test_mixxx_truth_table(prev: str, new: str, when: float, ignored: bool) -> None:
    takeover = primed(prev)
    result = takeover.feed(pot(NEW[new]), current=CURRENT, now=when)
    assert (result is None) == ignored
    if not ignored:
        assert result == pot(NEW[new])


@pytest.mark.parametrize(("prev", "new", "when", "ignored"), CASES)
def test_external_change_ends_the_whip_window(prev: str, new: str, when: float, ignored: bool) -> None:
    """After note_external_change() "soon" counts as "late"."""
    takeover = primed(prev)
    takeover.note_external_change()
    result = takeover.feed(pot(NEW[new]), current=CURRENT, now=when)
    assert (result is None) == ((prev, new, LATE) in IGNORED)


def test_whip_window_is_50_ms_from_the_last_accepted_value() -> None:
    takeover = primed("FarLess")
    assert takeover.feed(pot(1), current=CURRENT, now=0.0499) is not None
    takeover = primed("FarLess")
    assert takeover.feed(pot(1), current=CURRENT, now=0.050) is None
    # An ignored value does not open the window.
    assert takeover.feed(pot(2), current=CURRENT, now=0.060) is None


def test_first_value_far_is_ignored_near_is_taken() -> None:
    """Mixxx IgnoresFirstValue; DoesntIgnoreSameValue, except that we take a near first value at once."""
    assert Takeover("pickup").feed(0.9, current=0.5, now=0.0) is None
    takeover = Takeover("pickup")
    assert takeover.feed(0.51, current=0.5, now=0.0) == 0.51
    takeover = Takeover("pickup")
    assert takeover.feed(0.1, current=0.5, now=0.0) is None
    assert takeover.feed(0.11, current=0.5, now=5.0) is None  # still far, same side
    assert takeover.feed(0.5, current=0.5, now=6.0) == 0.5


def test_super_fast_prev_equal_to_current() -> None:
    """Mixxx SuperFastPrevEqCurrent: from a standstill at the value, a whip anywhere is taken."""
    takeover = Takeover("pickup")
    assert takeover.feed(pot(-250), current=pot(-250), now=0.0) is not None
    assert takeover.feed(pot(200), current=pot(-250), now=10.0) == pot(200)
    assert takeover.feed(pot(250), current=pot(250), now=10.0) is not None
    assert takeover.feed(pot(-200), current=pot(250), now=20.0) == pot(-200)


def test_catch_out_of_bounds() -> None:
    """Mixxx CatchOutOfBounds: a target beyond the control's reach is caught at the end stop."""
    takeover = Takeover("pickup")
    takeover.feed(pot(45), current=pot(50), now=0.0)
    assert takeover.feed(pot(55), current=pot(50), now=0.01) is not None
    current = pot(300)  # 1.1: out of the control's range
    assert takeover.feed(pot(60), current=current, now=1.0) is None
    assert takeover.feed(pot(40), current=current, now=2.0) is None
    assert takeover.feed(pot(-250), current=current, now=3.0) is None
    assert takeover.feed(pot(250), current=current, now=4.0) == 1.0


def test_deluge_bug_427_a_move_across_the_value_picks_it_up() -> None:
    """Coarse steps that jump over the value, slowly, must still pick it up."""
    takeover = Takeover("pickup")
    current, results = 0.5, []
    for t, x in enumerate([0.30, 0.40, 0.47, 0.53, 0.60]):
        results.append(takeover.feed(x, current=current, now=float(t)))
        current = results[-1] if results[-1] is not None else current
    assert results == [None, None, None, 0.53, 0.60]


def test_picked_up_control_follows_until_the_target_moves_elsewhere() -> None:
    takeover = Takeover("pickup")
    current = 0.5
    for t, x in enumerate([0.5, 0.7, 0.9, 0.1]):  # once in charge even big jumps go through
        result = takeover.feed(x, current=current, now=float(t))
        assert result == x
        current = result
    takeover.note_external_change()
    assert takeover.feed(0.15, current=0.8, now=10.0) is None


def test_reset_forgets_the_previous_value() -> None:
    takeover = Takeover("pickup")
    takeover.feed(0.2, current=0.5, now=0.0)
    takeover.reset()
    assert takeover.feed(0.8, current=0.5, now=1.0) is None  # no prev: no crossing to see


def test_mode_none_passes_everything() -> None:
    takeover = Takeover("none")
    assert [takeover.feed(x, current=0.5, now=0.0) for x in (0.0, 1.0, 0.3)] == [0.0, 1.0, 0.3]
    assert takeover.feed(1.5, current=0.5, now=0.0) == 1.0  # clamped


# --- value scaling -------------------------------------------------------------------------------

def test_scaling_moves_proportionally_and_meets_at_the_end() -> None:
    takeover = Takeover("scaling")
    assert takeover.feed(0.2, current=0.8, now=0.0) is None  # no previous position yet
    value = 0.8
    out = []
    for x in (0.4, 0.6, 0.8, 1.0):
        value = takeover.feed(x, current=value, now=0.0)
        out.append(value)
    # v' = v + (c - p) * (1 - v) / (1 - p): the gap shrinks in proportion to the travel left.
    assert out == pytest.approx([0.85, 0.9, 0.95, 1.0])


def test_scaling_downwards() -> None:
    takeover = Takeover("scaling")
    takeover.feed(0.2, current=0.8, now=0.0)
    # v' = v - (p - c) * v / p
    assert takeover.feed(0.1, current=0.8, now=0.0) == pytest.approx(0.4)
    assert takeover.feed(0.0, current=0.4, now=0.0) == pytest.approx(0.0)


def test_scaling_tracks_once_equal_or_crossed() -> None:
    takeover = Takeover("scaling")
    takeover.feed(0.2, current=0.3, now=0.0)
    assert takeover.feed(0.5, current=0.3, now=0.0) == 0.5  # crossed the value: 1:1 from here
    assert takeover.feed(0.6, current=0.5, now=0.0) == 0.6
    assert takeover.feed(0.4, current=0.6, now=0.0) == pytest.approx(0.4)  # v == p: the formula is 1:1
    takeover.feed(0.2, current=0.8, now=0.0)
    assert takeover.feed(0.79, current=0.8, now=0.0) == 0.79  # within the threshold: snaps to 1:1


def test_scaling_ignores_a_still_control() -> None:
    takeover = Takeover("scaling")
    takeover.feed(0.2, current=0.8, now=0.0)
    assert takeover.feed(0.2, current=0.8, now=1.0) is None


@given(
    st.floats(0.0, 1.0),
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40),
)
@settings(max_examples=200, deadline=None)
def test_scaling_moves_with_the_control_and_never_past_it(start: float, positions: list[float]) -> None:
    takeover = Takeover("scaling")
    value = start
    prev = None
    for x in positions:
        result = takeover.feed(x, current=value, now=0.0)
        if result is not None:
            assert 0.0 <= result <= 1.0
            if abs(x - value) > DEFAULT_THRESHOLD and prev is not None:
                assert (result - value) * (x - prev) >= -1e-12  # same direction as the control
                assert (value - x) * (result - x) >= -1e-12  # never overshoots the control
            value = result
        prev = x
    if positions[-1] in (0.0, 1.0) and len(positions) > 1 and positions[-2] != positions[-1]:
        assert value == pytest.approx(positions[-1])  # at the end stop they meet


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"mode": "jump"}, "none, pickup, scaling"), ({"threshold": 1.0}, "threshold"), ({"whip_time": -1}, "whip")],
)
def test_bad_settings_raise(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Takeover(**kwargs)  # type: ignore[arg-type]
