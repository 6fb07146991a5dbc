"""Modulation on top of the knobs: offsets the Rig adds when it computes, never stores.

A modulated value is the knob's value plus its offset, clamped to the address's range. The knob
keeps its own value (``Rig.get``, ``Rig.state``, scenes, soft takeover and undo all see it);
only the bend computation and the engine's audio parameters see the sum. Replacing the offsets
makes no change event and no undo entry: a modulator ticking at 100 Hz is not a gesture.

Continuous addresses only: a slot's ``amount``, ``percent`` or a numeric transform parameter,
``latent/<i>/offset|scale``, ``mix``, ``input/gain``, ``output/gain``.
"""

from __future__ import annotations

from typing import Callable, Mapping

from performer.bending.transforms import TRANSFORMS, get_transform
from performer.errors import AddressError
from performer.rig.addresses import GLOBALS, Address
from performer.rig.values import LATENT_RANGE

MODULATABLE_GLOBALS = ("mix", "input/gain", "output/gain")  # bypass and record are switches


def _param_range(field: str, transform: str | None) -> tuple[float, float] | None:
    """A numeric transform parameter's range: the slot's transform's, else the first that has it."""
    names = [transform] if transform in TRANSFORMS else list(TRANSFORMS)
    for name in names:
        for p in get_transform(name).params:
            if p.name == field and p.choices is None and p.min is not None:  # not a name or a path
                return float(p.min), float(p.max)
    return None


def field_range(a: Address, transform: str | None = None) -> tuple[float, float]:
    """The range of a parsed address's value; AddressError when it is not continuous."""
    if a.kind == "global" and a.field in MODULATABLE_GLOBALS:
        return float(GLOBALS[a.field][0]), float(GLOBALS[a.field][1])
    if a.kind == "latent":
        return LATENT_RANGE
    if a.kind == "slot":
        if a.field in ("amount", "percent"):
            return 0.0, 1.0
        found = _param_range(a.field, transform)
        if found is not None:
            return found
    raise AddressError(
        "only continuous addresses can be modulated: a slot's amount, percent or a numeric transform "
        f"parameter, latent/<i>/offset|scale, {', '.join(MODULATABLE_GLOBALS)}")


class Overlay:
    """The current offsets, by canonical address, with their parses cached (the Rig's lock guards it)."""

    def __init__(self, parse: Callable[[str], Address]):
        self._parse = parse
        self._parsed: dict[str, Address | None] = {}
        self.offsets: dict[str, float] = {}
        self._by_tensor: dict[int, dict[tuple[int, str], float]] = {}
        self._globals: dict[str, float] = {}
        self._latent: dict[tuple[str, int], float] = {}

    def replace(self, offsets: Mapping[str, float]) -> tuple[set[int], bool]:
        """Take ``offsets`` whole; return (tensors whose offsets changed, whether audio params did).
        Addresses that do not parse or are not continuous are ignored (modulators check theirs)."""
        by_tensor: dict[int, dict[tuple[int, str], float]] = {}
        globals_: dict[str, float] = {}
        latent: dict[tuple[str, int], float] = {}
        kept: dict[str, float] = {}
        for address, offset in offsets.items():
            a = self._address(address)
            if a is None:
                continue
            kept[address] = offset = float(offset)
            if a.kind == "slot":
                by_tensor.setdefault(a.tensor, {})[(a.slot, a.field)] = offset
            elif a.kind == "global":
                globals_[a.field] = offset
            else:
                latent[(a.field, a.latent)] = offset
        dirty = {i for i in by_tensor.keys() | self._by_tensor.keys()
                 if by_tensor.get(i) != self._by_tensor.get(i)}
        audio = globals_ != self._globals or latent != self._latent
        self.offsets, self._by_tensor, self._globals, self._latent = kept, by_tensor, globals_, latent
        return dirty, audio

    def apply_chain(self, index: int, chain: list) -> list:
        """Offsets added into ``chain`` (the Rig's copies), clamped to each field's range."""
        for (slot_index, field), offset in self._by_tensor.get(index, {}).items():
            if slot_index >= len(chain):
                continue  # no such slot yet: nothing to modulate
            slot = chain[slot_index]
            if field in ("amount", "percent"):
                setattr(slot, field, _clamp(getattr(slot, field) + offset, 0.0, 1.0))
                continue
            found = _param_range(field, slot.transform)
            if found is None or all(p.name != field for p in get_transform(slot.transform).params):
                continue  # the slot's transform has no such parameter now
            value = slot.current_params()[field]
            slot.params.setdefault(slot.transform, {})[field] = _clamp(value + offset, *found)
        return chain

    def global_value(self, name: str, knob: float) -> float:
        offset = self._globals.get(name)
        if offset is None:
            return knob
        lo, hi = GLOBALS[name][0], GLOBALS[name][1]
        return _clamp(knob + offset, lo, hi)

    def latent_values(self, field: str, knobs: list[float]) -> list[float]:
        if not self._latent:
            return knobs
        return [_clamp(v + self._latent.get((field, i), 0.0), *LATENT_RANGE) for i, v in enumerate(knobs)]

    def _address(self, address: str) -> Address | None:
        if address not in self._parsed:
            if address.startswith("selected"):
                return None  # a bank address moves with the selection: modulators store canonical ones
            try:
                a = self._parse(address)
                field_range(a)
            except Exception:  # noqa: BLE001 -- not a continuous address of this model
                a = None
            self._parsed[address] = a
        return self._parsed[address]


def _clamp(value: float, lo: float, hi: float) -> float:
    return lo if value < lo else hi if value > hi else value
