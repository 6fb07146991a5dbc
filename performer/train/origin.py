"""Which of Performer's architectures an export is: its ModelConfig and training seed.

Read from the ``performer_config`` attribute that export.py records; exports made before it
was recorded (the studio default.ts) are matched to a preset by their hop and latent size.
None for a model Performer did not train (RAVE and other nn~ exports).
"""

from __future__ import annotations

import json

from performer.train.model import FEATURES, PRESETS, ModelConfig


def _config(data: dict) -> ModelConfig:
    return ModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def recorded_origin(model) -> tuple[ModelConfig, int] | None:
    """(config, training seed) of a loaded export (performer.model.NNModel), or None."""
    text = getattr(model.module, "performer_config", None)
    if isinstance(text, str):
        try:
            data = json.loads(text)
            return _config(data["model"]), int(data.get("seed", 0))
        except (ValueError, TypeError, KeyError):
            return None
    labels = getattr(model.module, "encode_output_labels", None)
    if not labels or list(labels[:len(FEATURES)]) != [f"(signal) {f}" for f in FEATURES]:
        return None
    encode = model.methods.get("encode")
    for preset in PRESETS.values():  # before the record: the presets' weights were seed 0
        if encode and (encode.out_ratio, encode.out_channels) == (preset.hop, preset.latent_size):
            return preset, 0
    return None


def architecture(model) -> str | None:
    """"studio", "live", or None for a model Performer did not train."""
    origin = recorded_origin(model)
    return origin[0].architecture if origin else None
