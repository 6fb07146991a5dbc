"""Export the default model in the nn~ format: a streaming TorchScript file for nn~ and Performer.

The file has methods ``encode`` (audio to latent), ``decode`` (latent to audio) and ``forward``,
each with a ``<method>_params`` buffer [in_channels, in_ratio, out_channels, out_ratio],
``get_methods()``, ``get_attributes()``, ``get_sample_rate()`` and an ``sr`` attribute, like
nn_tilde exports. Every call continues the stream (cached convolutions, oscillator phase).
A ``performer_config`` string attribute records the ModelConfig and training seed as JSON, so the
quality tools rebuild the right architecture (origin.py); as an attribute, it survives re-saves.
"""


import io
import json
from pathlib import Path
from typing import List

import torch
from torch import nn

from performer.atomic import write_atomic
from performer.train.layers import set_streaming
from performer.train.model import FEATURES, DefaultModel


class NNExport(nn.Module):
    """The scriptable wrapper: the decoder's latent is [pitch, periodicity, loudness, learned...]."""

    sr: int
    latent_size: int
    performer_config: str
    encode_input_labels: List[str]
    encode_output_labels: List[str]
    decode_input_labels: List[str]
    decode_output_labels: List[str]
    forward_input_labels: List[str]
    forward_output_labels: List[str]

    def __init__(self, model: DefaultModel, seed: int = 0):
        super().__init__()
        config = model.config
        self.performer_config = json.dumps({"model": config.to_dict(), "seed": seed})
        self.encoder = model.encoder
        self.decoder = model.decoder
        self.sr = config.sample_rate
        self.latent_size = config.latent_size
        hop = config.hop
        latent = config.latent_size
        self.register_buffer("encode_params", torch.tensor([1, 1, latent, hop]))
        self.register_buffer("decode_params", torch.tensor([latent, hop, 1, 1]))
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))
        names = list(FEATURES) + [f"timbre {i + 1}" for i in range(config.learned_latents)]
        self.encode_input_labels = ["(signal) audio in"]
        self.encode_output_labels = [f"(signal) {n}" for n in names]
        self.decode_input_labels = list(self.encode_output_labels)
        self.decode_output_labels = ["(signal) audio out"]
        self.forward_input_labels = ["(signal) audio in"]
        self.forward_output_labels = ["(signal) audio out"]

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        features, mean, _ = self.encoder(x)
        return torch.cat([features, mean], 1)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return ["encode", "decode", "forward"]

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        return []

    @torch.jit.export
    def get_sample_rate(self) -> int:
        return self.sr


def script_model(model: DefaultModel, seed: int = 0) -> torch.jit.ScriptModule:
    """A streaming TorchScript module of ``model`` (switched to eval and streaming in place);
    ``seed``: the training seed, recorded for the random-weights reference."""
    model.eval()
    set_streaming(model, True)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return torch.jit.script(NNExport(model, seed))


def export_model(model: DefaultModel, path: "str | Path", seed: int = 0) -> Path:
    """Write ``model`` as an nn~ export at ``path``, atomically; caches saved as silence."""
    scripted = script_model(model, seed)
    with torch.no_grad():
        for name, buffer in scripted.named_buffers():
            if name.endswith(".cache"):
                buffer.zero_()
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buffer.getvalue(), keep_prev=False)
    return path
