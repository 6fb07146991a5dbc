"""The standard bends a sensitivity map applies to every tensor, as short text specs.

A spec is ``TRANSFORM[:PARAM=VALUE...][@PERCENT]``: ``noise@100`` (gaussian noise at 1 σ on every
value), ``scale:factor=0@10`` (10 % of the values set to 0), ``invert@100``. A list is
comma-separated. Each bend is one slot at amount 1 with a random mask of seed 0, set through the
Rig's own addresses, so a map measures exactly what a performer gets from the same knobs.
"""

from __future__ import annotations

from dataclasses import dataclass

from performer.bending.transforms import TRANSFORMS, get_transform
from performer.errors import ValueRangeError

# Noise at 1 σ, scale to 0 and invert, each on every value and on one in ten.
DEFAULT_BENDS = ("noise@100", "noise@10", "scale:factor=0@100", "scale:factor=0@10", "invert@100", "invert@10")


@dataclass(frozen=True)
class Bend:
    transform: str
    params: tuple[tuple[str, float | str], ...]
    percent: float  # 0..100

    @property
    def spec(self) -> str:
        params = "".join(f":{k}={v:g}" if isinstance(v, float) else f":{k}={v}" for k, v in self.params)
        return f"{self.transform}{params}@{self.percent:g}"

    def addresses(self, tensor: int) -> list[tuple[str, object]]:
        """(address, value) pairs that put this bend on slot 0 of tensor ``#tensor``."""
        base = f"#{tensor}/0"
        pairs: list[tuple[str, object]] = [(f"{base}/transform", self.transform)]
        pairs += [(f"{base}/{k}", v) for k, v in self.params]
        pairs += [(f"{base}/amount", 1.0), (f"{base}/percent", self.percent / 100.0),
                  (f"{base}/mode", "random"), (f"{base}/seed", 0)]
        return pairs


def parse_bend(text: str) -> Bend:
    """One spec; errors say what was found and what is valid."""
    body, at, percent_text = text.strip().partition("@")
    percent = 100.0
    if at:
        try:
            percent = float(percent_text.rstrip("%"))
        except ValueError:
            raise ValueRangeError(f"bend {text!r}: the percentage after @ must be a number 0..100") from None
        if not 0.0 < percent <= 100.0:
            raise ValueRangeError(f"bend {text!r}: the percentage must be in range 0..100 (above 0), got {percent:g}")
    name, *assignments = body.split(":")
    if name not in TRANSFORMS or name == "none":
        valid = ", ".join(n for n in TRANSFORMS if n != "none")
        raise ValueRangeError(f"bend {text!r}: unknown transform {name!r}; one of: {valid}")
    transform = get_transform(name)
    params: list[tuple[str, float | str]] = []
    for assignment in assignments:
        key, eq, value = assignment.partition("=")
        if not eq:
            raise ValueRangeError(f"bend {text!r}: parameters are written :NAME=VALUE, got {assignment!r}")
        param = transform.param(key)  # names the valid parameters when unknown
        params.append((key, param.coerce(_number_or_text(value), where=f"bend {text!r}: ")))
    return Bend(name, tuple(params), percent)


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


def parse_bends(text: str | None) -> tuple[Bend, ...]:
    """A comma-separated list of specs (None or empty: the default set); duplicates are an error."""
    specs = [s for s in (text or "").split(",") if s.strip()] or list(DEFAULT_BENDS)
    bends = tuple(parse_bend(s) for s in specs)
    seen = [b.spec for b in bends]
    if len(set(seen)) != len(seen):
        raise ValueRangeError(f"--bends lists a bend twice: {', '.join(seen)}")
    return bends
