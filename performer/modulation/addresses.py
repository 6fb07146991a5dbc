"""The modulation address space, registered as Rig actions, and its part of the bend state.

  mod/<i>/kind                 off, sine, triangle, saw, square, sh, smooth, steps,
                               envelope, loudness, flux, onset, pitch (or their position)
  mod/<i>/rate|beats|sync|depth|offset|phase|attack|release|length|seed   (see modulator.NUMBERS)
  mod/<i>/polarity             bipolar | unipolar
  mod/<i>/step/<j>             the step sequencer's values, 0..1 (j < 16)
  mod/<i>/target/<k>           any continuous address ("" clears); stored canonical
  mod/<i>/target/<k>/depth     -1..1, share of the target's range
  mod/<i>/reset                (a button) back to off, no targets
  mod/<i>/value                the output now, -1..1 (read only)
  macro/<i>                    0..1: sets every target of the macro
  macro/<i>/target/<k>         a continuous address ("" clears)
  macro/<i>/target/<k>/min|max the target's value at 0 and at 1 (within its range)
  macro/<i>/target/<k>/curve   linear | exp | log | s
  tempo, tempo/source, tempo/playing, tempo/beat   (performer.modulation.tempo)

Every setting is an action: one ``Rig.set`` call from MIDI, OSC, the web or a set list, a change
event for the bending log and feedback, and, through the ``modulation`` state section, in scenes,
undo and autosave. A section that names a target this model lacks loads the rest and reports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from performer.errors import PerformerError, ValueRangeError
from performer.modulation.macros import Macro, MacroTarget, check_curve, check_unit
from performer.modulation.modulator import (KINDS, MAX_STEPS, MAX_TARGETS, NUMBERS, POLARITIES, Modulator, Target,
                                            check_choice, check_number, check_step, check_target_depth)

if TYPE_CHECKING:
    from performer.modulation.engine import Modulation

SECTION = "modulation"
Setter = Callable[[object, str], object]


def _read_only(address: str) -> Setter:
    def setter(value: object, source: str) -> object:
        raise ValueRangeError(f"{address} is read only")
    return setter


def check_target(rig, label: str, value: object) -> tuple[str, float, float] | None:
    """(canonical address, min, max) of a target, or None for "" / "none"; errors name the label."""
    if value is None or value in ("", "none"):
        return None
    try:
        canonical = rig.resolve(value)
        lo, hi = rig.value_range(canonical)
    except PerformerError as exc:
        raise type(exc)(f"{label}: {exc}") from None
    return canonical, lo, hi


def modulator_actions(rig, m: Modulator) -> dict[str, tuple[Setter, Callable[[], object]]]:
    p = m.label
    actions: dict[str, tuple[Setter, Callable[[], object]]] = {}

    def number(field: str):
        def setter(value, source):
            m.numbers[field] = check_number(f"{p}/{field}", field, value)
            return m.numbers[field]
        return setter, lambda: m.numbers[field]

    for field in NUMBERS:
        actions[f"{p}/{field}"] = number(field)

    def kind(value, source):
        m.kind = check_choice(f"{p}/kind", value, KINDS)
        return m.kind
    actions[f"{p}/kind"] = (kind, lambda: m.kind)

    def polarity(value, source):
        m.polarity = check_choice(f"{p}/polarity", value, POLARITIES)
        return m.polarity
    actions[f"{p}/polarity"] = (polarity, lambda: m.polarity)

    def step_value(j: int):
        def setter(value, source):
            m.steps[j] = check_step(f"{p}/step/{j}", value)
            return m.steps[j]
        return setter, lambda: m.steps[j]

    for j in range(MAX_STEPS):
        actions[f"{p}/step/{j}"] = step_value(j)

    def target(k: int):
        def setter(value, source):
            found = check_target(rig, f"{p}/target/{k}", value)
            old = m.targets[k]
            if found is None:
                m.targets[k] = None
                return ""
            depth = old.depth if old is not None else 0.5
            m.targets[k] = Target(found[0], depth, found[2] - found[1])
            return found[0]

        def depth_setter(value, source):
            current = m.targets[k]
            if current is None:
                raise ValueRangeError(f"{p}/target/{k} has no address; set {p}/target/{k} first")
            depth = check_target_depth(f"{p}/target/{k}/depth", value)
            m.targets[k] = Target(current.address, depth, current.span)
            return depth
        return (setter, lambda: m.targets[k].address if m.targets[k] else ""), \
            (depth_setter, lambda: m.targets[k].depth if m.targets[k] else 0.0)

    for k in range(MAX_TARGETS):
        actions[f"{p}/target/{k}"], actions[f"{p}/target/{k}/depth"] = target(k)

    def reset(value, source):
        if float(value) >= 0.5:
            _reset_modulator(m)
        return 1
    actions[f"{p}/reset"] = (reset, lambda: 0)
    actions[f"{p}/value"] = (_read_only(f"{p}/value"), lambda: m.value)
    return actions


def _reset_modulator(m: Modulator) -> None:
    fresh = Modulator(m.index)
    m.kind, m.polarity, m.numbers, m.steps, m.targets = fresh.kind, fresh.polarity, fresh.numbers, fresh.steps, fresh.targets
    m.reset_runtime()


def macro_actions(rig, macro: Macro, apply: Callable[[Macro, float, str], None]):
    p = macro.label
    actions: dict[str, tuple[Setter, Callable[[], object]]] = {}

    def move(value, source):
        x = check_unit(p, value)
        apply(macro, x, source)
        macro.value = x
        return x
    actions[p] = (move, lambda: macro.value)

    def target(k: int):
        def setter(value, source):
            found = check_target(rig, f"{p}/target/{k}", value)
            macro.targets[k] = None if found is None else MacroTarget(found[0], found[1], found[2])
            return found[0] if found else ""

        def bound(which: str):
            def setter_(value, source):
                current = macro.targets[k]
                label = f"{p}/target/{k}/{which}"
                if current is None:
                    raise ValueRangeError(f"{p}/target/{k} has no address; set {p}/target/{k} first")
                if which == "curve":
                    current.curve = check_curve(label, value)
                    return current.curve
                lo, hi = rig.value_range(current.address)
                from performer.bending.transforms import coerce_number
                number = coerce_number(value, label)
                if not lo <= number <= hi:
                    raise ValueRangeError(f"{label} must be in range {lo:g}..{hi:g} (the range of "
                                          f"{current.address}), got {number:g}")
                setattr(current, "lo" if which == "min" else "hi", number)
                return number
            key = {"min": "lo", "max": "hi", "curve": "curve"}[which]
            return setter_, lambda: getattr(macro.targets[k], key) if macro.targets[k] else None

        out = {f"{p}/target/{k}": (setter, lambda: macro.targets[k].address if macro.targets[k] else "")}
        for which in ("min", "max", "curve"):
            out[f"{p}/target/{k}/{which}"] = bound(which)
        return out

    for k in range(MAX_TARGETS):
        actions.update(target(k))
    return actions


def tempo_actions(tempo) -> dict[str, tuple[Setter, Callable[[], object]]]:
    return {
        "tempo": (lambda v, s: tempo.set_bpm(v), lambda: round(tempo.bpm, 3)),
        "tempo/source": (lambda v, s: tempo.set_source(v), lambda: tempo.source),
        "tempo/playing": (lambda v, s: tempo.set_playing(v), lambda: int(tempo.playing)),
        "tempo/beat": (_read_only("tempo/beat"), lambda: tempo.beat_at()),
    }


# -- the state section --------------------------------------------------------------------------
def section_data(mod: "Modulation") -> dict:
    """Only what differs from the defaults: a scene without modulators stays small."""
    return {"modulators": {str(m.index): m.to_dict() for m in mod.modulators if not m.is_default()},
            "macros": {str(x.index): x.to_dict() for x in mod.macros if not x.is_base()}}


def load_section(mod: "Modulation", data: object, source: str) -> list[str]:
    """Replace every modulator and macro with ``data``'s (absent = default; for a macro, its base
    from a mapping file). What cannot be used (a target this model lacks, a value out of range) is
    skipped and reported; the rest loads."""
    if not isinstance(data, dict):
        return [f"{SECTION}: expected an object with modulators and macros, got {type(data).__name__}; left as it was"]
    report: list[str] = []
    mods = data.get("modulators", {}) or {}
    macros = data.get("macros", {}) or {}
    for m in mod.modulators:
        _reset_modulator(m)
    for x in mod.macros:
        x.targets = x.base_targets()
    for key, settings in (mods.items() if isinstance(mods, dict) else []):
        m = _pick(mod.modulators, key, "mod", report)
        if m is not None and isinstance(settings, dict):
            _load_modulator(mod, m, settings, report)
    for key, settings in (macros.items() if isinstance(macros, dict) else []):
        x = _pick(mod.macros, key, "macro", report)
        if x is not None and isinstance(settings, dict):
            _load_macro(mod, x, settings, report)
    return report


def _pick(items: list, key: str, what: str, report: list[str]):
    if not str(key).isdigit() or int(key) >= len(items):
        report.append(f"{what}/{key}: no such {what} (0..{len(items) - 1}); skipped")
        return None
    return items[int(key)]


def _set(mod: "Modulation", address: str, value: object, report: list[str]) -> None:
    try:
        mod.actions[address][0](value, "load")
    except (PerformerError, ValueError, TypeError, KeyError) as exc:
        report.append(f"{exc}; skipped")


def _load_modulator(mod: "Modulation", m: Modulator, s: dict, report: list[str]) -> None:
    p = m.label
    for field in ("kind", "polarity", *NUMBERS):
        if field in s:
            _set(mod, f"{p}/{field}", s[field], report)
    for j, value in enumerate((s.get("steps") or [])[:MAX_STEPS]):
        _set(mod, f"{p}/step/{j}", value, report)
    for k, target in enumerate((s.get("targets") or [])[:MAX_TARGETS]):
        if isinstance(target, dict) and target.get("address"):
            _set(mod, f"{p}/target/{k}", target["address"], report)
            if m.targets[k] is not None and "depth" in target:
                _set(mod, f"{p}/target/{k}/depth", target["depth"], report)


def _load_macro(mod: "Modulation", x: Macro, s: dict, report: list[str]) -> None:
    p = x.label
    x.targets = [None] * len(x.targets)  # the state's definition, whole (an empty one clears the base)
    for k, target in enumerate((s.get("targets") or [])[:len(x.targets)]):
        if isinstance(target, dict) and target.get("address"):
            _set(mod, f"{p}/target/{k}", target["address"], report)
            if x.targets[k] is not None:
                for which in ("min", "max", "curve"):
                    if which in target:
                        _set(mod, f"{p}/target/{k}/{which}", target[which], report)
