"""Fades of the device output: in at the start, out at stop, by absolute output frame."""

from __future__ import annotations

import numpy as np

from performer.live.fades import Fades, fade_gains


def test_a_fade_is_a_raised_cosine_held_at_its_ends():
    down = fade_gains(-2, 14, 10)
    assert np.array_equal(down[:2], [1, 1]) and np.array_equal(down[-2:], [0, 0])
    assert np.all(np.diff(down) <= 0) and 0.99 < down[2] < 1 and 0 < down[11] < 0.01
    np.testing.assert_allclose(fade_gains(0, 10, 10, rising=True), 1 - fade_gains(0, 10, 10), atol=1e-7)
    # any split of a stretch gives the same gains: blocks and retakes line up
    np.testing.assert_array_equal(np.concatenate([fade_gains(0, 4, 10), fade_gains(4, 9, 10)]), fade_gains(0, 13, 10))


def test_gains_apply_where_the_fades_are_and_nowhere_else():
    fades = Fades(rate=1000, seconds=0.01)  # 10 frames
    fades.fade_in_from(100)
    assert fades.gains(110, 5) is None and not fades.fading_out
    block = np.ones((30, 2), np.float32)
    faded_in = fades.apply(95, block)
    assert not faded_in[:5].any() and faded_in[5, 0] < 0.05 and np.all(faded_in[15:] == 1)
    assert fades.apply(110, block) is block  # nothing to do: no copy
    fades.fade_out_from(120)
    out = fades.apply(110, block)
    assert np.all(out[:10] == 1) and out[10, 1] > 0.95 and not out[20:].any() and fades.fading_out
    # a stop during the fade-in: both apply; fade_in=False gives the fade-out alone
    fades.fade_out_from(104)
    both, down = fades.gains(100, 20), fades.gains(100, 20, fade_in=False)
    np.testing.assert_allclose(both, fade_gains(0, 20, 10, rising=True) * fade_gains(-4, 20, 10))
    np.testing.assert_allclose(down, fade_gains(-4, 20, 10))
