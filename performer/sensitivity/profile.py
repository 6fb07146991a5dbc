"""A model's sensitivity map: a profile per tensor (measures per bend, scores, one-line summary),
the settings it was measured with and the model it belongs to. Plain JSON, partial or complete."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from performer.sensitivity.run import MEASURE_VERSION, Settings, TensorResult
from performer.sensitivity.summary import DIMENSIONS, strongest


@dataclass
class SensitivityMap:
    model: dict  # file, sha256, tensor_signature, tensor_count, sample_rate
    settings: Settings
    tensors: dict[str, TensorResult] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # every tensor of the model, in model order
    created: float = field(default_factory=time.time)

    @property
    def complete(self) -> bool:
        return all(name in self.tensors for name in self.order)

    @property
    def missing(self) -> list[str]:
        return [name for name in self.order if name not in self.tensors]

    def ranking(self, dimension: str) -> list[str]:
        """Measured tensors, strongest first in ``dimension`` (ties: model order)."""
        if dimension not in DIMENSIONS:
            raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}, got {dimension!r}")
        return sorted(self.tensors, key=lambda n: (-self.tensors[n].scores[dimension], self.tensors[n].index))

    def to_dict(self, details: bool = True) -> dict:
        """The map as JSON data; without ``details`` only scores and summaries (for the dashboard)."""
        tensors = {}
        for name in self.order:
            result = self.tensors.get(name)
            if result is None:
                continue
            entry = result.to_dict()
            entry["strongest"] = strongest(entry["scores"])
            if not details:
                entry.pop("bends")
            tensors[name] = entry
        return {"version": MEASURE_VERSION, "model": self.model, "settings": self.settings.to_dict(),
                "created": self.created, "complete": self.complete, "measured": len(self.tensors),
                "total": len(self.order), "dimensions": {d: {"measure": m, "half_at": ref, "word": w}
                                                          for d, (m, ref, w) in DIMENSIONS.items()},
                "tensors": tensors}

    @classmethod
    def from_dict(cls, data: dict) -> "SensitivityMap":
        """Raises KeyError/TypeError/ValueError on anything malformed (a cache treats it as absent)."""
        raw = data["settings"]
        settings = Settings(tuple(raw["bends"]), float(raw["seconds"]), int(raw["seed"]))
        tensors = {name: TensorResult.from_dict(name, entry) for name, entry in data["tensors"].items()}
        order = list(data.get("order") or tensors)
        return cls(dict(data["model"]), settings, tensors, order, float(data.get("created", 0.0)))

    def to_json_data(self) -> dict:
        """What the cache stores: everything, plus the model's tensor order."""
        return {**self.to_dict(details=True), "order": self.order}
