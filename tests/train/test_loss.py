"""The multi-scale STFT distance: zero on identity, monotone in added noise, differentiable."""

import math

import torch

from performer.train.loss import SCALES, multiscale_stft_distance



def signal(batch=2, n=4096):
    torch.manual_seed(0)
    t = torch.arange(n) / 44100
    tone = 0.3 * torch.sin(2 * math.pi * 220 * t) + 0.1 * torch.sin(2 * math.pi * 660 * t)
    return (tone + 0.01 * torch.randn(batch, 1, n)).float()


def test_distance_to_itself_is_zero():
    x = signal()
    assert multiscale_stft_distance(x, x).item() == 0.0


def test_distance_grows_with_added_noise():
    x = signal()
    noise = torch.randn_like(x)
    distances = [multiscale_stft_distance(x, x + level * noise).item() for level in (1e-3, 1e-2, 1e-1, 1.0)]
    assert all(a < b for a, b in zip(distances, distances[1:])), distances
    assert distances[0] > 0


def test_shapes_b1t_and_bt_agree_and_it_is_a_scalar():
    x, y = signal(), signal() * 0.5
    d = multiscale_stft_distance(x, y)
    assert d.shape == ()
    torch.testing.assert_close(d, multiscale_stft_distance(x[:, 0], y[:, 0]))


def test_gain_error_is_penalised_and_not_symmetric_in_scale():
    x = signal()
    assert multiscale_stft_distance(x, 0.5 * x) > 0
    assert multiscale_stft_distance(x, 2.0 * x) > multiscale_stft_distance(x, 1.1 * x)


def test_gradient_flows_to_the_output():
    x = signal()
    y = (x + 0.05 * torch.randn_like(x)).requires_grad_()
    multiscale_stft_distance(x, y).backward()
    assert y.grad is not None and torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0
    # a gradient step lowers the distance
    with torch.no_grad():
        before = multiscale_stft_distance(x, y)
        after = multiscale_stft_distance(x, y - 1e-3 * y.grad / y.grad.abs().max())
    assert after < before


def test_silent_output_is_finite():
    x = signal()
    d = multiscale_stft_distance(x, torch.zeros_like(x))
    assert torch.isfinite(d) and d > 0
    assert torch.isfinite(multiscale_stft_distance(torch.zeros_like(x), torch.zeros_like(x)))


def test_custom_scales():
    x = signal(n=1024)
    y = x + 0.1 * torch.randn_like(x)
    assert max(SCALES) == 2048
    assert multiscale_stft_distance(x, y, scales=(256, 128)) > 0
