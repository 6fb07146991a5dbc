"""Whole-state loads (scene recall, morph steps, undo, restore after a crash), validated first.

``plan_state`` turns a state dict (as ``Rig.state()`` returns it) into new chains, latent values
and globals for one model, checking every value the way ``Rig.set`` would, and lists what it could
not use (tensors this model lacks, bad values). The Rig then swaps the plan in under one lock, so
all its tensors are computed in one round and installed at one block boundary.

Locks (addresses a recall leaves alone, like a synth's group locks): a tensor (by name or #i),
``latent`` or ``latent/<i>``, or a global (``mix``, ``input/gain``, ``output/gain``, ``bypass``).
Values pass the same rule as ``Rig.set`` (``values.py``); a refused one is skipped and reported.
``record`` is never part of a state load: a recall must not start or stop a recording.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from performer.bending.chain import Slot
from performer.errors import AddressError, PerformerError
from performer.rig.addresses import GLOBALS
from performer.rig.values import global_value, latent_value, set_slot_field

NOT_LOADED_GLOBALS = ("record",)


@dataclass
class StatePlan:
    chains: dict[int, list[Slot]] = field(default_factory=dict)  # every unlocked tensor: new chain ([] = none)
    latent_scale: dict[int, float] = field(default_factory=dict)
    latent_offset: dict[int, float] = field(default_factory=dict)
    globals: dict[str, float] = field(default_factory=dict)
    selected: int | None = None
    report: list[str] = field(default_factory=list)


def parse_locks(rig, locks) -> tuple[set[int], set[int] | None, set[str]]:
    """(locked tensor indices, locked latent indices (None = all), locked globals)."""
    tensors: set[int] = set()
    latent: set[int] | None = set()
    globals_: set[str] = set()
    for lock in locks:
        if lock in GLOBALS:
            globals_.add(lock)
        elif lock == "latent":
            latent = None
        elif isinstance(lock, str) and lock.startswith("latent/"):
            index = lock.split("/")[1]
            if not index.isdigit() or int(index) >= (rig.model.latent_size or 0):
                raise AddressError(f"lock {lock!r}: no such latent dimension")
            if latent is not None:
                latent.add(int(index))
        else:
            try:
                tensors.add(rig.tensor_index(lock))
            except PerformerError:
                raise AddressError(f"lock {lock!r}: locks are a tensor (name or #i), latent, latent/<i> or one of "
                                   f"{', '.join(g for g in GLOBALS if g not in NOT_LOADED_GLOBALS)}") from None
    return tensors, latent, globals_


def plan_state(rig, state: dict, locks=(), include_selection: bool = False) -> StatePlan:
    """Validate ``state`` against ``rig``'s model; raise PerformerError only for a malformed state."""
    if not isinstance(state, dict):
        raise PerformerError(f"a state must be a mapping, got {type(state).__name__}")
    locked_tensors, locked_latent, locked_globals = parse_locks(rig, locks)
    plan = StatePlan()
    tensors = state.get("tensors", {})
    if not isinstance(tensors, dict):
        raise PerformerError("state.tensors must map tensor names to slot lists")
    for index in range(len(rig.tensors)):
        if index not in locked_tensors:
            plan.chains[index] = []
    for name, slots in tensors.items():
        try:
            index = rig.tensor_index(name)
        except PerformerError:
            plan.report.append(f"{name}: no such tensor in this model; skipped")
            continue
        if index in locked_tensors:
            continue
        chain = _chain(slots, name, rig.max_slots, plan.report)
        if chain is not None:
            plan.chains[index] = chain
        else:
            del plan.chains[index]  # a broken chain leaves the tensor as it is
    latent = state.get("latent", {})
    size = rig.model.latent_size or 0
    for kind, target in (("scale", plan.latent_scale), ("offset", plan.latent_offset)):
        values = latent.get(kind, []) if isinstance(latent, dict) else []
        if len(values) not in (0, size):
            plan.report.append(f"latent/{kind}: {len(values)} values for a {size}-dimensional latent; skipped")
            continue
        for i, value in enumerate(values):
            if locked_latent is None or i in locked_latent:
                continue
            try:
                target[i] = latent_value(value, f"latent/{i}/{kind}")
            except PerformerError as exc:
                plan.report.append(f"{exc}; skipped")
    for name, value in (state.get("globals", {}) or {}).items():
        if name in NOT_LOADED_GLOBALS or name in locked_globals:
            continue
        if name not in GLOBALS:
            plan.report.append(f"{name}: not a global; skipped")
            continue
        try:
            plan.globals[name] = global_value(name, value)
        except PerformerError as exc:
            plan.report.append(f"{exc}; skipped")
    if include_selection and isinstance(state.get("selected"), int) and 0 <= state["selected"] < len(rig.tensors):
        plan.selected = state["selected"]
    return plan


def _chain(slots, name: str, max_slots: int, report: list[str]) -> list[Slot] | None:
    if not isinstance(slots, list) or len(slots) > max_slots:
        report.append(f"{name}: a chain is a list of at most {max_slots} slots; left as it was")
        return None
    chain = []
    for i, data in enumerate(slots):
        label = f"{name}/{i}/"
        if not isinstance(data, dict):
            report.append(f"{label}: not a slot; tensor left as it was")
            return None
        slot = Slot()
        try:
            set_slot_field(slot, "transform", data.get("transform", "none"), label)
            for key in ("amount", "percent", "mode", "seed", "bypass"):
                if key in data:
                    set_slot_field(slot, key, data[key], label)
            params = data.get("params", {}) or {}
            for transform_name, values in params.items():
                if transform_name == slot.transform:
                    for param, value in (values or {}).items():
                        set_slot_field(slot, param, value, label)
                else:  # values kept for when the slot switches back to that transform
                    slot.params[transform_name] = dict(values or {})
        except (PerformerError, ValueError, TypeError) as exc:
            report.append(f"{label}: {exc}; tensor left as it was")
            return None
        chain.append(slot)
    return chain
