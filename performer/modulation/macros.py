"""Macros: one address (``macro/<i>``, 0..1) sets many, each target over its own range and curve.

Unlike a modulator, a macro moves the targets' knobs themselves (as torchbend's
BendingParameter and Ableton's macro knobs do): what it sets is saved in scenes and undone like a
hand on each knob. A move is applied as one whole-state load that leaves every other address
locked, so all targets land in one compute round at one block boundary, a drag is one undo entry
(the history coalesces a sweep of loads from one source), and a knob moved elsewhere at the same
moment is not overwritten.

The macro's own position is not part of the bend state (the targets' values are): after a recall
the knob takes over softly from wherever it is.

A mapping file can define macros (``[[macros]]``, docs/mappings.md): that definition is the
macro's *base*. Scenes, undo and autosave keep only what differs from the base, and a state that
does not mention a macro gives it its base back, so a controller's macro knob keeps working
across recalls of scenes saved before (or without) its mapping.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from performer.bending.chain import Slot, placeholder_slot
from performer.bending.transforms import coerce_number
from performer.errors import ValueRangeError
from performer.modulation.shapes import CURVES, curve
from performer.rig.addresses import GLOBALS

MAX_TARGETS = 8
MACROS = 8  # macro/0 .. macro/7
STATE_KEYS = ("tensors", "latent", "globals", "selected")


@dataclass
class MacroTarget:
    address: str  # canonical
    lo: float
    hi: float
    curve: str = "linear"

    def value(self, x: float) -> float:
        return self.lo + (self.hi - self.lo) * curve(self.curve, x)

    def copy(self) -> "MacroTarget":
        return MacroTarget(self.address, self.lo, self.hi, self.curve)

    def to_dict(self) -> dict:
        return {"address": self.address, "min": self.lo, "max": self.hi, "curve": self.curve}


class Macro:
    def __init__(self, index: int):
        self.index = index
        self.value = 0.0
        self.targets: list[MacroTarget | None] = [None] * MAX_TARGETS
        self.base: list[MacroTarget | None] = [None] * MAX_TARGETS  # a mapping file's definition
        self.base_from = ""  # which mapping file, for people

    @property
    def label(self) -> str:
        return f"macro/{self.index}"

    def to_dict(self) -> dict:
        return {"targets": [None if t is None else t.to_dict() for t in self.targets]}

    def is_default(self) -> bool:
        return not any(self.targets)

    def is_base(self) -> bool:
        """Whether the targets are the base definition (nothing for a state to keep)."""
        return self.targets == self.base

    def base_targets(self) -> list[MacroTarget | None]:
        return [None if t is None else t.copy() for t in self.base]


def check_unit(label: str, value: object) -> float:
    number = coerce_number(value, label)
    if not 0.0 <= number <= 1.0:
        raise ValueRangeError(f"{label} must be in range 0..1, got {number:g}")
    return number


def check_curve(label: str, value: object) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == int(value) \
            and 0 <= value < len(CURVES):
        return CURVES[int(value)]
    if value not in CURVES:
        raise ValueRangeError(f"{label} must be one of {', '.join(CURVES)} (or 0..{len(CURVES) - 1}), got {value!r}")
    return value


def apply_macro(rig, macro: Macro, x: float, source: str) -> list[str]:
    """Set every target of ``macro`` for knob position ``x`` in one whole-state load."""
    values = {t.address: t.value(x) for t in macro.targets if t is not None}
    if not values:
        return []
    state = {k: v for k, v in rig.state().items() if k in STATE_KEYS}  # sections stay as they are
    touched_tensors: set[str] = set()
    touched_latent: set[int] = set()
    touched_globals: set[str] = set()
    for address, value in values.items():
        if address in GLOBALS:
            state["globals"][address] = value
            touched_globals.add(address)
            continue
        parts = address.split("/")
        if parts[0] == "latent":
            state["latent"][parts[2]][int(parts[1])] = value
            touched_latent.add(int(parts[1]))
            continue
        name, slot_index, field = parts[0], int(parts[1]), parts[2]
        chain = state["tensors"].setdefault(name, [])
        while len(chain) < slot_index:
            chain.append(placeholder_slot().to_dict())
        if len(chain) == slot_index:
            chain.append(Slot().to_dict())  # as Rig.set does for a new slot
        slot = chain[slot_index]
        if field in ("amount", "percent"):
            slot[field] = value
        else:
            params = slot.setdefault("params", {})
            params[slot["transform"]] = dict(copy.deepcopy(params.get(slot["transform"], {})), **{field: value})
        touched_tensors.add(name)
    size = rig.model.latent_size or 0
    locks = [t.name for t in rig.tensors if t.name not in touched_tensors]
    locks += [f"latent/{i}" for i in range(size) if i not in touched_latent] if touched_latent else (["latent"] if size else [])
    locks += [g for g in GLOBALS if g not in touched_globals and g != "record"]
    return rig.load_state(state, locks=locks, source=source)
