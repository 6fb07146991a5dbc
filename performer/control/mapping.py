"""Mapping files: which MIDI control moves which Rig address, and what goes back out.

A mapping is a TOML file (format in docs/mappings.md; profiles in ``mappings/``). Loading
validates everything up front and names the file, the entry and what is wrong, so a typo in one
profile never takes the others down: ``load_mappings`` returns the good ones and the errors.
Addresses are checked against the loaded model later, when the mapping is bound to a Rig.
``[[macros]]`` entries define macros (``macro/<i>``: targets, each with a range and a curve);
``performer serve`` makes them the macros' definitions when the mappings load (surfaces.py).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from performer.errors import PerformerError

SCHEMA_VERSION = 1
MESSAGE_TYPES = ("cc", "cc14", "nrpn", "rpn", "note", "pitchbend", "pressure", "program")
NUMBERED = {"cc": 127, "cc14": 31, "nrpn": 16383, "rpn": 16383, "note": 127}
CURVES = ("linear", "exponential", "logarithmic")
TAKEOVERS = ("none", "pickup", "scaling")
MODES = ("absolute", "relative")
ENCODINGS = ("twos_complement", "binary_offset", "signed_bit", "signed_bit_2")
BUTTONS = ("momentary", "toggle")
CONTROL_KEYS = {"match", "address", "min", "max", "curve", "invert", "step", "takeover", "mode", "encoding",
                "acceleration", "button", "velocity", "label"}
OUTPUT_KEYS = {"address", "send", "min", "max", "curve", "invert", "label"}
MACROS, MAX_TARGETS = 8, 8  # macro/0..7, 8 targets each: performer.modulation.macros (not imported: torch)
MACRO_KEYS = {"macro", "label", "targets"}
MACRO_TARGET_KEYS = {"address", "min", "max", "curve"}
MACRO_CURVES = {"linear": "linear", "exp": "exp", "log": "log", "s": "s", "exponential": "exp",
                "logarithmic": "log"}  # the controls' spellings too
TOP_KEYS = {"schema_version", "name", "author", "description", "device", "controls", "outputs", "macros"}


class MappingError(PerformerError):
    """A mapping file that cannot be used, with where and why."""


@dataclass(frozen=True)
class Match:
    type: str
    channel: int  # 1..16
    number: int | None = None  # CC, note or parameter number; None for pitchbend/pressure/program


@dataclass(frozen=True)
class ControlMapping:
    match: Match
    address: str
    min: float = 0.0
    max: float = 1.0
    curve: str = "linear"
    invert: bool = False
    step: float = 0.0
    takeover: str = "pickup"
    mode: str = "absolute"
    encoding: str = "twos_complement"
    acceleration: float = 0.0
    button: str = "momentary"
    velocity: bool = False
    label: str = ""


@dataclass(frozen=True)
class OutputMapping:
    address: str
    send: Match
    min: float = 0.0
    max: float = 1.0
    curve: str = "linear"
    invert: bool = False
    label: str = ""


@dataclass(frozen=True)
class MacroTargetMapping:
    address: str
    min: float | None = None  # None: the address's bottom
    max: float | None = None  # None: its top
    curve: str = "linear"  # linear | exp | log | s

    def to_dict(self) -> dict:
        return {"address": self.address, "min": self.min, "max": self.max, "curve": self.curve}


@dataclass(frozen=True)
class MacroMapping:
    """A macro the mapping defines: ``macro/<macro>`` sets each target over its range and curve."""

    macro: int
    targets: tuple[MacroTargetMapping, ...]
    label: str = ""


@dataclass
class Mapping:
    name: str
    path: Path | None = None
    author: str = ""
    description: str = ""
    device: str = ""  # a regular expression searched (case-insensitively) in MIDI port names
    controls: list[ControlMapping] = field(default_factory=list)
    outputs: list[OutputMapping] = field(default_factory=list)
    macros: list[MacroMapping] = field(default_factory=list)

    def matches_port(self, port_name: str) -> bool:
        return bool(self.device) and re.search(self.device, port_name, re.IGNORECASE) is not None


def load_mapping(path: Path | str) -> Mapping:
    """Read and validate one mapping file; MappingError says file, entry and problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"{path}: no such mapping file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML: {exc}") from None
    return parse_mapping(data, str(path), path)


def load_mappings(paths: list[Path]) -> tuple[list[Mapping], list[MappingError]]:
    """Every readable mapping among ``paths`` (files, or folders of ``*.toml``) and the errors
    of the others: one bad file never stops the rest."""
    files: list[Path] = []
    for p in paths:
        files.extend(sorted(Path(p).glob("*.toml")) if Path(p).is_dir() else [Path(p)])
    good, bad = [], []
    for f in files:
        try:
            good.append(load_mapping(f))
        except MappingError as exc:
            bad.append(exc)
    return good, bad


def parse_mapping(data: dict, where: str, path: Path | None = None) -> Mapping:
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise MappingError(f"{where}: unknown key(s) {sorted(unknown)}; valid: {sorted(TOP_KEYS)}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise MappingError(f"{where}: schema_version must be {SCHEMA_VERSION}, got {version!r}")
    name = _string(data, "name", where, required=True)
    device = _string(data, "device", where)
    if device:
        try:
            re.compile(device)
        except re.error as exc:
            raise MappingError(f"{where}: device pattern {device!r} is not a valid regular expression: {exc}") from None
    controls = [_control(entry, f"{where}: controls[{i}]") for i, entry in enumerate(_list(data, "controls", where))]
    outputs = [_output(entry, f"{where}: outputs[{i}]") for i, entry in enumerate(_list(data, "outputs", where))]
    macros = [_macro(entry, f"{where}: macros[{i}]") for i, entry in enumerate(_list(data, "macros", where))]
    seen: dict[Match, int] = {}
    for i, control in enumerate(controls):
        if control.match in seen and not control.match.type == "program":
            raise MappingError(f"{where}: controls[{i}] matches the same message as controls[{seen[control.match]}] "
                               f"({_describe(control.match)})")
        seen.setdefault(control.match, i)
    defined: dict[int, int] = {}
    for i, macro in enumerate(macros):
        if macro.macro in defined:
            raise MappingError(f"{where}: macros[{i}] defines macro/{macro.macro} again "
                               f"(macros[{defined[macro.macro]}] did): one entry per macro")
        defined[macro.macro] = i
    return Mapping(name=name, path=path, author=_string(data, "author", where),
                   description=_string(data, "description", where), device=device, controls=controls, outputs=outputs,
                   macros=macros)


def _check_table(entry: object, where: str, keys: set[str], what: str = "a table") -> None:
    """An entry of a mapping file: a table with only the keys its kind knows."""
    if not isinstance(entry, dict):
        raise MappingError(f"{where}: must be {what}, got {type(entry).__name__}")
    unknown = set(entry) - keys
    if unknown:
        raise MappingError(f"{where}: unknown key(s) {sorted(unknown)}; valid: {sorted(keys)}")


def _control(entry: object, where: str) -> ControlMapping:
    _check_table(entry, where, CONTROL_KEYS)
    match = _match(entry.get("match"), f"{where}.match")
    address = _string(entry, "address", where, required=True)
    lo, hi = _number(entry, "min", where, 0.0), _number(entry, "max", where, 1.0)
    mode = _choice(entry, "mode", where, MODES, "absolute")
    if mode == "relative" and match.type not in ("cc", "nrpn", "rpn"):
        raise MappingError(f"{where}: mode = \"relative\" needs a cc, nrpn or rpn match, not {match.type}")
    step = _number(entry, "step", where, 0.0)
    acceleration = _number(entry, "acceleration", where, 0.0)
    if step < 0 or acceleration < 0:
        raise MappingError(f"{where}: step and acceleration must be >= 0")
    return ControlMapping(
        match=match, address=address, min=lo, max=hi, curve=_choice(entry, "curve", where, CURVES, "linear"),
        invert=_bool(entry, "invert", where), step=step,
        takeover=_choice(entry, "takeover", where, TAKEOVERS, "pickup"), mode=mode,
        encoding=_choice(entry, "encoding", where, ENCODINGS, "twos_complement"), acceleration=acceleration,
        button=_choice(entry, "button", where, BUTTONS, "momentary"), velocity=_bool(entry, "velocity", where),
        label=_string(entry, "label", where))


def _output(entry: object, where: str) -> OutputMapping:
    _check_table(entry, where, OUTPUT_KEYS)
    send = _match(entry.get("send"), f"{where}.send")
    if send.type == "program":
        raise MappingError(f"{where}.send: feedback cannot be a program change")
    return OutputMapping(address=_string(entry, "address", where, required=True), send=send,
                         min=_number(entry, "min", where, 0.0), max=_number(entry, "max", where, 1.0),
                         curve=_choice(entry, "curve", where, CURVES, "linear"), invert=_bool(entry, "invert", where),
                         label=_string(entry, "label", where))


def _macro(entry: object, where: str) -> MacroMapping:
    _check_table(entry, where, MACRO_KEYS)
    index = entry.get("macro")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < MACROS:
        raise MappingError(f"{where}: macro must be an integer 0..{MACROS - 1} (macro/0 .. macro/{MACROS - 1}), "
                           f"got {index!r}")
    targets = entry.get("targets")
    if not isinstance(targets, list) or not targets:
        raise MappingError(f"{where}: targets must be a non-empty array of tables, e.g. "
                           "targets = [{ address = \"#35/0/amount\", min = 0.2, max = 0.9 }]")
    if len(targets) > MAX_TARGETS:
        raise MappingError(f"{where}: a macro takes up to {MAX_TARGETS} targets, got {len(targets)}")
    return MacroMapping(index, tuple(_macro_target(t, f"{where}.targets[{k}]") for k, t in enumerate(targets)),
                        label=_string(entry, "label", where))


def _macro_target(entry: object, where: str) -> MacroTargetMapping:
    _check_table(entry, where, MACRO_TARGET_KEYS, "a table with an address")
    ends = [None if entry.get(key) is None else _number(entry, key, where, 0.0) for key in ("min", "max")]
    curve = entry.get("curve", "linear")
    if curve not in MACRO_CURVES:
        raise MappingError(f"{where}: curve must be one of linear, exp, log, s (or exponential, logarithmic); "
                           f"got {curve!r}")
    return MacroTargetMapping(_string(entry, "address", where, required=True), ends[0], ends[1], MACRO_CURVES[curve])


def _match(value: object, where: str) -> Match:
    if not isinstance(value, dict):
        raise MappingError(f"{where}: missing or not a table; e.g. {{ type = \"cc\", channel = 1, number = 16 }}")
    unknown = set(value) - {"type", "channel", "number"}
    if unknown:
        raise MappingError(f"{where}: unknown key(s) {sorted(unknown)}; valid: channel, number, type")
    kind = value.get("type")
    if kind not in MESSAGE_TYPES:
        raise MappingError(f"{where}: type must be one of {', '.join(MESSAGE_TYPES)}; got {kind!r}")
    channel = value.get("channel", 1)
    if not isinstance(channel, int) or isinstance(channel, bool) or not 1 <= channel <= 16:
        raise MappingError(f"{where}: channel must be an integer 1..16 (as printed on controllers), got {channel!r}")
    number = value.get("number")
    if kind in NUMBERED:
        top = NUMBERED[kind]
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= top:
            extra = " (the MSB controller; its LSB is number + 32)" if kind == "cc14" else ""
            raise MappingError(f"{where}: {kind} needs number 0..{top}{extra}, got {number!r}")
    elif number is not None:
        raise MappingError(f"{where}: {kind} takes no number")
    return Match(kind, channel, number)


def _describe(match: Match) -> str:
    number = f" {match.number}" if match.number is not None else ""
    return f"{match.type}{number} on channel {match.channel}"


def _list(data: dict, key: str, where: str) -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise MappingError(f"{where}: {key} must be an array of tables ([[{key}]])")
    return value


def _string(data: dict, key: str, where: str, required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise MappingError(f"{where}: missing {key}")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise MappingError(f"{where}: {key} must be a non-empty string, got {value!r}")
    return value


def _number(data: dict, key: str, where: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MappingError(f"{where}: {key} must be a number, got {value!r}")
    return float(value)


def _bool(data: dict, key: str, where: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise MappingError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _choice(data: dict, key: str, where: str, choices: tuple[str, ...], default: str) -> str:
    value = data.get(key, default)
    if value not in choices:
        raise MappingError(f"{where}: {key} must be one of {', '.join(choices)}; got {value!r}")
    return value
