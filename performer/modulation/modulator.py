"""One modulator: its settings (validated, as plain data for scenes) and its output per tick.

Every kind produces ``u`` in 0..1 (an LFO shape, a step, an audio feature); ``polarity`` makes it
bipolar (2u - 1) or leaves it unipolar; the output is ``offset + depth * that``, kept in -1..1.
A target receives ``output * target depth * the target's range``, so depth 0.1 on an amount
(0..1) moves it by 0.1 and on output/gain (-60..12 dB) by 7.2 dB.

Rates: ``rate`` in Hz runs free (a phase accumulator, so moving the rate never jumps); with
``sync`` on, one cycle lasts ``beats`` beats and the phase is locked to the tempo's beat
(``beat / beats + phase``), so every peer of a Link session sees the same shape at the same beat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from performer.bending.transforms import coerce_number
from performer.errors import ValueRangeError
from performer.modulation.shapes import LFO_SHAPES, lfo, step

FEATURE_KINDS = ("envelope", "loudness", "flux", "onset", "pitch")
KINDS = ("off", *LFO_SHAPES, "steps", *FEATURE_KINDS)
POLARITIES = ("bipolar", "unipolar")
MAX_TARGETS = 8
MAX_STEPS = 16
# field: (min, max, default, unit) -- what a knob, a scene or OSC may set
NUMBERS: dict[str, tuple[float, float, float, str]] = {
    "rate": (0.01, 50.0, 1.0, "Hz, when not synced"),
    "beats": (0.25, 32.0, 1.0, "beats per cycle when synced: 0.25 = a 16th note, 32 = 8 bars of 4/4"),
    "sync": (0.0, 1.0, 0.0, "1 = phase locked to the beat"),
    "depth": (0.0, 1.0, 1.0, "share of the output"),
    "offset": (-1.0, 1.0, 0.0, "added to the output"),
    "phase": (0.0, 1.0, 0.0, "cycles"),
    "attack": (0.1, 5000.0, 10.0, "ms (envelope and audio features)"),
    "release": (1.0, 10000.0, 200.0, "ms (envelope and audio features)"),
    "length": (1.0, float(MAX_STEPS), float(MAX_STEPS), "steps"),
    "seed": (0.0, float(2**31 - 1), 0.0, "random shapes"),
}
WHOLE = ("sync", "length", "seed")


@dataclass
class Target:
    address: str  # canonical
    depth: float  # -1..1, share of the target's range
    span: float  # the target's range (max - min) when it was set


def check_number(label: str, field: str, value: object) -> float:
    lo, hi, _, unit = NUMBERS[field]
    number = coerce_number(value, label)
    if not lo <= number <= hi:
        raise ValueRangeError(f"{label} must be in range {lo:g}..{hi:g} ({unit}), got {number:g}")
    if field in WHOLE:
        if field == "sync":
            return float(number >= 0.5)
        if number != math.floor(number):
            raise ValueRangeError(f"{label} must be a whole number, got {number:g}")
    return number


def check_choice(label: str, value: object, choices: tuple[str, ...]) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == int(value) \
            and 0 <= value < len(choices):
        return choices[int(value)]  # a MIDI knob or an OSC int picks by position
    if not isinstance(value, str) or value not in choices:
        raise ValueRangeError(f"{label} must be one of {', '.join(choices)} (or 0..{len(choices) - 1}), got {value!r}")
    return value


def check_target_depth(label: str, value: object) -> float:
    number = coerce_number(value, label)
    if not -1.0 <= number <= 1.0:
        raise ValueRangeError(f"{label} must be in range -1..1 (share of the target's range), got {number:g}")
    return number


def check_step(label: str, value: object) -> float:
    number = coerce_number(value, label)
    if not 0.0 <= number <= 1.0:
        raise ValueRangeError(f"{label} must be in range 0..1, got {number:g}")
    return number


class Modulator:
    """Settings and runtime state of one modulator (the engine's thread owns the runtime part)."""

    def __init__(self, index: int):
        self.index = index
        self.kind = "off"
        self.polarity = "bipolar"
        self.numbers = {name: spec[2] for name, spec in NUMBERS.items()}
        self.steps = [0.0] * MAX_STEPS
        self.targets: list[Target | None] = [None] * MAX_TARGETS
        self.value = 0.0  # the last output, -1..1 (for UIs)
        self._cycles = 0.0  # free-running phase accumulator
        self._follow = 0.0  # envelope / feature smoothing state

    @property
    def label(self) -> str:
        return f"mod/{self.index}"

    @property
    def active(self) -> bool:
        return self.kind != "off" and any(self.targets)

    # -- plain data (scenes, undo) --------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"kind": self.kind, "polarity": self.polarity, **self.numbers, "steps": list(self.steps),
                "targets": [None if t is None else {"address": t.address, "depth": t.depth} for t in self.targets]}

    def is_default(self) -> bool:
        return self.kind == "off" and not any(self.targets) and self.to_dict() == _DEFAULT

    # -- the output -----------------------------------------------------------------------------
    def output(self, dt: float, beat: float, features) -> float:
        """Advance by ``dt`` seconds and return the output in -1..1 (``beat``: the tempo's now)."""
        n = self.numbers
        kind = self.kind
        if kind in FEATURE_KINDS:
            u = self._smooth(features.value(kind), dt)
        else:
            if n["sync"] >= 0.5:
                c = beat / n["beats"] + n["phase"]
            else:
                self._cycles = (self._cycles + n["rate"] * dt) % 1_000_000.0  # bounded: float precision
                c = self._cycles + n["phase"]
            u = step(self.steps, int(n["length"]), c) if kind == "steps" else lfo(kind, c, int(n["seed"]))
        v = 2.0 * u - 1.0 if self.polarity == "bipolar" else u
        out = n["offset"] + n["depth"] * v
        self.value = -1.0 if out < -1.0 else 1.0 if out > 1.0 else out
        return self.value

    def _smooth(self, x: float, dt: float) -> float:
        """One-pole follower: ``attack`` ms to rise, ``release`` ms to fall (time constants)."""
        ms = self.numbers["attack"] if x > self._follow else self.numbers["release"]
        k = 1.0 - math.exp(-dt * 1000.0 / ms) if dt > 0 else 1.0
        self._follow += (x - self._follow) * k
        return self._follow

    def reset_runtime(self) -> None:
        self._cycles = 0.0
        self._follow = 0.0
        self.value = 0.0


_DEFAULT = Modulator(0).to_dict()
