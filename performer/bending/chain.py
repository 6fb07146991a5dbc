"""Slots: one transform with its amount, mask and seed; a tensor's bend is an ordered chain."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from performer.bending.masks import MASK_MODES
from performer.bending.transforms import TRANSFORMS, get_transform

DEFAULT_TRANSFORM = "noise"
MAX_SLOTS = 8
MAX_SEED = 2**31 - 1
SLOT_FIELDS_TYPES = ("transform", "amount", "percent", "mode", "seed", "bypass")


@dataclass
class Slot:
    """One link of a chain.

    ``amount`` crossfades in weight space from the slot's input (0) to the transformed values
    (1); ``percent`` is the share of elements affected, chosen by the nested ``mode`` mask drawn
    from ``seed``. Parameters are remembered per transform, so switching back keeps them.
    """

    transform: str = DEFAULT_TRANSFORM
    amount: float = 1.0
    percent: float = 1.0
    mode: str = "random"
    seed: int = 0
    bypass: bool = False
    params: dict[str, dict[str, float | str]] = field(default_factory=dict)

    def current_params(self) -> dict[str, float | str]:
        values = get_transform(self.transform).defaults()
        values.update(self.params.get(self.transform, {}))
        return values

    def is_identity(self) -> bool:
        return self.bypass or self.transform == "none" or self.amount == 0.0 or self.percent == 0.0

    def copy(self) -> "Slot":
        return copy.deepcopy(self)

    def to_dict(self) -> dict:
        return {"transform": self.transform, "amount": self.amount, "percent": self.percent,
                "mode": self.mode, "seed": self.seed, "bypass": self.bypass,
                "params": copy.deepcopy(self.params)}

    @classmethod
    def from_dict(cls, data: dict) -> "Slot":
        slot = cls(**{k: data[k] for k in ("transform", "amount", "percent", "mode", "seed", "bypass") if k in data})
        slot.params = copy.deepcopy(data.get("params", {}))
        if slot.transform not in TRANSFORMS or slot.mode not in MASK_MODES:
            raise ValueError(f"slot has unknown transform {slot.transform!r} or mode {slot.mode!r}")
        return slot


def placeholder_slot() -> Slot:
    """A slot created only to reach a higher slot index: it does nothing."""
    return Slot(transform="none")
