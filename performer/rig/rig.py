"""The Rig: loaded model, bend state and audio parameters; every change is one ``set`` call.

Control threads (CLI, MIDI, OSC, web) call ``set``; it validates, updates the state, emits a
change event and marks the tensor dirty. ``compute_pending`` (bend worker or offline loop)
computes dirty tensors from their originals and publishes them together; the model thread calls
``install_pending`` between blocks. Audio parameters reach the engine as an immutable
``AudioParams`` snapshot, replaced whole (an atomic attribute store), never mutated.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from performer.bending.bank import TensorBank
from performer.bending.chain import MAX_SEED, MAX_SLOTS, SLOT_FIELDS_TYPES, Slot, placeholder_slot
from performer.bending.masks import MASK_MODES
from performer.bending.transforms import TRANSFORMS, get_transform
from performer.errors import AddressError, ValueRangeError
from performer.model.loader import NNModel
from performer.model.tensors import TensorInfo, describe_tensors
from performer.rig import addresses, values
from performer.rig.addresses import GLOBALS, Address
from performer.rig.overlay import Overlay, field_range
from performer.rig.state import plan_state
from performer.rig.values import LATENT_RANGE
from performer.rig.changes import ChangeDispatcher

log = logging.getLogger("performer.rig")
# Addresses a scene session adds as actions (scenes/manager.py): without one, say so plainly.
SESSION_ROOTS = frozenset({"scene", "setlist", "undo", "redo", "panic"})
STATE_ADDRESS = "state"  # the change event of a whole-state load: its value is how many tensors changed
MODEL_ADDRESS = "model"  # the change event of a model swap: its value is the model's name
# What belongs to one model; the rest of the rig (globals, listeners, actions, sections) to the show.
_PER_MODEL = ("model", "tensors", "bank", "_by_name", "_chains", "_dirty", "_latent_scale", "_latent_offset",
              "_selected", "_overlay")


@dataclass(frozen=True)
class AudioParams:
    """What the engine reads once per block. Immutable: the rig replaces it whole."""

    input_gain: float = 1.0
    output_gain: float = 1.0
    mix: float = 1.0
    bypass: bool = False
    latent_scale: torch.Tensor | None = None  # [1, latent, 1], only when a latent bend is active
    latent_offset: torch.Tensor | None = None

    def same_as(self, other: "AudioParams") -> bool:
        """Whether a block would sound the same with ``other`` (tensors compared by value)."""
        return ((self.input_gain, self.output_gain, self.mix, self.bypass)
                == (other.input_gain, other.output_gain, other.mix, other.bypass)
                and _same_tensor(self.latent_scale, other.latent_scale)
                and _same_tensor(self.latent_offset, other.latent_offset))


def _same_tensor(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    return a is b or (a is not None and b is not None and torch.equal(a, b))


@dataclass(frozen=True)
class Change:
    address: str
    value: object
    source: str
    time: float


def db_to_gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


class Rig:
    def __init__(self, model: NNModel, max_slots: int = MAX_SLOTS, draw_cache_bytes: int = 1 << 30,
                 dispatcher: ChangeDispatcher | None = None):
        """``dispatcher``: listeners run on its thread, coalesced (``performer serve``); without
        one they run inline on the sender's thread (offline tools, unit tests)."""
        self.dispatcher = dispatcher
        self.max_slots = max_slots
        self._draw_cache_bytes = draw_cache_bytes
        self._kept: dict[Path, dict] = {}  # models swapped out (or prepared), with their bends
        self._install(self._fresh(model))
        self._globals = {name: spec[2] for name, spec in GLOBALS.items()}
        self._lock = threading.RLock()
        self._compute_lock = threading.Lock()
        self._work = threading.Event()
        self._listeners: list[Callable[[Change], None]] = []  # inline: cheap, on the sender's thread
        self._actions: dict[str, tuple[Callable[[object, str], object], Callable[[], object] | None]] = {}
        self.audio = AudioParams()
        self.audio_by_gesture = False  # whether ``audio`` last changed by a gesture (not modulation)
        self._gesture_dirty = False
        self._sections: dict[str, tuple[Callable[[], object], Callable[[object, str], list[str]]]] = {}

    # -- models: one plays, others keep their bends (hot swap: performer/show/swap.py) -------
    def _fresh(self, model: NNModel) -> dict:
        """A model's own part of the rig, unbent."""
        tensors = describe_tensors(model.module)
        latent = model.latent_size or 0
        return {"model": model, "tensors": tensors,
                "bank": TensorBank(model.module, tensors, self._draw_cache_bytes),
                "_by_name": {t.name: t.index for t in tensors}, "_chains": {}, "_dirty": set(),
                "_latent_scale": [1.0] * latent, "_latent_offset": [0.0] * latent,
                "_selected": 0,  # the tensor a bank of knobs edits (select/..., selected/...)
                # modulation offsets: used when computing, never stored; parsed against this model
                "_overlay": Overlay(self._parse)}

    def _install(self, part: dict) -> None:
        for name in _PER_MODEL:
            setattr(self, name, part[name])

    def kept_model(self, path: Path) -> NNModel | None:
        """The model loaded from ``path`` earlier in this show (playing, prepared or swapped out),
        with its bends in its tensors; None when it never was."""
        key = Path(path).resolve()
        if key == self.model.path.resolve():
            return self.model
        part = self._kept.get(key)
        return part["model"] if part is not None else None

    def prepare_model(self, model: NNModel) -> TensorBank:
        """Make ``model``'s part of the rig (or find the one kept), without playing it: its engine
        installs from the bank returned. Any thread but the model's."""
        key = model.path.resolve()
        with self._lock:
            if model is self.model:
                return self.bank
            part = self._kept.get(key)
            if part is None or part["model"] is not model:
                part = self._kept[key] = self._fresh(model)
            return part["bank"]

    def switch_model(self, model: NNModel, source: str = "api") -> None:
        """Make ``model`` (prepared) the one every address means from now on. The one playing
        keeps its bends, chains and latent bends, and gets them back when it is switched to again.
        Globals (gains, mix, bypass) stay as they are: they belong to the show. Emits ``model``."""
        key = model.path.resolve()
        with self._compute_lock, self._lock:  # not while the bend worker computes the old one
            if model is self.model:
                return
            part = self._kept.pop(key, None)
            if part is None or part["model"] is not model:
                part = self._fresh(model)
            self._kept[self.model.path.resolve()] = {name: getattr(self, name) for name in _PER_MODEL}
            self._install(part)
            if self._dirty:
                self._work.set()
            self._publish_audio()
        self._emit(Change(MODEL_ADDRESS, model.path.stem, source, time.time()))

    def forget_model(self, path: Path) -> None:
        """Drop a prepared model that will not play (its load was superseded or failed)."""
        with self._lock:
            self._kept.pop(Path(path).resolve(), None)

    # -- the one way in ---------------------------------------------------------------------
    def add_action(self, address: str, setter: Callable[[object, str], object],
                   getter: Callable[[], object] | None = None) -> None:
        """Route ``address`` to ``setter(value, source)`` (scenes, set lists, undo): MIDI, OSC and
        the web reach them like any other address; the change event carries what it returned."""
        self._actions[address] = (setter, getter)

    def remove_action(self, address: str) -> None:
        self._actions.pop(address, None)

    def set(self, address: str, value: object, source: str = "api") -> object:
        """Set ``address`` to ``value``; return the stored value. Raises AddressError or
        ValueRangeError naming what is valid; on error nothing changes."""
        action = self._actions.get(address) if isinstance(address, str) else None
        if action is not None:
            stored = action[0](value, source)
            self._emit(Change(address, stored, source, time.time()))
            return stored
        parsed = self._parse(address)
        with self._lock:
            stored = self._apply(parsed, value)
            canonical = self.canonical(parsed)
        self._emit(Change(canonical, stored, source, time.time()))
        return stored

    def get(self, address: str) -> object:
        action = self._actions.get(address) if isinstance(address, str) else None
        if action is not None:
            return action[1]() if action[1] is not None else None
        parsed = self._parse(address)
        with self._lock:
            if parsed.kind == "global":
                return self._globals[parsed.field]
            if parsed.kind == "select":
                return self._selected
            if parsed.kind == "latent":
                values = self._latent_scale if parsed.field == "scale" else self._latent_offset
                return values[parsed.latent]
            if parsed.kind == "slot":
                chain = self._chains.get(parsed.tensor, [])
                slot = chain[parsed.slot] if parsed.slot < len(chain) else None
                if slot is None:
                    return None
                if parsed.field in SLOT_FIELDS_TYPES:
                    return getattr(slot, parsed.field)
                get_transform(slot.transform).param(parsed.field)
                return slot.current_params()[parsed.field]
            return None

    def tensor_index(self, tensor: str) -> int:
        """A tensor's position from its name or ``#i``; AddressError names the valid ones."""
        return addresses.parse(f"{tensor}/reset", self._by_name, len(self.tensors), None, 1).tensor

    def load_state(self, state: dict, *, locks=(), source: str = "scene", include_selection: bool = False) -> list[str]:
        """Replace the whole bend state with ``state`` (as ``state()`` returns it), except ``locks``.

        Everything is validated first; then chains, latent bends and globals change under one
        lock, so the bend worker computes all changed tensors in one round and the engine installs
        them at one block boundary: never half a state audible. Tensors the state does not mention
        are cleared. Returns what could not be applied (tensors this model lacks, bad values)."""
        plan = plan_state(self, state, locks, include_selection)
        sections_changed = []
        for name, (get, load) in list(self._sections.items()):
            if name in state:  # a state without the section (a morph step) leaves it as it is
                before = get()
                plan.report.extend(load(state[name], source))
                if get() != before:
                    sections_changed.append((name, get()))
        changed: list[tuple[str, object]] = []
        with self._lock:
            dirty = []
            for index, chain in plan.chains.items():
                old = self._chains.get(index, [])
                if [s.to_dict() for s in old] != [s.to_dict() for s in chain]:
                    dirty.append(index)
                    if chain:
                        self._chains[index] = chain
                    else:
                        self._chains.pop(index, None)
            for i, value in plan.latent_scale.items():
                if self._latent_scale[i] != value:
                    self._latent_scale[i] = value
                    changed.append((f"latent/{i}/scale", value))
            for i, value in plan.latent_offset.items():
                if self._latent_offset[i] != value:
                    self._latent_offset[i] = value
                    changed.append((f"latent/{i}/offset", value))
            for name, value in plan.globals.items():
                if self._globals[name] != value:
                    self._globals[name] = value
                    changed.append((name, value))
            if plan.selected is not None and plan.selected != self._selected:
                self._selected = plan.selected
                changed.append(("select/tensor", plan.selected))
            self._mark_dirty(dirty)
            self._publish_audio()
        now = time.time()
        if dirty:
            self._emit(Change(STATE_ADDRESS, len(dirty), source, now))
        for address, value in changed + sections_changed:
            self._emit(Change(address, value, source, now))
        return plan.report

    def resolve(self, address: str) -> str:
        """The canonical address ``address`` stands for now (bank addresses follow the selection);
        raises AddressError like ``set``."""
        if isinstance(address, str) and address in self._actions:
            return address
        parsed = self._parse(address)
        with self._lock:
            return self.canonical(parsed)

    def add_section(self, name: str, get: Callable[[], object],
                    load: Callable[[object, str], list[str]]) -> None:
        """Make ``state()[name]`` come from ``get()``, and ``load_state`` hand it to ``load(data,
        source)`` (which returns what it could not apply): scenes, undo and autosave carry what a
        part owns elsewhere (modulators, macros). The part emits its own changes via actions."""
        self._sections[name] = (get, load)

    def remove_section(self, name: str) -> None:
        self._sections.pop(name, None)

    # -- modulation: offsets on top of the knobs (performer.rig.overlay) --------------------
    def modulate(self, offsets: dict[str, float]) -> None:
        """Replace the modulation offsets whole: canonical address -> offset added to the knob's
        value when computing, clamped to the address's range. The knobs keep their values; no
        change event, no undo. Only tensors whose offsets changed are recomputed."""
        with self._lock:
            dirty, audio = self._overlay.replace(offsets)
            self._mark_dirty([i for i in dirty if i in self._chains], gesture=False)
            if audio:
                self._publish_audio(gesture=False)

    def modulated(self, address: str) -> object:
        """The value the model hears at ``address``: the knob's value plus its modulation."""
        knob = self.get(address)
        canonical = self.resolve(address)
        offset = self._overlay.offsets.get(canonical)
        if offset is None or not isinstance(knob, (int, float)):
            return knob
        lo, hi = self.value_range(canonical)
        return min(max(knob + offset, lo), hi)

    def value_range(self, address: str) -> tuple[float, float]:
        """(min, max) of a continuous address; AddressError for others (switches, names, actions)."""
        if isinstance(address, str) and address in self._actions:
            raise AddressError(f"{address!r} is an action, not a continuous bend address")
        parsed = self._parse(address)
        with self._lock:
            chain = self._chains.get(parsed.tensor, []) if parsed.kind == "slot" else []
            transform = chain[parsed.slot].transform if parsed.kind == "slot" and parsed.slot < len(chain) else None
        try:
            return field_range(parsed, transform)
        except AddressError as exc:
            raise AddressError(f"{address!r}: {exc}") from None

    def add_listener(self, listener: Callable[[Change], None], *, inline: bool = False) -> None:
        """Call ``listener`` with every change. ``inline`` listeners run on the sender's thread
        and must take microseconds (the engine's retake check); the rest run on the dispatcher's
        thread, coalesced per address, when the rig has one."""
        if inline or self.dispatcher is None:
            self._listeners.append(listener)
        else:
            self.dispatcher.add_listener(listener)

    def remove_listener(self, listener: Callable[[Change], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)
        elif self.dispatcher is not None:
            self.dispatcher.remove_listener(listener)
        else:
            raise ValueError(f"{listener!r} is not listening")

    def flush_changes(self, timeout: float = 2.0) -> bool:
        """Wait until every listener has seen every change made so far (a no-op when inline)."""
        return True if self.dispatcher is None else self.dispatcher.flush(timeout)

    # -- bend computation and installation --------------------------------------------------
    def compute_pending(self) -> int:
        """Compute every tensor whose bend changed, from its original, and publish them together.

        Runs off the audio thread (bend worker, or the offline loop). Returns how many."""
        with self._compute_lock:
            with self._lock:
                if not self._dirty:
                    return 0
                dirty, self._dirty = self._dirty, set()
                gesture, self._gesture_dirty = self._gesture_dirty, False
                self._work.clear()
                chains = {i: self._overlay.apply_chain(i, [s.copy() for s in self._chains.get(i, [])])
                          for i in dirty}
            results = {i: self.bank.compute(i, chain) for i, chain in chains.items()}
            self.bank.publish(results, gesture=gesture)
            return len(results)

    def install_pending(self) -> int:
        """Swap published tensors into the model. Model thread, between blocks only."""
        return self.bank.install_pending()

    def wait_for_work(self, timeout: float | None = None) -> bool:
        """Block until some tensor needs computing (for a bend worker thread)."""
        return self._work.wait(timeout)

    @property
    def has_dirty(self) -> bool:
        return bool(self._dirty)

    @property
    def has_gesture_work(self) -> bool:
        """Whether a gesture (not only modulation) waits to be computed."""
        return self._gesture_dirty

    # -- state views ------------------------------------------------------------------------
    def chain(self, tensor: str | int) -> list[Slot]:
        index = tensor if isinstance(tensor, int) else self._parse(f"{tensor}/reset").tensor
        with self._lock:
            return [s.copy() for s in self._chains.get(index, [])]

    def state(self) -> dict:
        """The whole bend state as plain data (tensor chains by name), with the sections."""
        sections = {name: get() for name, (get, _) in list(self._sections.items())}  # outside our lock
        with self._lock:
            return sections | {
                "tensors": {self.tensors[i].name: [s.to_dict() for s in chain]
                            for i, chain in sorted(self._chains.items()) if chain},
                "latent": {"scale": list(self._latent_scale), "offset": list(self._latent_offset)},
                "globals": dict(self._globals),
                "selected": self._selected,
            }

    def canonical(self, parsed: Address) -> str:
        if parsed.kind == "global":
            return parsed.field
        if parsed.kind == "select":
            return "select/tensor"  # next/prev report where the selection landed
        if parsed.kind == "reset_all":
            return addresses.RESET_ALL
        if parsed.kind == "latent":
            return f"latent/{parsed.latent}/{parsed.field}"
        name = self.tensors[parsed.tensor].name
        if parsed.kind == "tensor_reset":
            return f"{name}/reset"
        return f"{name}/{parsed.slot}/{parsed.field}"

    def describe_addresses(self) -> dict:
        """The address space of this model, with ranges, for documentation and UIs."""
        return {
            "globals": {n: {"min": lo, "max": hi, "default": d, "unit": u} for n, (lo, hi, d, u) in GLOBALS.items()},
            "latent": {"size": self.model.latent_size or 0, "labels": self.model.latent_labels,
                       "offset": {"min": LATENT_RANGE[0], "max": LATENT_RANGE[1]},
                       "scale": {"min": LATENT_RANGE[0], "max": LATENT_RANGE[1]}},
            "slot_fields": {
                "transform": list(TRANSFORMS), "amount": {"min": 0.0, "max": 1.0},
                "percent": {"min": 0.0, "max": 1.0}, "mode": list(MASK_MODES),
                "seed": {"min": 0, "max": MAX_SEED}, "bypass": [0, 1]},
            "transforms": {n: t.describe() for n, t in TRANSFORMS.items()},
            "select": {"tensor": "index or name", "next": "steps (0 = stay)", "prev": "steps (0 = stay)",
                       "selected": "selected[+k]/<slot>/<field> edits the selected tensor or the k-th after it"},
            "max_slots": self.max_slots,
            "tensors": [t.name for t in self.tensors],
        }

    # -- internals --------------------------------------------------------------------------
    def _parse(self, address: str) -> Address:
        selected = addresses.SELECTED.match(address) if isinstance(address, str) else None
        if selected:  # a bank address: the selected tensor, or the k-th after it (wrapping)
            offset = int(selected.group(1) or 0)
            address = f"#{(self._selected + offset) % len(self.tensors)}{selected.group(2)}"
        if isinstance(address, str) and address.split("/", 1)[0] in SESSION_ROOTS:
            raise AddressError(f"{address!r}: scenes are not available yet (they start with `performer serve`)")
        return addresses.parse(address, self._by_name, len(self.tensors), self.model.latent_size, self.max_slots)

    def _apply(self, a: Address, value: object) -> object:
        if a.kind == "global":
            self._globals[a.field] = stored = values.global_value(a.field, value)
            self._publish_audio()
            return stored
        if a.kind == "latent":
            stored = values.latent_value(value, f"latent/{a.latent}/{a.field}")
            (self._latent_scale if a.field == "scale" else self._latent_offset)[a.latent] = stored
            self._publish_audio()
            return stored
        if a.kind == "select":
            return self._select(a.field, value)
        if a.kind == "reset_all":
            self._mark_dirty(list(self._chains))
            self._chains.clear()
            return 1
        if a.kind == "tensor_reset":
            if self._chains.pop(a.tensor, None) is not None:
                self._mark_dirty([a.tensor])
            return 1
        return self._apply_slot(a, value)

    def _select(self, how: str, value: object) -> int:
        count = len(self.tensors)
        if how == "tensor":
            if isinstance(value, str) and not value.lstrip("-").isdigit():
                self._selected = addresses.parse(f"{value}/reset", self._by_name, count, None, 1).tensor
                return self._selected
            index = values.number(value, "select/tensor")
            if index != int(index) or not 0 <= index < count:
                raise ValueRangeError(f"select/tensor must be a tensor name or a position 0..{count - 1}, got {value!r}")
            self._selected = int(index)
            return self._selected
        steps = values.number(value, f"select/{how}")
        if steps < 0 or steps != int(steps):
            raise ValueRangeError(f"select/{how} takes a whole number of tensors to move (0 = stay), got {value!r}")
        sign = 1 if how == "next" else -1
        self._selected = (self._selected + sign * int(steps)) % count  # 0 (a button's release) stays
        return self._selected

    def _apply_slot(self, a: Address, value: object) -> object:
        chain = self._chains.get(a.tensor, [])
        existing = chain[a.slot] if a.slot < len(chain) else None
        slot = existing.copy() if existing else Slot()
        label = f"{self.tensors[a.tensor].name}/{a.slot}/"
        stored = values.set_slot_field(slot, a.field, value, label)
        new_chain = list(chain)
        while len(new_chain) < a.slot:
            new_chain.append(placeholder_slot())
        if a.slot < len(new_chain):
            new_chain[a.slot] = slot
        else:
            new_chain.append(slot)
        self._chains[a.tensor] = new_chain
        self._mark_dirty([a.tensor])
        return stored

    def _mark_dirty(self, indices: list[int], gesture: bool = True) -> None:
        """``gesture``: a knob, a message, a scene (heard as soon as it can be: retakes); not
        modulation, which moves every block anyway and is heard from the next one."""
        if indices:
            self._dirty.update(indices)
            self._gesture_dirty |= gesture
            self._work.set()

    def _publish_audio(self, gesture: bool = True) -> None:
        g = self._globals
        scale = offset = None
        o = self._overlay
        latent_scale = o.latent_values("scale", self._latent_scale)
        latent_offset = o.latent_values("offset", self._latent_offset)
        if any(s != 1.0 for s in latent_scale) or any(v != 0.0 for v in latent_offset):
            scale = torch.tensor(latent_scale, dtype=torch.float32).view(1, -1, 1)
            offset = torch.tensor(latent_offset, dtype=torch.float32).view(1, -1, 1)
        audio = AudioParams(
            input_gain=db_to_gain(o.global_value("input/gain", g["input/gain"])),
            output_gain=db_to_gain(o.global_value("output/gain", g["output/gain"])),
            mix=o.global_value("mix", g["mix"]), bypass=g["bypass"] >= 0.5, latent_scale=scale, latent_offset=offset)
        if not audio.same_as(self.audio):  # the same object when nothing audible changed (retakes look)
            self.audio_by_gesture = gesture
            self.audio = audio

    def _emit(self, change: Change) -> None:
        if self.dispatcher is not None:
            self.dispatcher.publish(change)
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:  # a broken listener must not break the control path
                log.exception("change listener %r failed on %s", listener, change.address)

