"""Nested, seeded masks: draw_ranks, threshold, spread_order and MaskBank."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from performer.bending.masks import MASK_MODES, MaskBank, draw_ranks, spread_order, threshold
from performer.bending.randomness import DrawCache

NAME = "decoder.net.0.weight"
PROPS = settings(max_examples=40, deadline=None)

shapes = st.lists(st.integers(1, 9), min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2**31 - 1)
percents = st.floats(0.0, 1.0, allow_nan=False)


def new_bank() -> MaskBank:
    return MaskBank(DrawCache(1 << 24))


def full_mask(bank: MaskBank, shape, mode, seed, axis, percent) -> torch.Tensor:
    """MaskBank.mask with its ``None`` ("every element") made explicit."""
    mask = bank.mask(NAME, shape, mode, seed, axis, percent)
    if mask is None:
        return torch.ones(shape, dtype=torch.bool)
    return as_bool(mask, shape)


def as_bool(mask: torch.Tensor, shape) -> torch.Tensor:
    """A mask (boolean, or numeric 0/1 weights for a lerp blend) as booleans, checked."""
    assert tuple(mask.shape) == tuple(shape)
    if mask.dtype == torch.bool:
        return mask
    assert ((mask == 0) | (mask == 1)).all(), "a numeric mask must hold only 0 and 1"
    return mask != 0


def axes_for(shape):
    return st.integers(0, len(shape) - 1)


# -- threshold -------------------------------------------------------------------------------

@pytest.mark.parametrize("percent,levels,expected", [
    (0.0, 10, 0), (1.0, 10, 10), (0.5, 10, 5), (0.14, 10, 1), (0.16, 10, 2), (0.1, 1000, 100),
    (1.5, 10, 10), (-0.5, 10, 0), (0.5, 0, 0), (0.3, 1, 0), (0.7, 1, 1),
])
def test_threshold(percent, levels, expected):
    assert threshold(percent, levels) == expected


@PROPS
@given(p1=percents, p2=percents, levels=st.integers(0, 10_000))
def test_threshold_monotonic_and_bounded(p1, p2, levels):
    lo, hi = sorted((p1, p2))
    assert 0 <= threshold(lo, levels) <= threshold(hi, levels) <= levels
    assert threshold(hi, levels) == round(hi * levels)


# -- ranks -------------------------------------------------------------------------------------

@PROPS
@given(shape=shapes, seed=seeds, mode=st.sampled_from(("random", "spread")))
def test_element_ranks_are_a_permutation(shape, seed, mode):
    ranks, levels = draw_ranks(NAME, shape, mode, seed, 0)
    n = int(np.prod(shape))
    assert levels == n
    assert ranks.dtype == torch.int32 and tuple(ranks.shape) == shape
    assert sorted(ranks.reshape(-1).tolist()) == list(range(n))


@PROPS
@given(shape=shapes, seed=seeds, data=st.data())
def test_channel_ranks_constant_per_channel(shape, seed, data):
    axis = data.draw(axes_for(shape))
    ranks, levels = draw_ranks(NAME, shape, "channels", seed, axis)
    assert levels == shape[axis]
    assert tuple(ranks.shape) == shape
    moved = ranks.movedim(axis, 0).reshape(shape[axis], -1)
    assert (moved == moved[:, :1]).all(), "a channel must have one rank"
    assert sorted(moved[:, 0].tolist()) == list(range(shape[axis]))


@pytest.mark.parametrize("mode", MASK_MODES)
def test_ranks_are_reproducible(mode):
    shape = (12, 5, 3)
    a, _ = draw_ranks(NAME, shape, mode, 42, 0)
    b, _ = draw_ranks(NAME, shape, mode, 42, 0)
    assert torch.equal(a, b)


def test_invalid_mode_raises():
    with pytest.raises(ValueError, match="random, spread, channels"):
        draw_ranks(NAME, (4, 3), "diagonal", 0, 0)
    with pytest.raises(ValueError):
        new_bank().mask(NAME, (4, 3), "nope", 0, 0, 0.5)
    with pytest.raises(ValueError):  # even for an empty tensor
        draw_ranks(NAME, (0, 3), "nope", 0, 0)


# -- masks: nesting, counts, seeds ---------------------------------------------------------

@PROPS
@given(shape=shapes, seed=seeds, p1=percents, p2=percents, mode=st.sampled_from(MASK_MODES), data=st.data())
def test_masks_are_nested(shape, seed, p1, p2, mode, data):
    axis = data.draw(axes_for(shape))
    lo, hi = sorted((p1, p2))
    bank = new_bank()
    small = full_mask(bank, shape, mode, seed, axis, lo)
    big = full_mask(bank, shape, mode, seed, axis, hi)
    assert not (small & ~big).any(), "raising percent removed an element"
    # The same through draw_ranks directly, from a cold start.
    ranks, levels = draw_ranks(NAME, shape, mode, seed, axis)
    assert torch.equal(small, ranks < threshold(lo, levels))
    assert torch.equal(big, ranks < threshold(hi, levels))


@PROPS
@given(shape=shapes, seed=seeds, percent=percents, mode=st.sampled_from(("random", "spread")))
def test_element_mask_count(shape, seed, percent, mode):
    n = int(np.prod(shape))
    mask = full_mask(new_bank(), shape, mode, seed, 0, percent)
    assert int(mask.sum()) == round(percent * n)


@PROPS
@given(shape=st.lists(st.integers(1, 9), min_size=2, max_size=3).map(tuple), seed=seeds, percent=percents,
       axis=st.sampled_from([0, 1]))
def test_channel_mask_selects_whole_channels(shape, seed, percent, axis):
    mask = full_mask(new_bank(), shape, "channels", seed, axis, percent)
    channels = shape[axis]
    k = round(percent * channels)
    per_channel = mask.movedim(axis, 0).reshape(channels, -1)
    assert (per_channel.all(dim=1) | ~per_channel.any(dim=1)).all(), "a channel partly selected"
    assert int(per_channel.all(dim=1).sum()) == k
    assert int(mask.sum()) == k * (mask.numel() // channels)


@pytest.mark.parametrize("axis", [0, 1])
def test_channel_mask_along_axis_concrete(axis):
    shape = (8, 6, 3)
    mask = full_mask(new_bank(), shape, "channels", 5, axis, 0.5)
    other = 1 - axis
    # Constant along every axis but the channel axis.
    assert (mask == mask.select(other, 0).unsqueeze(other)).all()
    assert (mask == mask[..., :1]).all()
    assert int(mask.any(dim=2).any(dim=other).sum()) == round(0.5 * shape[axis])


@PROPS
@given(shape=shapes, seed=seeds, percent=percents, mode=st.sampled_from(MASK_MODES), data=st.data())
def test_same_seed_same_mask(shape, seed, percent, mode, data):
    axis = data.draw(axes_for(shape))
    a = full_mask(new_bank(), shape, mode, seed, axis, percent)
    b = full_mask(new_bank(), shape, mode, seed, axis, percent)
    assert torch.equal(a, b)


@pytest.mark.parametrize("mode,shape", [("random", (64, 32, 3)), ("spread", (64, 32, 3)),
                                        ("spread", (1000,)), ("channels", (64, 32, 3))])
@pytest.mark.parametrize("percent", [0.1, 0.3, 0.7])
def test_different_seeds_different_masks(mode, shape, percent):
    masks = [full_mask(new_bank(), shape, mode, seed, 0, percent) for seed in range(6)]
    for i in range(len(masks)):
        for j in range(i + 1, len(masks)):
            assert not torch.equal(masks[i], masks[j]), f"seeds {i} and {j} gave the same mask"


def test_different_tensors_different_masks():
    bank = new_bank()
    a = bank.mask("a.weight", (64, 32), "random", 0, 0, 0.5)
    b = bank.mask("b.weight", (64, 32), "random", 0, 0, 0.5)
    assert not torch.equal(as_bool(a, (64, 32)), as_bool(b, (64, 32)))


@pytest.mark.parametrize("mode", MASK_MODES)
def test_full_and_empty_percent(mode):
    bank = new_bank()
    assert bank.mask(NAME, (6, 4, 3), mode, 1, 0, 1.0) is None
    zero = bank.mask(NAME, (6, 4, 3), mode, 1, 0, 0.0)
    assert zero is not None and not as_bool(zero, (6, 4, 3)).any()


@pytest.mark.parametrize("mode", MASK_MODES)
def test_maskbank_caches_and_levels_stay_consistent(mode):
    bank = new_bank()
    shape = (10, 4, 3)
    ranks1, levels1 = bank.ranks(NAME, shape, mode, 3, 0)
    ranks2, levels2 = bank.ranks(NAME, shape, mode, 3, 0)  # from the cache
    assert ranks1 is ranks2 and levels1 == levels2
    m1 = bank.mask(NAME, shape, mode, 3, 0, 0.3)
    m2 = bank.mask(NAME, shape, mode, 3, 0, 0.3)
    assert m1 is m2


# -- spread ---------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 100, 1000, 1024, 1025])
def test_spread_order_is_a_permutation(n):
    order = spread_order(n)
    assert order.dtype == np.int64
    assert sorted(order.tolist()) == list(range(n))


def test_spread_order_prefixes_for_power_of_two():
    order = spread_order(16)
    assert order[:2].tolist() == [0, 8]
    assert sorted(order[:4].tolist()) == [0, 4, 8, 12]
    assert sorted(order[:8].tolist()) == list(range(0, 16, 2))


def circular_gaps(indices: np.ndarray, n: int) -> np.ndarray:
    idx = np.sort(indices)
    return np.diff(np.concatenate([idx, [idx[0] + n]]))


@pytest.mark.parametrize("seed", [0, 1, 7, 99])
def test_spread_ten_percent_of_a_thousand_is_even(seed):
    mask = full_mask(new_bank(), (1000,), "spread", seed, 0, 0.1)
    selected = np.nonzero(mask.numpy())[0]
    assert len(selected) == 100
    gaps = circular_gaps(selected, 1000)
    assert gaps.max() <= 20  # ideal spacing 10
    assert gaps.min() >= 5
    # Not a random mask: a random 10% has gaps of 30+ almost surely.
    random = np.nonzero(full_mask(new_bank(), (1000,), "random", seed, 0, 0.1).numpy())[0]
    assert circular_gaps(random, 1000).max() > 20


@PROPS
@given(n=st.integers(2, 3000), seed=seeds, percent=st.floats(0.001, 1.0))
def test_spread_prefixes_are_evenly_distributed(n, seed, percent):
    k = threshold(percent, n)
    assume(k >= 1)
    ranks, _ = draw_ranks(NAME, (n,), "spread", seed, 0)
    selected = np.nonzero((ranks < k).numpy())[0]
    assert len(selected) == k
    assert circular_gaps(selected, n).max() <= 2 * n / k


def test_spread_mask_on_multi_dim_is_even_over_the_flat_tensor():
    shape = (20, 10, 5)
    mask = full_mask(new_bank(), shape, "spread", 3, 0, 0.25)
    selected = np.nonzero(mask.reshape(-1).numpy())[0]
    assert len(selected) == 250
    assert circular_gaps(selected, 1000).max() <= 8  # ideal 4
    # Every output channel gets about a quarter of its elements.
    per_channel = mask.reshape(20, -1).sum(dim=1)
    assert int(per_channel.min()) >= 10 and int(per_channel.max()) <= 15


# -- degenerate shapes --------------------------------------------------------------------

@pytest.mark.parametrize("mode", MASK_MODES)
@pytest.mark.parametrize("shape", [(0,), (0, 3), (4, 0, 2)], ids=str)
@pytest.mark.parametrize("percent", [0.0, 0.5, 1.0])
def test_empty_tensor(mode, shape, percent):
    ranks, levels = draw_ranks(NAME, shape, mode, 0, 0)
    assert tuple(ranks.shape) == shape and levels == 0
    bank = new_bank()
    for _ in range(2):  # cold, then from the cache
        mask = bank.mask(NAME, shape, mode, 0, 0, percent)
        assert mask is None or (tuple(mask.shape) == shape and mask.numel() == 0)


@pytest.mark.parametrize("mode", MASK_MODES)
def test_scalar_tensor(mode):
    ranks, levels = draw_ranks(NAME, (), mode, 0, 0)
    assert ranks.shape == () and levels == 1
    bank = new_bank()
    assert bank.mask(NAME, (), mode, 0, 0, 1.0) is None
    assert bank.mask(NAME, (), mode, 0, 0, 0.7) is None  # round(0.7) == 1: everything
    off = bank.mask(NAME, (), mode, 0, 0, 0.3)
    assert off is not None and not as_bool(off, ()).any()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_numeric_mask_in_the_requested_dtype(dtype):
    bank = new_bank()
    mask = bank.mask(NAME, (10, 4, 3), "random", 2, 0, 0.4, dtype)
    assert mask.dtype == dtype
    assert int((mask == 1).sum()) == 48 and int((mask == 0).sum()) == 72
    # The same selection whatever the dtype.
    assert torch.equal(mask != 0, bank.mask(NAME, (10, 4, 3), "random", 2, 0, 0.4, torch.float32) != 0)
