"""Measuring a model: every tensor, every standard bend, the probe rendered offline and compared
with the unbent render.

Bends go through a Rig of the measured model (the same addresses, masks and seeded draws a
performer gets), one tensor at a time, reset after each bend; renders stream the probe in blocks
from fresh caches with the model's own randomness seeded, on one torch thread. So the same model,
probe and bends give the same numbers, run after run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch

from performer.model.loader import NNModel
from performer.rig import Rig
from performer.sensitivity.bends import DEFAULT_BENDS, Bend, parse_bend
from performer.sensitivity.measure import Analysis, analyse, compare
from performer.sensitivity.probe import make_probe
from performer.sensitivity.summary import scores, summarise
from performer.train.quality import run_streaming, torch_threads

log = logging.getLogger("performer.sensitivity")

MEASURE_VERSION = 1  # bump when a measure changes: cached maps made before are recomputed
BLOCK_SAMPLES = 8192  # render block: the largest multiple of the model's ratio up to this


@dataclass(frozen=True)
class Settings:
    """What a map depends on besides the model (part of its cache key)."""

    bends: tuple[str, ...] = DEFAULT_BENDS
    seconds: float = 2.5
    seed: int = 0

    def parsed(self) -> tuple[Bend, ...]:
        return tuple(parse_bend(b) for b in self.bends)

    def to_dict(self) -> dict:
        return {"bends": list(self.bends), "seconds": self.seconds, "seed": self.seed, "version": MEASURE_VERSION}


@dataclass
class TensorResult:
    index: int
    name: str
    bends: dict[str, dict]  # bend spec -> measures (see measure.compare)
    seconds: float = 0.0  # wall time it took (not part of the map's identity)

    @property
    def scores(self) -> dict[str, float]:
        return scores(self.bends)

    @property
    def broken(self) -> int:
        return sum(1 for r in self.bends.values() if not r.get("finite", True))

    @property
    def summary(self) -> str:
        return summarise(self.scores, self.broken)

    def to_dict(self) -> dict:
        return {"index": self.index, "scores": self.scores, "summary": self.summary, "broken": self.broken,
                "bends": self.bends, "seconds": round(self.seconds, 3)}

    @classmethod
    def from_dict(cls, name: str, data: dict) -> "TensorResult":
        return cls(int(data["index"]), name, dict(data["bends"]), float(data.get("seconds", 0.0)))


@dataclass
class Progress:
    done: int
    total: int
    tensor: str
    elapsed: float
    result: TensorResult | None = None

    @property
    def eta(self) -> float | None:
        return self.elapsed / self.done * (self.total - self.done) if self.done else None


def render_block(model: NNModel) -> int:
    ratio = model.block_multiple
    return ratio * max(1, BLOCK_SAMPLES // ratio)


class Measurer:
    """One model, one probe: the unbent reference is rendered once, then each tensor on request."""

    def __init__(self, model: NNModel, settings: Settings = Settings()):
        self.model, self.settings = model, settings
        self.bends = settings.parsed()
        self.rig = Rig(model, draw_cache_bytes=256 << 20)
        self.probe = make_probe(model.sample_rate, settings.seconds, settings.seed)
        self.block = render_block(model)
        self.reference: Analysis = analyse(self.render(), model.sample_rate)

    def render(self) -> np.ndarray:
        # Without TorchScript's optimising executor: its first calls (profiling, then fusing) cost
        # seconds per model, more than a whole map of short renders gains from it. The switch is
        # process-wide: measure in a process of its own (the CLI, the dashboard's worker).
        with torch_threads(1), torch.jit.optimized_execution(False):
            return run_streaming(self.model, self.probe.audio, block=self.block, seed=self.settings.seed, threads=1)

    def measure(self, index: int) -> TensorResult:
        started = time.perf_counter()
        info = self.rig.tensors[index]
        results = {}
        try:
            for bend in self.bends:
                for address, value in bend.addresses(index):
                    self.rig.set(address, value, source="sensitivity")
                self._install()
                results[bend.spec] = compare(self.reference, analyse(self.render(), self.model.sample_rate))
                self.rig.set(f"#{index}/reset", 1, source="sensitivity")
                self._install()
        finally:
            self.rig.set(f"#{index}/reset", 1, source="sensitivity")
            self._install()
        return TensorResult(index, info.name, results, time.perf_counter() - started)

    def _install(self) -> None:
        self.rig.compute_pending()
        self.rig.install_pending()


def select_tensors(rig_tensors, wanted: Iterable[str] | None) -> list[int]:
    """Tensor positions for names, ``#i`` or name fragments (None: all, in model order)."""
    if wanted is None:
        return [t.index for t in rig_tensors]
    from performer.errors import AddressError

    picked: list[int] = []
    for text in wanted:
        if text.startswith("#") and text[1:].isdigit() and int(text[1:]) < len(rig_tensors):
            found = [int(text[1:])]
        else:
            found = [t.index for t in rig_tensors if t.name == text] or \
                    [t.index for t in rig_tensors if text in t.name]
        if not found:
            raise AddressError(f"no tensor matches {text!r} (a name, a part of one, or #0..#{len(rig_tensors) - 1}; "
                               f"list them with `performer layers MODEL`)")
        picked += [i for i in found if i not in picked]
    return sorted(picked)


def measure_model(model: NNModel, settings: Settings = Settings(), tensors: Iterable[str] | None = None,
                  done: dict[str, TensorResult] | None = None,
                  progress: Callable[[Progress], None] | None = None) -> dict[str, TensorResult]:
    """Measure ``tensors`` (default all) of ``model``; those in ``done`` (a partial map) are kept,
    not measured again. ``progress`` is called after the reference and after each tensor."""
    done = dict(done or {})
    started = time.perf_counter()
    measurer = Measurer(model, settings)
    todo = [i for i in select_tensors(measurer.rig.tensors, tensors) if measurer.rig.tensors[i].name not in done]
    total = len(todo)
    if progress:
        progress(Progress(0, total, "", time.perf_counter() - started))
    for k, index in enumerate(todo, 1):
        result = measurer.measure(index)
        done[result.name] = result
        log.debug("%s: %s (%.1f s)", result.name, result.summary, result.seconds)
        if progress:
            progress(Progress(k, total, result.name, time.perf_counter() - started, result))
    return done

