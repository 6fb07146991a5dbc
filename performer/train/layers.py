"""Causal, cached building blocks: whole-file output equals block-by-block output.

Every stateful module keeps its streaming state in one buffer named ``cache`` (the suffix
Performer's loader zeroes to reset a stream). Zeros always mean "a stream that heard silence".
With ``streaming`` off (training), the state starts from zeros for every call instead.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def with_left_context(cache: torch.Tensor, x: torch.Tensor, streaming: bool) -> torch.Tensor:
    """``x`` preceded by ``cache.shape[-1]`` samples: the stream's last ones when streaming (the
    cache then keeps this call's last ones), zeros otherwise. The cache's batch must match x's."""
    context = cache.shape[-1]
    if not streaming:
        return F.pad(x, (context, 0))
    joined = torch.cat([cache, x], -1)
    cache.copy_(joined[..., joined.shape[-1] - context:].detach())
    return joined


class CachedConv1d(nn.Conv1d):
    """A causal Conv1d: left context comes from the cache (streaming) or from zeros.

    Input length must be a multiple of the stride; output length is input length / stride.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 dilation: int = 1, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation,
                         bias=bias)
        self.context = dilation * (kernel_size - 1) + 1 - stride
        self.streaming = False
        self.register_buffer("cache", torch.zeros(1, in_channels, max(self.context, 0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.context > 0:
            if self.streaming and self.cache.shape[0] != x.shape[0]:  # a new batch size: a new stream
                self.cache = torch.zeros(x.shape[0], x.shape[1], self.context, dtype=x.dtype)
            x = with_left_context(self.cache, x, self.streaming)
        if self.dilation[0] > 1 and self.stride[0] == 1:
            return self._dilated(x)
        return F.conv1d(x, self.weight, self.bias, self.stride, 0, self.dilation)

    def _dilated(self, x: torch.Tensor) -> torch.Tensor:
        # PyTorch's CPU dilated conv takes a slow path (~6x slower here): stack the k taps'
        # shifted inputs as channels and run one pointwise conv with the same weights.
        d = self.dilation[0]
        k = self.kernel_size[0]
        length = x.shape[-1] - d * (k - 1)
        taps = torch.cat([x[..., i * d:i * d + length] for i in range(k)], 1)
        weight = self.weight.permute(0, 2, 1).reshape(self.out_channels, -1, 1)
        return F.conv1d(taps, weight, self.bias)


class ConvTransposeUpsample(nn.ConvTranspose1d):
    """Transposed conv with kernel == stride: no overlap between frames, so nothing to cache."""

    def __init__(self, in_channels: int, out_channels: int, ratio: int):
        super().__init__(in_channels, out_channels, ratio, stride=ratio)
        self.ratio = ratio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Without overlap it is one matrix product (the CPU transposed conv takes a slow path).
        weight = self.weight.reshape(self.in_channels, -1)  # [in, out * ratio]
        y = torch.matmul(x.transpose(1, 2), weight)  # [B, Q, out * ratio]
        y = y.reshape(x.shape[0], x.shape[2], self.out_channels, self.ratio).permute(0, 2, 1, 3)
        y = y.reshape(x.shape[0], self.out_channels, x.shape[2] * self.ratio)
        bias = self.bias
        if bias is not None:
            y = y + bias.unsqueeze(-1)
        return y


class ResidualUnit(nn.Module):
    """LeakyReLU, dilated causal conv3, LeakyReLU, conv1, plus the input."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.conv = CachedConv1d(channels, channels, 3, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(F.leaky_relu(x, 0.2))
        return x + self.mix(F.leaky_relu(y, 0.2))


class DelayLine(nn.Module):
    """Delays a signal by a fixed number of samples (aligns branches with different latency)."""

    def __init__(self, channels: int, samples: int):
        super().__init__()
        self.samples = samples
        self.streaming = False
        self.register_buffer("cache", torch.zeros(1, channels, samples))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.samples == 0:
            return x
        if self.streaming and self.cache.shape[0] != x.shape[0]:
            self.cache = torch.zeros(x.shape[0], x.shape[1], self.samples, dtype=x.dtype)
        return with_left_context(self.cache, x, self.streaming)[..., :x.shape[-1]]


class FrameInterpolator(nn.Module):
    """Control frames to a finer rate: linear ramps from the previous frame to each frame.

    The first frame of a fresh stream starts flat (no ramp up from zero).
    """

    def __init__(self, channels: int, ratio: int):
        super().__init__()
        self.ratio = ratio
        self.streaming = False
        # [previous frame values..., 1 when a previous frame exists]
        self.register_buffer("cache", torch.zeros(1, channels + 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = x[..., :1]
        if self.streaming:
            if self.cache.shape[0] != x.shape[0]:
                self.cache = torch.zeros(x.shape[0], x.shape[1] + 1, 1, dtype=x.dtype)
            seen = self.cache[:, -1:, :]
            previous = seen * self.cache[:, :-1, :] + (1.0 - seen) * first
            self.cache.copy_(torch.cat([x[..., -1:], torch.ones_like(first[:, :1])], 1).detach())
        else:
            previous = first
        start = torch.cat([previous, x[..., :-1]], -1)
        ramp = (torch.arange(1, self.ratio + 1, dtype=x.dtype, device=x.device) / self.ratio)
        out = start.unsqueeze(-1) + (x - start).unsqueeze(-1) * ramp
        return out.reshape(x.shape[0], x.shape[1], x.shape[2] * self.ratio)


def set_streaming(module: nn.Module, streaming: bool) -> None:
    """Switch every cached submodule between training (zero context) and streaming."""
    for sub in module.modules():
        if hasattr(sub, "streaming"):
            sub.streaming = streaming
