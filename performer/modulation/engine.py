"""The modulation engine: a thread that ticks at a control rate and hands the Rig its offsets.

Each tick reads the beat, analyses the input's newest samples (only for features some modulator
uses), computes every active modulator, sums their contributions per target and replaces the
Rig's modulation offsets whole (``Rig.modulate``): no change event and no undo entry per tick,
and the knobs keep their values. The Rig recomputes only tensors whose offsets changed, on the
bend worker as for a knob move, and the model thread installs them between blocks. Nothing here
touches the audio callback.

The Show owns one ``Modulation(rig, tempo, features)`` and calls ``start()`` and ``stop()``; the
model thread calls ``features.push(block)`` once per block. ``tick()`` is public so offline
renders and benches can step it without the thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import numpy as np

from performer.bending.transforms import coerce_number
from performer.errors import ValueRangeError
from performer.modulation import addresses
from performer.modulation.features import Features, SilentFeatures
from performer.modulation.macros import MACROS, Macro, MacroTarget, apply_macro, check_curve
from performer.modulation.modulator import FEATURE_KINDS, Modulator
from performer.modulation.tempo import Tempo
from performer.rig.addresses import GLOBALS

log = logging.getLogger("performer.modulation")
MAX_DT_S = 0.1  # a tick after a long stall moves free LFOs at most this far
POLL_EVERY = 10  # ticks between clock checks (10 Hz at 100 Hz)


class Modulation:
    """Modulators, macros and tempo for one Rig (see the module doc and ``addresses``).

    ``rig``: what the engine reads targets from and writes offsets to (``resolve``,
    ``value_range``, ``modulate``, ``add_action``, ``add_section``, ``set``, ``state``,
    ``load_state``). ``tempo``: the beat (default: an internal clock at 120 BPM). ``features``:
    the input analyser the model thread feeds (default: silence).
    """

    def __init__(self, rig, tempo: Tempo | None = None, features: Features | None = None, *,
                 rate_hz: float = 100.0, tensor_rate_hz: float = 50.0, modulators: int = 16, macros: int = MACROS,
                 register: bool = True):
        if not 1.0 <= rate_hz <= 1000.0:
            raise ValueError(f"rate_hz must be in range 1..1000, got {rate_hz:g}")
        if not 1.0 <= tensor_rate_hz:
            raise ValueError(f"tensor_rate_hz must be at least 1, got {tensor_rate_hz:g}")
        self.rig = rig
        self._own_tempo = tempo is None  # closed with us only if we made it
        self.tempo = tempo or Tempo()
        self.features = features or SilentFeatures()
        self.period = 1.0 / rate_hz
        # Tensor targets cost a recompute on the bend worker each time they move, and only the last
        # one before a block boundary is heard: they follow at most this often (globals and
        # latents, which cost nothing, every tick).
        self.tensor_period = 1.0 / tensor_rate_hz
        self._tensor_t = -1e9
        self._tensor_offsets: dict[str, float] = {}
        self.modulators = [Modulator(i) for i in range(modulators)]
        self.macros = [Macro(i) for i in range(macros)]
        self.last_report: list[str] = []
        self.actions: dict = {}
        for m in self.modulators:
            self.actions.update(addresses.modulator_actions(rig, m))
        for x in self.macros:
            self.actions.update(addresses.macro_actions(rig, x, self._apply_macro))
        self.actions.update(addresses.tempo_actions(self.tempo))
        self._lock = threading.Lock()  # a tick against a whole-section load
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_t: float | None = None
        self._had_offsets = False
        self.offsets: dict[str, float] = {}  # the last tick's, for UIs
        self.ticks = 0
        self._costs: deque[float] = deque(maxlen=20000)  # seconds per tick
        self._late: deque[float] = deque(maxlen=20000)  # seconds past each tick's deadline
        self.registered = False
        if register:
            self.register()

    # -- lifecycle ------------------------------------------------------------------------------
    def register(self) -> None:
        """Make the addresses and the ``modulation`` state section the Rig's."""
        for address, (setter, getter) in self.actions.items():
            self.rig.add_action(address, setter, getter)
        self.rig.add_section(addresses.SECTION, lambda: addresses.section_data(self), self._load_section)
        self.registered = True

    def start(self) -> "Modulation":
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="performer-modulation", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """End the thread and clear the offsets (the knobs' values are heard again)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        self.rig.modulate({})
        self._had_offsets = False
        self._tensor_offsets, self._tensor_t = {}, -1e9

    def close(self) -> None:
        """Stop, and take the addresses and the section off the Rig (a tempo passed in stays open:
        its owner closes it)."""
        self.stop()
        if self.registered:
            for address in self.actions:
                self.rig.remove_action(address)
            self.rig.remove_section(addresses.SECTION)
            self.registered = False
        if self._own_tempo:
            self.tempo.close()

    # -- one control step ---------------------------------------------------------------------
    def tick(self, t: float | None = None) -> dict[str, float]:
        """Compute the modulators at monotonic time ``t`` and give the Rig their offsets."""
        t = self.tempo.now() if t is None else t
        dt = 0.0 if self._last_t is None else min(max(t - self._last_t, 0.0), MAX_DT_S)
        self._last_t = t
        with self._lock:
            active = [m for m in self.modulators if m.active]
            offsets: dict[str, float] = {}
            if active:
                needs = {m.kind for m in active if m.kind in FEATURE_KINDS}
                if needs:
                    self.features.analyse(needs, t)
                beat = self.tempo.beat_at(t)
                for m in active:
                    out = m.output(dt, beat, self.features)
                    for target in m.targets:
                        if target is not None:
                            offsets[target.address] = offsets.get(target.address, 0.0) + out * target.depth * target.span
        if t - self._tensor_t >= self.tensor_period - 1e-6:
            self._tensor_t = t
            self._tensor_offsets = {a: v for a, v in offsets.items() if _is_tensor(a)}
        else:  # between tensor updates: theirs stay as they were (no recompute), the rest move
            offsets = {a: v for a, v in offsets.items() if not _is_tensor(a)} | self._tensor_offsets
        if offsets or self._had_offsets:
            self.rig.modulate(offsets)
            self._had_offsets = bool(offsets)
        self.offsets = offsets
        self.ticks += 1
        if self.ticks % POLL_EVERY == 0:
            self.tempo.poll()
        return offsets

    def _run(self) -> None:
        deadline = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now < deadline:
                self._stop.wait(deadline - now)
                continue
            self._late.append(now - deadline)
            start = time.perf_counter()
            try:
                self.tick(now)
            except Exception:  # a bad tick must not end modulation for the show
                log.exception("modulation tick failed")
            self._costs.append(time.perf_counter() - start)
            deadline += self.period
            if time.monotonic() - deadline > self.period:  # fell behind (a stall): skip, never burst
                deadline = time.monotonic() + self.period

    # -- views ------------------------------------------------------------------------------------
    def stats(self) -> dict:
        """Tick cost and lateness (jitter) so far, in microseconds / milliseconds."""
        costs = np.array(self._costs) * 1e6
        late = np.array(self._late) * 1e3
        out = {"ticks": self.ticks, "rate_hz": 1.0 / self.period, "tensor_rate_hz": 1.0 / self.tensor_period}
        if len(costs):
            out.update(tick_us_p50=float(np.percentile(costs, 50)), tick_us_p99=float(np.percentile(costs, 99)),
                       tick_us_max=float(costs.max()))
        if len(late):
            out.update(late_ms_p50=float(np.percentile(late, 50)), late_ms_p99=float(np.percentile(late, 99)),
                       late_ms_max=float(late.max()))
        return out

    def describe(self) -> dict:
        """For UIs: active modulators with their outputs and their targets' knob and heard values,
        macros with their targets, the tempo."""
        mods = []
        for m in self.modulators:
            if m.is_default():
                continue
            targets = []
            for k, target in enumerate(m.targets):
                if target is not None:
                    try:
                        knob, heard = self.rig.get(target.address), self.rig.modulated(target.address)
                    except Exception:  # noqa: BLE001 -- a target whose slot went away
                        knob = heard = None
                    targets.append({"slot": k, "address": target.address, "depth": target.depth,
                                    "knob": knob, "value": heard})
            mods.append({"index": m.index, **{k: v for k, v in m.to_dict().items() if k != "targets"},
                         "value": m.value, "targets": targets})
        macros = [{"index": x.index, "value": x.value, **x.to_dict(),
                   **({"mapping": x.base_from} if x.base_from else {})} for x in self.macros if not x.is_default()]
        return {"modulators": mods, "macros": macros, "tempo": self.tempo.describe(), "stats": self.stats()}

    # -- helpers for benches and scripts (each is a Rig.set, so logged and undoable) -----------
    def configure(self, index: int, kind: str, targets: dict[str, float], source: str = "api", **fields) -> None:
        """Set modulator ``index``: its kind, fields (rate=..., sync=1, beats=...), and targets
        (address -> depth), clearing the targets it had."""
        p = f"mod/{index}"
        self.rig.set(f"{p}/kind", kind, source)
        for field, value in fields.items():
            self.rig.set(f"{p}/{field}", value, source)
        for k in range(len(self.modulators[index].targets)):
            self.rig.set(f"{p}/target/{k}", "", source)
        for k, (address, depth) in enumerate(targets.items()):
            self.rig.set(f"{p}/target/{k}", address, source)
            self.rig.set(f"{p}/target/{k}/depth", depth, source)

    def define_macro(self, index: int, targets: list[dict], source: str = "mapping", origin: str = "") -> list[str]:
        """Make ``targets`` macro ``index``'s base definition (what a mapping file's ``[[macros]]``
        gives) and its current one. Each target: ``address``, and optionally ``min``, ``max``
        (default: the address's whole range) and ``curve``. All of it is checked against this
        model first: on an error (PerformerError naming ``macro/<i>/target/<k>/...``) nothing
        changes. Then each target is set through its address (a change event, an undo entry, the
        bending log, as a performer setting it); returns the canonical target addresses."""
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(self.macros):
            raise ValueRangeError(f"macro must be in range 0..{len(self.macros) - 1}, got {index!r}")
        macro = self.macros[index]
        if len(targets) > len(macro.targets):
            raise ValueRangeError(f"{macro.label} takes up to {len(macro.targets)} targets, got {len(targets)}")
        base: list[MacroTarget | None] = [None] * len(macro.targets)
        for k, spec in enumerate(targets):
            label = f"{macro.label}/target/{k}"
            found = addresses.check_target(self.rig, label, spec.get("address"))
            if found is None:
                raise ValueRangeError(f"{label}: needs an address")
            address, lo, hi = found
            ends = []
            for which, default in (("min", lo), ("max", hi)):
                value = spec.get(which)
                if value is None:
                    ends.append(default)
                    continue
                number = coerce_number(value, f"{label}/{which}")
                if not lo <= number <= hi:
                    raise ValueRangeError(f"{label}/{which} must be in range {lo:g}..{hi:g} (the range of "
                                          f"{address}), got {number:g}")
                ends.append(number)
            base[k] = MacroTarget(address, ends[0], ends[1], check_curve(f"{label}/curve", spec.get("curve", "linear")))
        with self._lock:
            macro.base, macro.base_from = base, origin
        p = macro.label
        for k, target in enumerate(base):
            current = macro.targets[k]
            if target is None:
                if current is not None:
                    self.rig.set(f"{p}/target/{k}", "", source)
                continue
            if current is None or current.address != target.address:
                self.rig.set(f"{p}/target/{k}", target.address, source)
            for which, value in (("min", target.lo), ("max", target.hi), ("curve", target.curve)):
                if getattr(macro.targets[k], {"min": "lo", "max": "hi"}.get(which, which)) != value:
                    self.rig.set(f"{p}/target/{k}/{which}", value, source)
        return [t.address for t in base if t is not None]

    # -- internals ------------------------------------------------------------------------------
    def _apply_macro(self, macro: Macro, x: float, source: str) -> None:
        report = apply_macro(self.rig, macro, x, source)
        if report:
            self.last_report = report
            log.warning("%s: %s", macro.label, "; ".join(report))

    def _load_section(self, data: object, source: str) -> list[str]:
        with self._lock:
            report = addresses.load_section(self, data, source)
        self.last_report = report
        return report


def _is_tensor(address: str) -> bool:
    """A slot address (its offset means a tensor recompute), not a global or a latent."""
    return address not in GLOBALS and not address.startswith("latent/")
