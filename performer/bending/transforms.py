"""The registry of pure tensor transforms.

A transform reads ``src`` and writes its result into ``out`` (same shape and dtype, never the
same memory): writing into preallocated buffers keeps a knob move on a 4.7 M-value tensor to
one or two memory passes, with no allocation. ``amount`` and masks are applied by the chain.

Parameters in "σ" are multiples of the *original* tensor's standard deviation, so one value
means a similar bend on any layer of any model (raw weight scales differ a hundredfold).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import torch

from performer.errors import ValueRangeError


class TensorContext(Protocol):
    """What a transform may know about the tensor it bends (see bank.TensorContext)."""

    unit: float  # σ of the original tensor
    max_abs: float
    channel_axis: int

    def partner(self, source: str) -> torch.Tensor | None: ...  # blend: same tensor of another model
    def gaussian(self, seed: int) -> torch.Tensor: ...
    def uniform(self, seed: int) -> torch.Tensor: ...
    def permutation(self, seed: int) -> torch.Tensor: ...
    def alternating(self) -> torch.Tensor: ...


@dataclass(frozen=True)
class Param:
    """One transform parameter: a bounded number, one of a set of choices, or (``path``) a file."""

    name: str
    default: float | str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    doc: str = ""
    path: bool = False  # a file path ("" = none): checked to exist when set, loaded where used

    def coerce(self, value: object, where: str = "") -> float | str:
        label = f"{where}{self.name}"
        if self.path:
            return _coerce_path(value, label)
        if self.choices is not None:
            if not isinstance(value, str) or value not in self.choices:
                raise ValueRangeError(f"{label} must be one of {', '.join(self.choices)}, got {value!r}")
            return value
        number = coerce_number(value, label)
        if not (self.min <= number <= self.max):
            raise ValueRangeError(f"{label} must be in range {self.min:g}..{self.max:g}, got {number:g}")
        return number

    def describe(self) -> dict:
        d = {"name": self.name, "default": self.default, "doc": self.doc}
        if self.path:
            d["kind"] = "path"
        elif self.choices is not None:
            d["choices"] = list(self.choices)
        else:
            d["min"], d["max"] = self.min, self.max
        return d


def _coerce_path(value: object, label: str) -> str:
    if not isinstance(value, str):
        raise ValueRangeError(f"{label} must be a file path (text), got {type(value).__name__} {value!r}")
    if value and not Path(value).expanduser().is_file():
        raise ValueRangeError(f"{label}: no such file {value!r} (give the path of a .ts model file, or '' for none)")
    return value


def coerce_number(value: object, label: str) -> float:
    """A finite float from an int, float, bool or numeric string; a clear error otherwise."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Real):  # int, float and numpy scalars
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ValueRangeError(f"{label} must be a number, got {value!r}") from None
    else:
        raise ValueRangeError(f"{label} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(number):
        raise ValueRangeError(f"{label} must be a finite number, got {number}")
    return number


Apply = Callable[[torch.Tensor, torch.Tensor, dict, TensorContext, int], None]


@dataclass(frozen=True)
class Transform:
    name: str
    doc: str
    apply: Apply  # (src, out, params, ctx, seed) -> None, writes into out
    params: tuple[Param, ...] = field(default_factory=tuple)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        valid = ", ".join(p.name for p in self.params) or "none"
        raise ValueRangeError(f"transform {self.name!r} has no parameter {name!r}; its parameters: {valid}")

    def defaults(self) -> dict[str, float | str]:
        return {p.name: p.default for p in self.params}

    def describe(self) -> dict:
        return {"name": self.name, "doc": self.doc, "params": [p.describe() for p in self.params]}


TRANSFORMS: dict[str, Transform] = {}


def register(name: str, doc: str, *params: Param) -> Callable[[Apply], Apply]:
    def wrap(fn: Apply) -> Apply:
        TRANSFORMS[name] = Transform(name, doc, fn, tuple(params))
        return fn
    return wrap


def get_transform(name: object) -> Transform:
    if not isinstance(name, str) or name not in TRANSFORMS:
        raise ValueRangeError(f"transform must be one of {', '.join(TRANSFORMS)}, got {name!r}")
    return TRANSFORMS[name]


def _roll_axis(src: torch.Tensor, out: torch.Tensor, axis: int, fraction: float) -> None:
    length = src.shape[axis]
    shift = int(round(fraction * length)) % length if length else 0
    if shift == 0:
        out.copy_(src)
        return
    out.narrow(axis, shift, length - shift).copy_(src.narrow(axis, 0, length - shift))
    out.narrow(axis, 0, shift).copy_(src.narrow(axis, length - shift, shift))


# -- the registry -------------------------------------------------------------------------

@register("none", "do nothing (a placeholder slot)")
def _none(src, out, p, ctx, seed):
    out.copy_(src)


@register("scale", "multiply every value by a factor",
          Param("factor", 2.0, -10.0, 10.0, doc="multiplier"))
def _scale(src, out, p, ctx, seed):
    torch.mul(src, p["factor"], out=out)


@register("offset", "add a constant (in σ of the original tensor)",
          Param("value", 1.0, -10.0, 10.0, doc="shift, in σ"))
def _offset(src, out, p, ctx, seed):
    torch.add(src, p["value"] * ctx.unit, out=out)


@register("invert", "negate every value")
def _invert(src, out, p, ctx, seed):
    torch.neg(src, out=out)


@register("ablate", "set values to zero")
def _ablate(src, out, p, ctx, seed):
    out.zero_()


@register("ones", "set values to one")
def _ones(src, out, p, ctx, seed):
    out.fill_(1.0)


@register("uniform", "replace values with uniform random ones between min and max (in σ), drawn once per seed",
          Param("min", -1.0, -10.0, 10.0, doc="lower bound, in σ"),
          Param("max", 1.0, -10.0, 10.0, doc="upper bound, in σ"))
def _uniform(src, out, p, ctx, seed):
    low, high = p["min"] * ctx.unit, p["max"] * ctx.unit
    torch.mul(ctx.uniform(seed), high - low, out=out)
    out.add_(low)


@register("noise", "add gaussian noise (standard deviation in σ), drawn once per seed",
          Param("sigma", 1.0, 0.0, 10.0, doc="noise level, in σ"))
def _noise(src, out, p, ctx, seed):
    torch.add(src, ctx.gaussian(seed), alpha=p["sigma"] * ctx.unit, out=out)


@register("shuffle", "permute the values over the whole tensor, one permutation per seed")
def _shuffle(src, out, p, ctx, seed):
    torch.index_select(src.reshape(-1), 0, ctx.permutation(seed), out=out.view(-1))


@register("threshold", "binarise: values at or above the threshold (in σ) become +σ, the rest -σ",
          Param("threshold", 0.0, -5.0, 5.0, doc="cut point, in σ"))
def _threshold(src, out, p, ctx, seed):
    above = torch.ge(src, p["threshold"] * ctx.unit)
    out.fill_(-ctx.unit)
    out.masked_fill_(above, ctx.unit)


@register("clamp", "limit values to ±limit (in σ)",
          Param("limit", 1.0, 0.0, 10.0, doc="bound, in σ"))
def _clamp(src, out, p, ctx, seed):
    limit = p["limit"] * ctx.unit
    torch.clamp(src, -limit, limit, out=out)


@register("quantize", "bit-crush: round values to 2^bits levels over the tensor's range",
          Param("bits", 3.0, 1.0, 16.0, doc="resolution in bits (fractional values allowed)"))
def _quantize(src, out, p, ctx, seed):
    step = ctx.max_abs / (2.0 ** (p["bits"] - 1.0)) if ctx.max_abs > 0 else 1.0
    torch.div(src, step, out=out)
    out.round_()
    out.mul_(step)


@register("reverse", "reverse the kernel taps (the last axis): each filter played backwards")
def _reverse(src, out, p, ctx, seed):
    axis = src.ndim - 1
    n = src.shape[axis] if src.ndim else 1
    if src.ndim == 0 or n <= 1:
        out.copy_(src)
        return
    index = torch.arange(n - 1, -1, -1)
    torch.index_select(src, axis, index, out=out)


@register("roll", "rotate values by a fraction of the chosen axis",
          Param("fraction", 0.5, -1.0, 1.0, doc="shift, as a fraction of the axis length"),
          Param("axis", "flat", choices=("flat", "taps", "channels"),
                doc="flat: the whole flattened tensor; taps: the kernel; channels: output channels"))
def _roll(src, out, p, ctx, seed):
    if src.ndim == 0:
        out.copy_(src)
    elif p["axis"] == "flat":
        _roll_axis(src.reshape(-1), out.view(-1), 0, p["fraction"])
    elif p["axis"] == "taps":
        _roll_axis(src, out, src.ndim - 1, p["fraction"])
    else:
        _roll_axis(src, out, ctx.channel_axis, p["fraction"])


@register("sign_flip", "negate every other kernel tap: mirrors each filter's frequency response")
def _sign_flip(src, out, p, ctx, seed):
    torch.mul(src, ctx.alternating(), out=out)


@register("blend", "mix with the same-named, same-shaped tensor of another model (a tensor without "
          "one is left alone); amount 1 is the other model's values",
          Param("source", "", path=True, doc="the other model's .ts file"))
def _blend(src, out, p, ctx, seed):
    partner = ctx.partner(p["source"]) if p["source"] else None
    out.copy_(src if partner is None else partner)
