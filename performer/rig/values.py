"""The one value rule: what each kind of address accepts, checked and coerced here only.

``Rig.set`` (one knob), whole-state loads (``state.plan_state``: scenes, morphs, undo, restore)
and scene files (``scenes.scene.validate_state``) call these, so a value one path takes every
path takes, stored as the same number. What a path does with a refusal is its own business
(``set`` raises, a state load skips that value and reports it, a scene file is refused).

Numeric text such as ``"0.5"`` is accepted everywhere: ``--bend mix=0.5`` on the command line is
text, OSC senders choose their own type tags (live-coding patterns send strings), and a JSON
body or a hand-edited file may quote a number. Refusing it everywhere would break those senders;
refusing it in some paths only was the bug. Text that is not a finite number ("nan", "inf",
"loud") is refused everywhere; booleans count as 0 and 1 (OSC T/F, JSON true).
"""

from __future__ import annotations

import math

from performer.bending.chain import MAX_SEED, SLOT_FIELDS_TYPES, Slot
from performer.bending.masks import MASK_MODES
from performer.bending.transforms import coerce_number, get_transform
from performer.errors import ValueRangeError
from performer.rig.addresses import GLOBALS

LATENT_RANGE = (-8.0, 8.0)  # latent offset and scale: wide enough to leave the training range
SWITCHES = ("bypass", "record")  # globals stored as 0.0 or 1.0 (a value >= 0.5 is on)

number = coerce_number  # a finite float from a number, a bool or numeric text


def global_value(name: str, value: object, label: str | None = None) -> float:
    """``value`` for the global ``name`` (a key of GLOBALS), in its range; switches as 0.0/1.0."""
    lo, hi, _, unit = GLOBALS[name]
    label = label or name
    result = number(value, label)
    if not lo <= result <= hi:
        raise ValueRangeError(f"{label} must be in range {lo:g}..{hi:g} ({unit}), got {result:g}")
    return float(result >= 0.5) if name in SWITCHES else result


def latent_value(value: object, label: str) -> float:
    """A latent offset or scale, in LATENT_RANGE."""
    lo, hi = LATENT_RANGE
    result = number(value, label)
    if not lo <= result <= hi:
        raise ValueRangeError(f"{label} must be in range {lo:g}..{hi:g}, got {result:g}")
    return result


def set_slot_field(slot: Slot, field: str, value: object, label: str) -> object:
    """Set one field (or transform parameter) of ``slot``; return the stored value.
    ``label`` prefixes errors (``decoder.net.2.weight/0/``). On error ``slot`` is unchanged."""
    if field == "transform":
        slot.transform = get_transform(value).name
        return slot.transform
    if field == "mode":
        if value not in MASK_MODES:
            raise ValueRangeError(f"{label}mode must be one of {', '.join(MASK_MODES)}, got {value!r}")
        slot.mode = value
        return value
    if field in ("amount", "percent"):
        result = number(value, label + field)
        if not 0.0 <= result <= 1.0:
            raise ValueRangeError(f"{label}{field} must be in range 0..1, got {result:g}")
        setattr(slot, field, result)
        return result
    if field == "seed":
        result = number(value, label + field)
        if result != math.floor(result) or not 0 <= result <= MAX_SEED:
            raise ValueRangeError(f"{label}seed must be an integer in range 0..{MAX_SEED}, got {value!r}")
        slot.seed = int(result)
        return slot.seed
    if field == "bypass":
        slot.bypass = number(value, label + field) >= 0.5
        return int(slot.bypass)
    transform = get_transform(slot.transform)
    try:
        param = transform.param(field)
    except ValueRangeError:
        raise ValueRangeError(
            f"{label}{field}: not a slot field ({', '.join(SLOT_FIELDS_TYPES)}) nor a parameter of "
            f"{transform.name!r} ({', '.join(p.name for p in transform.params) or 'it has none'})") from None
    stored = param.coerce(value, label)
    slot.params.setdefault(transform.name, {})[field] = stored
    return stored
