"""Load any nn~-compatible TorchScript export (RAVE v1/v2/v2_small/raspberry/discrete, ...).

Runtime needs only ``torch.jit.load``: the nn~ interface is read from the module itself
(``get_methods()``, the ``{method}_params`` buffers ``[in_ch, in_ratio, out_ch, out_ratio]``,
``get_sample_rate()`` with a fall back to the ``sr`` attribute of nn-tilde 1.5 exports).
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch

from performer.errors import ModelLoadError

# Buffers that hold the streaming state of cached convolutions (cached_conv's `pad`/`cache`).
CACHE_SUFFIXES = (".pad", ".cache")

# The embedded models, trained by `performer train` (see models/README.md): a bare name such as
# ``studio`` means models/studio.ts; ``default`` is the one used when no model is named.
MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_MODEL = MODELS_DIR / "default.ts"

EXPORT_HINT = (
    "export the model with `rave export --run RUN --streaming`, or from Python with "
    "nn_tilde.Module.export_to_ts()"
)


@dataclass(frozen=True)
class MethodSpec:
    """One nn~ method: its channels and its time ratios (samples per frame)."""

    name: str
    in_channels: int
    in_ratio: int
    out_channels: int
    out_ratio: int


class NNModel:
    """A loaded export: its methods, rate and latent size, and a cache reset.

    The wrapped ``module`` is bent in place by the rig; never freeze it (freezing turns
    the weights into constants).
    """

    def __init__(self, path: Path, module: torch.jit.ScriptModule, methods: dict[str, MethodSpec],
                 sample_rate: int):
        self.path = path
        self.module = module
        self.methods = methods
        self.sample_rate = sample_rate
        self._cache_names = [n for n, _ in module.named_buffers() if n.endswith(CACHE_SUFFIXES)]

    # -- interface -------------------------------------------------------------------------
    @property
    def has_latent_path(self) -> bool:
        """True when the model can run encode, bend latents, decode."""
        return "encode" in self.methods and "decode" in self.methods

    @property
    def main_method(self) -> MethodSpec:
        """The audio-to-audio method: forward, or encode then decode."""
        if "forward" in self.methods:
            return self.methods["forward"]
        enc, dec = self.methods["encode"], self.methods["decode"]
        return MethodSpec("forward", enc.in_channels, 1, dec.out_channels, 1)

    @property
    def in_channels(self) -> int:
        return self.main_method.in_channels

    @property
    def out_channels(self) -> int:
        return self.main_method.out_channels

    @property
    def latent_size(self) -> int | None:
        return self.methods["encode"].out_channels if "encode" in self.methods else None

    @cached_property
    def latent_labels(self) -> list[str]:
        """A name per latent dimension: the export's ``encode_output_labels`` (nn~ shows them
        too), without their "(signal) " prefix; numbered names when the export has none."""
        size = self.latent_size or 0
        labels = getattr(self.module, "encode_output_labels", None)
        if isinstance(labels, (list, tuple)) and len(labels) == size and all(isinstance(x, str) for x in labels):
            return [x.removeprefix("(signal)").strip() or f"latent {i}" for i, x in enumerate(labels)]
        return [f"latent {i}" for i in range(size)]

    @property
    def block_multiple(self) -> int:
        """Every block must be a multiple of this (the largest ratio of any method).

        With another length a RAVE export silently returns a different number of samples.
        """
        return math.lcm(*(max(1, r) for m in self.methods.values() for r in (m.in_ratio, m.out_ratio)))

    @property
    def is_streaming(self) -> bool:
        return bool(self._cache_names)

    @cached_property
    def sha256(self) -> str:
        """Hash of the model file, the model's identity for scenes."""
        digest = hashlib.sha256()
        with open(self.path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def caches(self) -> list[torch.Tensor]:
        """The streaming state: cached_conv's buffers. Looked up each time: a model may replace a
        cache tensor (a new batch size)."""
        return [b for name, b in self.module.named_buffers() if name.endswith(CACHE_SUFFIXES)]

    def reset_caches(self) -> None:
        """Zero the streaming state, so a run starts as if the model had heard silence."""
        with torch.no_grad():
            for buffer in self.caches():
                buffer.zero_()

    def run(self, method: str, x: torch.Tensor) -> torch.Tensor:
        """Call one nn~ method on ``x`` shaped ``[batch, channels, time]``."""
        return getattr(self.module, method)(x)

    def describe(self) -> dict:
        return {
            "path": str(self.path),
            "sample_rate": self.sample_rate,
            "methods": {n: [m.in_channels, m.in_ratio, m.out_channels, m.out_ratio]
                        for n, m in self.methods.items()},
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "latent_size": self.latent_size,
            "block_multiple": self.block_multiple,
            "streaming": self.is_streaming,
        }


def model_names() -> list[str]:
    """The names of the embedded models (models/NAME.ts), sorted."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.ts"))


def resolve_model(model: str | os.PathLike | None) -> Path:
    """The file ``model`` means: None is the default model; an existing file is itself; a bare
    name (no folder, no .ts) is models/NAME.ts. Raises ModelLoadError for a name not shipped."""
    if model is None:
        if not DEFAULT_MODEL.exists():
            raise ModelLoadError(f"no model named and the default model {DEFAULT_MODEL} is missing (a "
                                 f"checkout without models/?); name a .ts file, or train one: "
                                 f"performer train RUN --minutes 100, then --export {DEFAULT_MODEL}")
        return DEFAULT_MODEL
    path = Path(model)
    if path.exists() or path.suffix == ".ts" or len(path.parts) != 1:
        return path
    named = MODELS_DIR / f"{path.name}.ts"
    if not named.exists():
        raise ModelLoadError(f"no model named {path.name!r}: the embedded models are "
                             f"{', '.join(model_names()) or 'none'} ({MODELS_DIR}); or give a .ts file")
    return named


def load_model(path: str | os.PathLike | None = None) -> NNModel:
    """Load an nn~ export from ``path``: a file, an embedded model's name (``studio``) or None
    (the embedded default model); see ``resolve_model``.

    Raises ModelLoadError saying what is wrong and what to do.
    """
    path = resolve_model(path)
    if not path.exists():
        raise ModelLoadError(f"model file not found: {path}")
    if path.is_dir():
        raise ModelLoadError(f"{path} is a directory; give the path of a .ts model file")
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except RuntimeError as exc:
        text = str(exc)
        if "constants.pkl" in text or "code/" in text:
            why = "it is a PyTorch checkpoint (torch.save), not a TorchScript export"
        else:
            why = "it is not a TorchScript archive (" + text.split(".")[0] + ")"
        raise ModelLoadError(f"cannot load {path}: {why}; {EXPORT_HINT}") from None
    except Exception as exc:  # torch raises several types for truncated or odd files
        raise ModelLoadError(f"cannot load {path}: {type(exc).__name__}: {exc}; {EXPORT_HINT}") from None
    module.eval()
    methods = _read_methods(path, module)
    return NNModel(path, module, methods, _read_sample_rate(path, module))


def _has_method(module: torch.jit.ScriptModule, name: str) -> bool:
    return module._c._has_method(name)


def _read_methods(path: Path, module: torch.jit.ScriptModule) -> dict[str, MethodSpec]:
    if _has_method(module, "get_methods"):
        names = [str(n) for n in module.get_methods()]
    else:
        names = [n for n in ("forward", "encode", "decode") if _has_method(module, n)]
    methods: dict[str, MethodSpec] = {}
    for name in names:
        params = getattr(module, f"{name}_params", None)
        if not _has_method(module, name) or not isinstance(params, torch.Tensor) or params.numel() != 4:
            continue
        in_ch, in_ratio, out_ch, out_ratio = (int(v) for v in params.tolist())
        methods[name] = MethodSpec(name, in_ch, in_ratio, out_ch, out_ratio)
    usable = "forward" in methods or ("encode" in methods and "decode" in methods)
    if not usable:
        found = ", ".join(sorted(methods)) or "none"
        raise ModelLoadError(
            f"{path} is TorchScript but lacks the nn~ methods Performer needs: 'forward', or "
            f"'encode' and 'decode', each with a '<method>_params' buffer (found with metadata: "
            f"{found}); {EXPORT_HINT}")
    _check_channels(path, methods)
    return methods


def _check_channels(path: Path, methods: dict[str, MethodSpec]) -> None:
    enc, dec, fwd = methods.get("encode"), methods.get("decode"), methods.get("forward")
    problems = []
    if enc and dec and enc.out_channels != dec.in_channels:
        problems.append(f"encode gives {enc.out_channels} latent channels but decode takes {dec.in_channels}")
    if fwd and enc and fwd.in_channels != enc.in_channels:
        problems.append(f"forward takes {fwd.in_channels} audio channels but encode takes {enc.in_channels}")
    if fwd and dec and fwd.out_channels != dec.out_channels:
        problems.append(f"forward gives {fwd.out_channels} audio channels but decode gives {dec.out_channels}")
    if problems:
        raise ModelLoadError(f"{path}: channel mismatch in the nn~ metadata: " + "; ".join(problems))


def _read_sample_rate(path: Path, module: torch.jit.ScriptModule) -> int:
    if _has_method(module, "get_sample_rate"):
        return int(module.get_sample_rate())
    sr = getattr(module, "sr", None)  # nn-tilde 1.5 exports have only the attribute
    if sr is None:
        raise ModelLoadError(f"{path} has neither get_sample_rate() nor an 'sr' attribute; {EXPORT_HINT}")
    return int(sr)
