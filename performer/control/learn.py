"""MIDI learn: bind the next control moved to an address, and keep it in the user's mapping file.

The kind of control is read from its traffic during a short window after the first message:
CC n (0..31) together with CC n+32 is a 14-bit pair; a CC whose values stay around 0/127 or
around 64 in small steps is an endless encoder (Ableton's "detect" idea); NRPN/RPN, notes
(learned as toggles, as Ableton does), pitch bend, pressure and program change are what they are.
"""

from __future__ import annotations

import os
from dataclasses import fields, replace
from pathlib import Path

import tomlkit

from performer.atomic import write_atomic
from performer.control.mapping import (SCHEMA_VERSION, ControlMapping, Mapping, Match, OutputMapping,
                                       load_mapping)
from performer.control.midi import ControlEvent

LEARN_WINDOW_S = 0.3
def default_user_mapping() -> Path:
    """``$XDG_CONFIG_HOME/performer/mappings/learned.toml`` (default ``~/.config``)."""
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".config"
    return base / "performer" / "mappings" / "learned.toml"


def _relative_encoding(values: list[int]) -> str | None:
    """An endless encoder's encoding from its values, or None if it looks like an absolute knob.

    Absolute knobs sweep through neighbouring values; encoders repeat a few small steps around
    their zero. Turned one way, twos_complement sends 1.. or ..127 and binary_offset 65.. or ..63.
    (A signed-bit encoder turned right looks like twos_complement; pick it by hand if so.)
    """
    if len(values) < 3 or len(set(values)) > 3:
        return None
    if all(v != 64 and abs(v - 64) <= 8 for v in values):
        return "binary_offset"
    if all(1 <= v <= 8 or 120 <= v <= 127 for v in values):
        return "twos_complement"
    return None


def detect_control(events: list[tuple[str, ControlEvent]], address: str) -> tuple[str, ControlMapping] | None:
    """The (port, control) learned from the events of one learn window, or None."""
    if not events:
        return None
    port, first = events[0]
    same = [e for p, e in events if p == port and e.channel == first.channel]
    if first.kind == "cc":
        numbers = {e.number for e in same if e.kind == "cc"}
        low = min(numbers)
        if low < 32 and low + 32 in numbers:
            return port, ControlMapping(Match("cc14", first.channel, low), address)
        if first.number >= 32 and first.number - 32 in numbers:
            return port, ControlMapping(Match("cc14", first.channel, first.number - 32), address)
        values = [e.value for e in same if e.kind == "cc" and e.number == first.number]
        encoding = _relative_encoding(values)
        if encoding:
            return port, ControlMapping(Match("cc", first.channel, first.number), address, mode="relative",
                                        encoding=encoding)
        return port, ControlMapping(Match("cc", first.channel, first.number), address)
    if first.kind == "note":
        return port, ControlMapping(Match("note", first.channel, first.number), address, button="toggle")
    if first.kind in ("nrpn", "rpn"):
        relative = any(e.delta is not None for e in same)
        return port, ControlMapping(Match(first.kind, first.channel, first.number), address,
                                    mode="relative" if relative else "absolute")
    if first.kind == "cc14":
        return port, ControlMapping(Match("cc14", first.channel, first.number), address)
    if first.kind in ("pitchbend", "pressure", "program"):
        return port, ControlMapping(Match(first.kind, first.channel), address)
    return None


def address_range(rig, address: str) -> tuple[float, float] | None:
    """The range a knob should sweep for ``address``: a global's, a latent bend's, a slot field's
    or its transform parameter's; None for what is not a number (transform names, modes)."""
    from performer.bending.transforms import get_transform
    from performer.rig.addresses import GLOBALS

    canonical = rig.resolve(address)
    if canonical in GLOBALS:
        return GLOBALS[canonical][0], GLOBALS[canonical][1]
    parts = canonical.split("/")
    if parts[0] == "latent":
        return (-3.0, 3.0) if parts[-1] == "offset" else (-2.0, 4.0)  # the musical part of -8..8
    field = parts[-1]
    if field in ("amount", "percent", "bypass"):
        return 0.0, 1.0
    if len(parts) == 3 and field not in ("transform", "mode", "seed"):
        slot = rig.get(f"{'/'.join(parts[:2])}/transform")
        if slot:
            try:
                param = get_transform(slot).param(field)
            except Exception:
                return None
            lo, hi = getattr(param, "min", None), getattr(param, "max", None)
            if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
                return float(lo), float(hi)
    return None


def with_address_range(rig, control: ControlMapping) -> ControlMapping:
    """A learned control sweeping its address's range (a gain knob in dB, not 0..1)."""
    try:
        found = address_range(rig, control.address)
    except Exception:
        found = None
    if found is None or (control.min, control.max) == found:
        return control
    return replace(control, min=found[0], max=found[1])


def save_learned(path: Path, control: ControlMapping) -> Mapping:
    """Add ``control`` to the user's mapping file (replacing any control on the same message),
    written atomically; returns the mapping as saved. An existing file is edited in place with a
    TOML writer: the performer's comments, order and other entries stay as they were."""
    path = Path(path)
    if path.exists():
        mapping = load_mapping(path)  # a broken file is reported, never overwritten
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    else:
        mapping = Mapping(name="Learned", path=path, description="controls bound with MIDI learn")
        document = to_document(mapping)
    tables = document.setdefault("controls", tomlkit.aot())
    for i in reversed([i for i, c in enumerate(mapping.controls) if c.match == control.match]):
        del tables[i]  # load_mapping keeps the file's order: entry i is table i
    tables.append(_control_table(control))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, tomlkit.dumps(document).encode("utf-8"))  # the previous file stays as learned.toml.prev
    return load_mapping(path)


def to_toml(mapping: Mapping) -> str:
    """A mapping as TOML in the documented format (only non-default options are written)."""
    return tomlkit.dumps(to_document(mapping))


def to_document(mapping: Mapping) -> tomlkit.TOMLDocument:
    document = tomlkit.document()
    document.add("schema_version", SCHEMA_VERSION)
    document.add("name", mapping.name)
    for key in ("author", "description", "device"):
        if getattr(mapping, key):
            document.add(key, getattr(mapping, key))
    if mapping.controls:
        document.add("controls", tomlkit.aot())
        for control in mapping.controls:
            document["controls"].append(_control_table(control))
    if mapping.outputs:
        document.add("outputs", tomlkit.aot())
        for output in mapping.outputs:
            document["outputs"].append(_table(output, {"address": output.address, "send": _match(output.send)},
                                              OutputMapping(output.address, output.send)))
    if mapping.macros:
        document.add("macros", tomlkit.aot())
        for macro in mapping.macros:
            table = tomlkit.table()
            table.add("macro", macro.macro)
            if macro.label:
                table.add("label", macro.label)
            targets = tomlkit.array()
            for target in macro.targets:
                inline = tomlkit.inline_table()
                inline.update({k: v for k, v in target.to_dict().items()
                               if v is not None and (k, v) != ("curve", "linear")})
                targets.append(inline)
            table.add("targets", targets.multiline(True))
            document["macros"].append(table)
    return document


def _control_table(control: ControlMapping) -> tomlkit.items.Table:
    return _table(control, {"match": _match(control.match), "address": control.address},
                  ControlMapping(control.match, control.address))


def _table(entry: object, first: dict, defaults: object) -> tomlkit.items.Table:
    """``first``, then every field of ``entry`` that differs from ``defaults``."""
    table = tomlkit.table()
    table.update(first)
    for key in (f.name for f in fields(entry)):
        value = getattr(entry, key)
        if key not in first and value != getattr(defaults, key):
            table.add(key, float(value) if isinstance(value, int) and not isinstance(value, bool) else value)
    return table


def _match(match: Match) -> tomlkit.items.InlineTable:
    table = tomlkit.inline_table()
    table.update({"type": match.type, "channel": match.channel})
    if match.number is not None:
        table["number"] = match.number
    return table
