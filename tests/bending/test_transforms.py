"""Every registered transform, called directly with the real TensorContext of the bank."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from performer.bending.bank import TensorContext
from performer.bending.randomness import DrawCache
from performer.bending.transforms import TRANSFORMS, Param, coerce_number, get_transform
from performer.errors import ValueRangeError
from performer.model.tensors import TensorInfo

SHAPES = [(6, 4, 3), (5,), (3, 7), (2, 3, 4, 5)]
RANDOM_TRANSFORMS = ("uniform", "noise", "shuffle")


def make_info(tensor: torch.Tensor, name: str = "layer.weight", channel_axis: int = 0) -> TensorInfo:
    """A TensorInfo computed like performer.model.tensors.describe_tensors does."""
    t = tensor.detach().double()
    empty = t.numel() == 0
    return TensorInfo(
        index=0, name=name, module=name.rpartition(".")[0], module_class="Conv1d", kind="conv",
        role=name.rpartition(".")[2], group=name.split(".", 1)[0], shape=tuple(tensor.shape),
        size=tensor.numel(), channel_axis=channel_axis,
        mean=0.0 if empty else float(t.mean()),
        std=0.0 if empty else float(t.std(unbiased=False)),
        min=0.0 if empty else float(t.min()),
        max=0.0 if empty else float(t.max()),
        rms=0.0 if empty else float(t.square().mean().sqrt()),
    )


def make_ctx(tensor: torch.Tensor, name: str = "layer.weight", channel_axis: int = 0) -> TensorContext:
    return TensorContext(make_info(tensor, name, channel_axis), tensor, DrawCache(1 << 24))


def rand(shape, seed: int = 0, scale: float = 0.3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g) * scale).to(torch.float32)


def run(name: str, src: torch.Tensor, params: dict | None = None, seed: int = 0,
        ctx: TensorContext | None = None, channel_axis: int = 0) -> torch.Tensor:
    transform = get_transform(name)
    p = transform.defaults()
    p.update(params or {})
    ctx = ctx if ctx is not None else make_ctx(src, channel_axis=channel_axis)
    out = torch.full_like(src, 123.0)  # garbage: a transform must write every element
    transform.apply(src, out, p, ctx, seed)
    return out


def param_values(transform) -> st.SearchStrategy:
    """A strategy for a full, valid parameter dict of ``transform``."""
    fields = {}
    for p in transform.params:
        if p.choices is not None:
            fields[p.name] = st.sampled_from(p.choices)
        elif p.path:  # a file: its own tests (tests/bending/test_blend.py)
            fields[p.name] = st.just(p.default)
        else:
            fields[p.name] = st.floats(p.min, p.max, allow_nan=False, allow_infinity=False)
    return st.fixed_dictionaries(fields)


# -- generic properties, every transform -------------------------------------------------

@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_shape_dtype_finite_src_untouched_deterministic(name, shape):
    src = rand(shape, seed=1)
    before = src.clone()
    out1 = run(name, src, seed=7)
    assert out1.shape == src.shape
    assert out1.dtype == torch.float32
    assert torch.isfinite(out1).all()
    assert torch.equal(src, before), "the transform modified its source"
    # Same seed, fresh context and cache (nothing shared): the same result, bitwise.
    out2 = run(name, src.clone(), seed=7)
    assert torch.equal(out1, out2)
    # Same seed, same (warm) context: still the same.
    ctx = make_ctx(src)
    assert torch.equal(run(name, src, seed=7, ctx=ctx), run(name, src, seed=7, ctx=ctx))


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_property_any_params_any_shape(name):
    transform = get_transform(name)

    @settings(max_examples=30, deadline=None)
    @given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4).map(tuple),
           params=param_values(transform),
           data_seed=st.integers(0, 2**31 - 1),
           seed=st.integers(0, 2**31 - 1),
           scale=st.sampled_from([1e-3, 0.1, 1.0, 30.0]),
           channel_axis=st.sampled_from([0, 1]))
    def check(shape, params, data_seed, seed, scale, channel_axis):
        if channel_axis >= len(shape):
            channel_axis = 0
        src = rand(shape, seed=data_seed, scale=scale)
        before = src.clone()
        out = run(name, src, params, seed=seed, channel_axis=channel_axis)
        assert out.shape == src.shape and out.dtype == src.dtype
        assert torch.isfinite(out).all()
        assert torch.equal(src, before)
        assert torch.equal(out, run(name, src, params, seed=seed, channel_axis=channel_axis))

    check()


@pytest.mark.parametrize("name", RANDOM_TRANSFORMS)
def test_different_seeds_give_different_results(name):
    src = rand((16, 8, 3), seed=2)
    assert not torch.equal(run(name, src, seed=1), run(name, src, seed=2))


@pytest.mark.parametrize("name", RANDOM_TRANSFORMS)
def test_draws_depend_on_the_tensor_name(name):
    src = rand((16, 8, 3), seed=2)
    a = run(name, src, seed=1, ctx=make_ctx(src, name="a.weight"))
    b = run(name, src, seed=1, ctx=make_ctx(src, name="b.weight"))
    assert not torch.equal(a, b)


def test_registry_lists_the_documented_transforms():
    expected = {"none", "scale", "offset", "invert", "ablate", "ones", "uniform", "noise", "shuffle",
                "threshold", "clamp", "quantize", "reverse", "roll", "sign_flip"}
    assert expected <= set(TRANSFORMS)
    for name, transform in TRANSFORMS.items():
        assert transform.name == name
        described = transform.describe()
        assert described["name"] == name and isinstance(described["doc"], str) and described["doc"]
        for p in transform.params:
            if p.path:
                assert p.default == ""
            elif p.choices is None:
                assert p.min <= p.default <= p.max
            else:
                assert p.default in p.choices
            assert p.coerce(p.default) == p.default


# -- semantics, one by one ------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_none_copies(shape):
    src = rand(shape)
    assert torch.equal(run("none", src), src)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("factor", [-10.0, -1.5, 0.0, 0.5, 2.0, 10.0])
def test_scale_multiplies(shape, factor):
    src = rand(shape)
    torch.testing.assert_close(run("scale", src, {"factor": factor}), src * factor, rtol=0, atol=0)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("value", [-3.0, 0.0, 1.0, 10.0])
def test_offset_adds_value_in_sigma(shape, value):
    src = rand(shape)
    unit = float(src.double().std(unbiased=False))
    torch.testing.assert_close(run("offset", src, {"value": value}), src + value * unit)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_invert_negates(shape):
    src = rand(shape)
    assert torch.equal(run("invert", src), -src)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_ablate_zeros_and_ones_gives_ones(shape):
    src = rand(shape)
    assert torch.equal(run("ablate", src), torch.zeros_like(src))
    assert torch.equal(run("ones", src), torch.ones_like(src))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("limit", [0.0, 0.25, 1.0, 3.0])
def test_clamp_bounds_to_limit_sigma(shape, limit):
    src = rand(shape, scale=1.0)
    ctx = make_ctx(src)
    bound = limit * ctx.unit
    out = run("clamp", src, {"limit": limit}, ctx=ctx)
    assert out.abs().max() <= np.float32(bound) + 1e-7
    inside = src.abs() < bound
    assert torch.equal(out[inside], src[inside])
    torch.testing.assert_close(out, src.clamp(-bound, bound), rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(40, 8, 3), (257,)], ids=str)
@pytest.mark.parametrize("bits", [1.0, 1.5, 2.0, 3.0, 4.7, 6.0])
def test_quantize_levels(shape, bits):
    src = rand(shape, seed=3, scale=1.0)
    ctx = make_ctx(src)
    out = run("quantize", src, {"bits": bits}, ctx=ctx)
    levels = torch.unique(out)
    assert levels.numel() <= 2 ** bits + 1
    # Levels are multiples of one step; every value moves by at most half a step.
    step = ctx.max_abs / 2 ** (bits - 1)
    assert (out - src).abs().max() <= step / 2 + 1e-5
    assert torch.allclose(levels / step, torch.round(levels / step), atol=1e-3)


def test_quantize_all_zero_tensor_stays_zero():
    src = torch.zeros(4, 3)
    out = run("quantize", src)
    assert torch.equal(out, src)


@pytest.mark.parametrize("shape", SHAPES + [(4, 1)], ids=str)
def test_reverse_flips_last_axis(shape):
    src = rand(shape)
    assert torch.equal(run("reverse", src), torch.flip(src, dims=[-1]))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("fraction", [-1.0, -0.5, -0.2, 0.0, 0.25, 1 / 3, 0.5, 0.99, 1.0])
def test_roll(shape, fraction):
    src = rand(shape)

    def shift(length: int) -> int:
        return int(round(fraction * length)) % length

    taps = run("roll", src, {"fraction": fraction, "axis": "taps"})
    assert torch.equal(taps, torch.roll(src, shift(shape[-1]), dims=-1))
    flat = run("roll", src, {"fraction": fraction, "axis": "flat"})
    assert torch.equal(flat, torch.roll(src.reshape(-1), shift(src.numel())).reshape(shape))
    for axis in range(min(2, len(shape))):
        channels = run("roll", src, {"fraction": fraction, "axis": "channels"}, channel_axis=axis)
        assert torch.equal(channels, torch.roll(src, shift(shape[axis]), dims=axis))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_shuffle_is_a_permutation(shape, seed):
    src = rand(shape)
    out = run("shuffle", src, seed=seed)
    assert torch.equal(torch.sort(out.reshape(-1)).values, torch.sort(src.reshape(-1)).values)


def test_shuffle_actually_moves_values():
    src = torch.arange(60, dtype=torch.float32).reshape(5, 4, 3)
    out = run("shuffle", src, seed=4)
    assert not torch.equal(out, src)
    assert sorted(out.reshape(-1).tolist()) == list(range(60))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_sign_flip_negates_odd_taps(shape):
    src = rand(shape)
    out = run("sign_flip", src)
    assert torch.equal(out[..., 0::2], src[..., 0::2])
    assert torch.equal(out[..., 1::2], -src[..., 1::2])


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("thr", [-5.0, -0.5, 0.0, 0.7, 5.0])
def test_threshold_binarises_to_plus_minus_sigma(shape, thr):
    src = rand(shape, scale=1.0)
    ctx = make_ctx(src)
    out = run("threshold", src, {"threshold": thr}, ctx=ctx)
    unit = torch.tensor(ctx.unit, dtype=torch.float32)
    assert set(torch.unique(out).tolist()) <= {float(unit), float(-unit)}
    above = src >= thr * ctx.unit
    assert torch.equal(out[above], unit.expand_as(out[above]))
    assert torch.equal(out[~above], (-unit).expand_as(out[~above]))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("low,high", [(-1.0, 1.0), (0.0, 0.5), (2.0, 10.0), (-10.0, -9.0), (3.0, 3.0)])
def test_uniform_within_bounds(shape, low, high):
    src = rand(shape)
    ctx = make_ctx(src)
    out = run("uniform", src, {"min": low, "max": high}, seed=5, ctx=ctx)
    tol = 1e-6 * max(1.0, abs(low), abs(high)) * ctx.unit
    assert out.min() >= low * ctx.unit - tol
    assert out.max() <= high * ctx.unit + tol


def test_uniform_spreads_over_the_range():
    src = rand((50, 40))
    ctx = make_ctx(src)
    out = run("uniform", src, {"min": -1.0, "max": 1.0}, ctx=ctx) / ctx.unit
    assert out.min() < -0.95 and out.max() > 0.95
    assert abs(float(out.mean())) < 0.05


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_noise_sigma_zero_is_identity(shape):
    src = rand(shape)
    assert torch.equal(run("noise", src, {"sigma": 0.0}, seed=3), src)


def test_noise_has_the_requested_level_in_sigma():
    src = rand((100, 50, 3), scale=0.05)
    ctx = make_ctx(src)
    diff = (run("noise", src, {"sigma": 2.0}, seed=9, ctx=ctx) - src) / ctx.unit
    assert abs(float(diff.std()) - 2.0) < 0.05
    assert abs(float(diff.mean())) < 0.05


def test_constant_tensor_unit_falls_back_to_rms_then_one():
    ones = torch.ones(4, 3)
    assert make_ctx(ones).unit == pytest.approx(1.0)
    assert torch.equal(run("offset", ones, {"value": 2.0}), torch.full((4, 3), 3.0))
    twos = torch.full((4, 3), 2.0)
    assert make_ctx(twos).unit == pytest.approx(2.0)  # std 0 -> rms
    zeros = torch.zeros(4, 3)
    assert make_ctx(zeros).unit == 1.0  # std 0, rms 0 -> 1
    assert torch.equal(run("offset", zeros, {"value": -1.5}), torch.full((4, 3), -1.5))


# -- parameters and look-up errors ---------------------------------------------------------

def test_get_transform_unknown_lists_valid_names():
    with pytest.raises(ValueRangeError) as exc:
        get_transform("nope")
    message = str(exc.value)
    assert "'nope'" in message
    for name in TRANSFORMS:
        assert name in message
    with pytest.raises(ValueRangeError):
        get_transform(3)
    with pytest.raises(ValueRangeError):
        get_transform(None)


def test_transform_param_unknown_lists_valid_params():
    with pytest.raises(ValueRangeError) as exc:
        get_transform("uniform").param("nope")
    assert "min" in str(exc.value) and "max" in str(exc.value)
    with pytest.raises(ValueRangeError, match="none"):
        get_transform("invert").param("factor")


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_numeric_params_out_of_range_name_the_range(name):
    for p in get_transform(name).params:
        if p.choices is not None or p.path:
            continue
        for bad in (p.max + 0.5, p.min - 0.5, p.max * 10 + 1):
            with pytest.raises(ValueRangeError) as exc:
                p.coerce(bad, where="slot0.")
            message = str(exc.value)
            assert f"slot0.{p.name}" in message
            assert f"{p.min:g}..{p.max:g}" in message
        assert p.coerce(p.min) == p.min and p.coerce(p.max) == p.max


@pytest.mark.parametrize("bad", [[1.0], {"x": 1}, None, object(), "two", "", float("nan"), float("inf"),
                                 "nan", "-inf"])
def test_numeric_param_wrong_type_or_not_finite(bad):
    p = get_transform("scale").param("factor")
    with pytest.raises(ValueRangeError) as exc:
        p.coerce(bad)
    message = str(exc.value)
    assert "factor" in message and "number" in message
    assert isinstance(exc.value, ValueError)  # callers may catch ValueError


def test_numeric_param_accepts_numbers_and_numeric_strings():
    p = get_transform("scale").param("factor")
    assert p.coerce(3) == 3.0 and isinstance(p.coerce(3), float)
    assert p.coerce("2.5") == 2.5
    assert p.coerce(True) == 1.0
    assert p.coerce(np.float64(0.5)) == 0.5  # a float subclass


@pytest.mark.parametrize("bad", ["diagonal", 1, None, "FLAT"])
def test_choice_param_names_the_choices(bad):
    p = get_transform("roll").param("axis")
    with pytest.raises(ValueRangeError) as exc:
        p.coerce(bad)
    for choice in ("flat", "taps", "channels"):
        assert choice in str(exc.value)


def test_coerce_number_label_and_param_describe():
    with pytest.raises(ValueRangeError, match="gain"):
        coerce_number("loud", "gain")
    p = Param("x", 1.0, 0.0, 2.0, doc="d")
    assert p.describe() == {"name": "x", "default": 1.0, "doc": "d", "min": 0.0, "max": 2.0}
    c = Param("c", "a", choices=("a", "b"))
    assert c.describe()["choices"] == ["a", "b"]
    assert math.isclose(p.coerce("1e-1"), 0.1)


# -- degenerate shapes ---------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0)], ids=str)
def test_empty_tensors(name, shape):
    src = torch.zeros(shape)
    out = run(name, src)
    assert out.shape == src.shape and out.dtype == src.dtype


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_scalar_tensor_keeps_its_shape(name):
    src = torch.tensor(0.4)
    out = torch.zeros(())
    transform = get_transform(name)
    transform.apply(src, out, transform.defaults(), make_ctx(src), 0)
    assert out.shape == ()
    assert torch.isfinite(out).all()
