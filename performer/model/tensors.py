"""Every bendable tensor of a loaded export, in model order, with what it is.

Bendable: all parameters (conv and linear weights and biases, norm scales and shifts, PQMF
filters) and the running statistics of batch norms. Streaming caches, nn~ metadata and latent
PCA buffers are state or plumbing, not bend targets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

BENDABLE_BUFFERS = ("running_mean", "running_var")

# TorchScript keeps the Python class name of every submodule as `original_name`.
_KIND_BY_CLASS = (
    ("ConvTranspose", "conv_transpose"),
    ("Conv", "conv"),
    ("Linear", "linear"),
    ("Norm", "norm"),
    ("GRU", "recurrent"),
    ("LSTM", "recurrent"),
    ("RNN", "recurrent"),
    ("Embedding", "embedding"),
)


@dataclass(frozen=True)
class TensorInfo:
    """One bendable tensor: position, name, what it is and its original statistics."""

    index: int
    name: str
    module: str
    module_class: str
    kind: str
    role: str
    group: str
    shape: tuple[int, ...]
    size: int
    channel_axis: int  # the axis of output channels (whole-channel masks act along it)
    mean: float
    std: float
    min: float
    max: float
    rms: float

    @property
    def address(self) -> str:
        return self.name

    def to_dict(self) -> dict:
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d


def _kind(module_path: str, class_name: str) -> str:
    if "pqmf" in module_path.lower():
        return "pqmf"
    for fragment, kind in _KIND_BY_CLASS:
        if fragment in class_name:
            return kind
    return "other"


def _channel_axis(kind: str, ndim: int) -> int:
    # ConvTranspose weights are stored (in, out, k): their output channels are axis 1.
    if kind == "conv_transpose" and ndim >= 2:
        return 1
    return 0


def bendable_tensors(module: torch.jit.ScriptModule) -> list[tuple[str, torch.Tensor, str]]:
    """(name, tensor, module class) for every bendable tensor, in model order."""
    found = []
    for mod_name, mod in module.named_modules():
        class_name = getattr(mod, "original_name", type(mod).__name__)
        prefix = f"{mod_name}." if mod_name else ""
        for name, tensor in mod.named_parameters(recurse=False):
            found.append((prefix + name, tensor, class_name))
        for name, tensor in mod.named_buffers(recurse=False):
            if name in BENDABLE_BUFFERS and tensor.is_floating_point():
                found.append((prefix + name, tensor, class_name))
    return found


def describe_tensors(module: torch.jit.ScriptModule) -> list[TensorInfo]:
    infos = []
    for index, (name, tensor, class_name) in enumerate(bendable_tensors(module)):
        module_path, _, role = name.rpartition(".")
        kind = _kind(module_path, class_name)
        t = tensor.detach().double()
        infos.append(TensorInfo(
            index=index, name=name, module=module_path, module_class=class_name, kind=kind,
            role=role, group=name.split(".", 1)[0] if "." in name else "model",
            shape=tuple(tensor.shape), size=tensor.numel(),
            channel_axis=_channel_axis(kind, tensor.ndim),
            mean=float(t.mean()) if t.numel() else 0.0,
            std=float(t.std(unbiased=False)) if t.numel() else 0.0,
            min=float(t.min()) if t.numel() else 0.0,
            max=float(t.max()) if t.numel() else 0.0,
            rms=float(t.square().mean().sqrt()) if t.numel() else 0.0,
        ))
    return infos
