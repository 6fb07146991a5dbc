"""Cached causal layers: whole-file output is the reference convolution, and streaming matches it."""

import itertools

import pytest
import torch
from torch.nn import functional as F

from performer.train.layers import (CachedConv1d, ConvTransposeUpsample, DelayLine, FrameInterpolator,
                                     ResidualUnit, set_streaming)



def stream(module, x, sizes, step=1):
    """Feed ``x`` block by block (sizes in units of ``step`` input samples, cycled) and join the output."""
    out, i = [], 0
    for n in itertools.cycle(sizes):
        if i >= x.shape[-1]:
            break
        out.append(module(x[..., i:i + n * step]))
        i += n * step
    return torch.cat(out, -1)


def zero_caches(module):
    with torch.no_grad():
        for name, buffer in module.named_buffers():
            if name.split(".")[-1] == "cache":
                buffer.zero_()


def check_streaming(module, x, step=1, sizes=((1,), (3,), (5, 2, 7), (16,))):
    """Streaming in blocks of several sizes equals the training-mode whole-signal output."""
    module.eval()
    set_streaming(module, False)
    with torch.no_grad():
        whole = module(x)
        set_streaming(module, True)
        for pattern in sizes:
            zero_caches(module)
            blocks = stream(module, x, pattern, step)
            assert blocks.shape == whole.shape
            torch.testing.assert_close(blocks, whole, rtol=0, atol=1e-6)
    set_streaming(module, False)
    return whole


CONVS = [  # in, out, kernel, stride, dilation
    (3, 4, 1, 1, 1),
    (3, 4, 3, 1, 1),
    (3, 4, 7, 1, 1),
    (2, 5, 8, 4, 1),   # strided like the encoder's downsampling
    (1, 4, 128, 16, 1),  # PQMF analysis shape
    (3, 3, 3, 1, 3),   # dilated: the reimplementation
    (3, 3, 3, 1, 9),
    (2, 3, 5, 1, 2),
    (2, 3, 4, 2, 3),   # dilated and strided: torch's own path
]


@pytest.mark.parametrize("cin,cout,k,stride,dilation", CONVS)
def test_cached_conv_is_a_causal_conv_with_left_zero_padding(cin, cout, k, stride, dilation):
    torch.manual_seed(0)
    conv = CachedConv1d(cin, cout, k, stride=stride, dilation=dilation)
    x = torch.randn(2, cin, 48 * stride)
    reference = F.conv1d(F.pad(x, (dilation * (k - 1) + 1 - stride, 0)), conv.weight, conv.bias, stride=stride,
                         dilation=dilation)
    y = conv(x)
    assert y.shape == (2, cout, 48)
    torch.testing.assert_close(y, reference, rtol=1e-5, atol=1e-5)


def test_causal_conv_output_does_not_depend_on_the_future():
    torch.manual_seed(0)
    conv = CachedConv1d(2, 3, 3, dilation=9)
    x = torch.randn(1, 2, 64)
    y = conv(x)
    x2 = x.clone()
    x2[..., 40:] = torch.randn(1, 2, 24)
    y2 = conv(x2)
    assert torch.equal(y[..., :40], y2[..., :40])
    assert not torch.allclose(y[..., 40:], y2[..., 40:])


def test_dilated_conv_gradient_matches_torch():
    torch.manual_seed(0)
    conv = CachedConv1d(3, 4, 3, dilation=3)
    x = torch.randn(2, 3, 40, requires_grad=True)
    conv(x).square().sum().backward()
    ours = (x.grad.clone(), conv.weight.grad.clone(), conv.bias.grad.clone())
    x.grad = None
    w = conv.weight.detach().clone().requires_grad_()
    b = conv.bias.detach().clone().requires_grad_()
    F.conv1d(F.pad(x, (6, 0)), w, b, dilation=3).square().sum().backward()
    for a, r in zip(ours, (x.grad, w.grad, b.grad)):
        torch.testing.assert_close(a, r, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cin,cout,k,stride,dilation", CONVS)
def test_cached_conv_streams_exactly(cin, cout, k, stride, dilation):
    torch.manual_seed(1)
    conv = CachedConv1d(cin, cout, k, stride=stride, dilation=dilation)
    check_streaming(conv, torch.randn(2, cin, 40 * stride), step=stride)


def test_zeroed_cache_restarts_the_stream_identically():
    torch.manual_seed(2)
    conv = CachedConv1d(3, 4, 3, dilation=9)
    conv.eval()
    set_streaming(conv, True)
    x = torch.randn(1, 3, 30)
    with torch.no_grad():
        first = stream(conv, x, (7,))
        assert conv.cache.abs().sum() > 0
        continued = conv(x)  # the stream goes on: the left context is no longer silence
        assert not torch.allclose(continued, first)
        conv.cache.zero_()
        again = stream(conv, x, (4, 11))
    torch.testing.assert_close(again, first, rtol=0, atol=1e-6)


def test_streaming_batch_size_change_starts_a_fresh_stream():
    torch.manual_seed(3)
    conv = CachedConv1d(2, 3, 5, stride=1, dilation=2)
    conv.eval()
    x1 = torch.randn(1, 2, 24)
    x3 = torch.randn(3, 2, 24)
    with torch.no_grad():
        whole3 = conv(x3)
        set_streaming(conv, True)
        stream(conv, x1, (6,))
        assert conv.cache.shape[0] == 1
        blocks3 = stream(conv, x3, (5, 3))
        assert conv.cache.shape[0] == 3
        torch.testing.assert_close(blocks3, whole3, rtol=0, atol=1e-6)
        # and back to one: fresh again
        whole1 = F.conv1d(F.pad(x1, (8, 0)), conv.weight, conv.bias, dilation=2)
        torch.testing.assert_close(stream(conv, x1, (4,)), whole1, rtol=0, atol=1e-6)


def test_kernel_equal_to_stride_needs_no_cache():
    conv = CachedConv1d(2, 2, 4, stride=4)
    assert conv.context == 0 and conv.cache.shape[-1] == 0
    check_streaming(conv, torch.randn(1, 2, 64), step=4)


@pytest.mark.parametrize("ratio", [1, 2, 4, 5])
def test_upsample_equals_conv_transpose(ratio):
    torch.manual_seed(4)
    up = ConvTransposeUpsample(3, 5, ratio)
    x = torch.randn(2, 3, 17)
    y = up(x)
    assert y.shape == (2, 5, 17 * ratio)
    torch.testing.assert_close(y, F.conv_transpose1d(x, up.weight, up.bias, stride=ratio), rtol=1e-5, atol=1e-5)
    check_streaming(up, x)


def test_upsample_gradient_matches_conv_transpose():
    torch.manual_seed(5)
    up = ConvTransposeUpsample(3, 2, 4)
    x = torch.randn(1, 3, 9, requires_grad=True)
    up(x).pow(3).sum().backward()
    ours = (x.grad.clone(), up.weight.grad.clone())
    x.grad = None
    w = up.weight.detach().clone().requires_grad_()
    F.conv_transpose1d(x, w, up.bias.detach(), stride=4).pow(3).sum().backward()
    torch.testing.assert_close(ours[0], x.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours[1], w.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("samples", [0, 1, 7, 112])
def test_delay_line_delays_by_its_samples(samples):
    torch.manual_seed(6)
    delay = DelayLine(2, samples)
    x = torch.randn(2, 2, 200)
    y = delay(x)
    expected = torch.cat([torch.zeros(2, 2, samples), x[..., :200 - samples]], -1)
    assert torch.equal(y, expected)
    check_streaming(delay, x, sizes=((1,), (3,), (5, 2, 7), (50,), (113,)))


def test_delay_line_batch_change_and_reset():
    delay = DelayLine(1, 5)
    set_streaming(delay, True)
    x = torch.arange(1.0, 9.0).view(1, 1, 8)
    assert delay(x).flatten().tolist() == [0, 0, 0, 0, 0, 1, 2, 3]
    assert delay(x).flatten().tolist() == [4, 5, 6, 7, 8, 1, 2, 3]
    delay.cache.zero_()
    assert delay(x).flatten().tolist() == [0, 0, 0, 0, 0, 1, 2, 3]
    two = torch.cat([x, -x])
    assert delay(two)[1].flatten().tolist() == [0, 0, 0, 0, 0, -1, -2, -3]


def test_frame_interpolator_ramps_linearly_from_the_previous_frame():
    up = FrameInterpolator(1, 4)
    x = torch.tensor([[[1.0, 3.0, -1.0]]])
    y = up(x).flatten().tolist()
    assert y == pytest.approx([1, 1, 1, 1, 1.5, 2, 2.5, 3, 2, 1, 0, -1])


@pytest.mark.parametrize("ratio", [1, 4, 64, 1024])
def test_frame_interpolator_streams_exactly(ratio):
    torch.manual_seed(7)
    up = FrameInterpolator(3, ratio)
    x = torch.randn(2, 3, 20)
    whole = check_streaming(up, x)
    assert whole.shape == (2, 3, 20 * ratio)
    # each frame's value lands on its last sample
    torch.testing.assert_close(whole[..., ratio - 1::ratio], x, rtol=0, atol=1e-6)


def test_frame_interpolator_fresh_stream_after_reset_and_batch_change():
    up = FrameInterpolator(1, 2)
    set_streaming(up, True)
    assert up(torch.tensor([[[2.0]]])).flatten().tolist() == [2, 2]
    assert up(torch.tensor([[[4.0]]])).flatten().tolist() == [3, 4]
    up.cache.zero_()  # zeros mean "no previous frame", not "ramp up from 0"
    assert up(torch.tensor([[[4.0]]])).flatten().tolist() == [4, 4]
    y = up(torch.tensor([[[6.0]], [[-2.0]]]))
    assert y.flatten().tolist() == [6, 6, -2, -2]
    assert up(torch.tensor([[[8.0]], [[0.0]]])).flatten().tolist() == [7, 8, -1, 0]


def test_residual_unit_streams_and_set_streaming_reaches_nested_modules():
    torch.manual_seed(8)
    unit = torch.nn.Sequential(ResidualUnit(4, 1), ResidualUnit(4, 3), ResidualUnit(4, 9))
    set_streaming(unit, True)
    assert all(m.streaming for m in unit.modules() if hasattr(m, "streaming"))
    set_streaming(unit, False)
    check_streaming(unit, torch.randn(1, 4, 90))


def test_training_mode_starts_from_zeros_every_call():
    torch.manual_seed(9)
    conv = CachedConv1d(1, 1, 5)
    x = torch.randn(1, 1, 16)
    assert torch.equal(conv(x), conv(x))
    assert conv.cache.abs().sum() == 0  # training never writes the cache
