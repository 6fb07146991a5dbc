"""MIDI into the Rig: decoded messages through the bound mappings to ``Rig.set``, learn, feedback.

Runs on the control thread that reads the MIDI process's output (never in a MIDI or audio
callback). Per input port: a MidiStreamParser (14-bit pairs declared from the mappings). Per
bound control: its Shape, its Takeover (absolute) or Acceleration (relative), its toggle state.
Errors from the Rig (an address this model lacks, a value out of range) are counted per control
and logged once, so a profile written for another model degrades to the controls that fit.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from performer.control.feedback import FeedbackSender, SendBytes, encode
from performer.control.learn import LEARN_WINDOW_S, detect_control, save_learned, with_address_range
from performer.control.mapping import ControlMapping, Mapping, OutputMapping
from performer.control.midi import Acceleration, ControlEvent, MidiStreamParser, Shape, Takeover, decode_relative
from performer.errors import PerformerError
from performer.rig import Rig
from performer.rig.rig import Change

log = logging.getLogger("performer.midi")
VIRTUAL_PORT = "Performer"  # our own input: every mapping applies to what arrives there
COALESCE_S = 0.002  # an absolute control is set at most every 2 ms; its latest value wins
ACTIONS = ("select/next", "select/prev", "select/tensor", "bends/reset")  # moves, not positions


def _is_action(address: str) -> bool:
    return address in ACTIONS or address.endswith("/reset")


@dataclass
class Binding:
    """One control of one mapping, with its running state."""

    control: ControlMapping
    mapping: Mapping
    shape: Shape
    takeover: Takeover
    acceleration: Acceleration
    errors: int = 0
    last_error: str = ""


@dataclass
class RouterStats:
    messages: int = 0
    unmapped: int = 0
    applied: int = 0
    ignored_by_takeover: int = 0
    errors: int = 0
    learned: list[str] = field(default_factory=list)


class MidiRouter:
    def __init__(self, rig: Rig, mappings: list[Mapping], send: SendBytes | None = None,
                 learn_file: Path | None = None, clock: Callable[[], float] = time.monotonic):
        self.rig = rig
        self.mappings: list[Mapping] = []
        self.learn_file = learn_file
        self.clock = clock
        self.stats = RouterStats()
        self._parsers: dict[str, MidiStreamParser] = {}
        self._bindings: dict[tuple, list[Binding]] = {}
        self._toggles: dict[int, bool] = {}
        # handle() (MIDI thread) against learn()/bind() and Rig listeners (other threads); re-entrant
        # because our own rig.set() calls back into _on_change on the same thread.
        self._lock = threading.RLock()
        self._resolved: dict[str, str | None] = {}  # bank addresses move with the selection: cleared then
        self._learning: str | None = None
        self._learned_events: list[tuple[str, ControlEvent]] = []
        self._learn_started = 0.0
        self._learn_done = threading.Event()
        self._last_learned: ControlMapping | None = None
        self.feedback = FeedbackSender(send).start() if send is not None else None
        self._waiting: dict[str, tuple[Binding, float, str]] = {}
        self._applied_at: dict[str, float] = {}
        self._closed = threading.Event()
        self._flush_wake = threading.Event()
        self._flusher = threading.Thread(target=self._flush, name="performer-midi-flush", daemon=True)
        self._flusher.start()
        for mapping in mappings:
            self.bind(mapping)
        rig.add_listener(self._on_change)

    def close(self) -> None:
        self._closed.set()
        self._flush_wake.set()
        self._flusher.join(timeout=2)
        self.rig.remove_listener(self._on_change)
        if self.feedback is not None:
            self.feedback.stop()

    # -- binding ------------------------------------------------------------------------------
    def bind(self, mapping: Mapping) -> None:
        with self._lock:
            self.mappings = [m for m in self.mappings if m.path is None or m.path != mapping.path] + [mapping]
            self._rebuild()

    def _rebuild(self) -> None:
        self._resolved.clear()
        self._bindings.clear()
        self._parsers.clear()  # re-created with the 14-bit declarations of the new set
        for mapping in self.mappings:
            for control in mapping.controls:
                m = control.match
                binding = Binding(control, mapping, Shape(control.min, control.max, control.curve, control.invert,
                                                          control.step),
                                  Takeover(control.takeover), Acceleration(128.0, control.acceleration))
                self._bindings.setdefault((m.type, m.channel, m.number), []).append(binding)

    def _parser(self, port: str) -> MidiStreamParser:
        parser = self._parsers.get(port)
        if parser is None:
            pairs = {(c.match.channel, c.match.number) for m in self._applying(port) for c in m.controls
                     if c.match.type == "cc14"}
            parser = self._parsers[port] = MidiStreamParser(cc14=sorted(pairs))
        return parser

    def _applying(self, port: str) -> list[Mapping]:
        """Mappings for ``port``: those whose device pattern matches it, those with no pattern,
        and all of them on our own virtual port."""
        own = port == VIRTUAL_PORT or f":{VIRTUAL_PORT}" in port  # JACK "client:Performer", ALSA adds numbers
        return [m for m in self.mappings if own or not m.device or m.matches_port(port)]

    def forget_port(self, port: str) -> None:
        """A controller went away or came back: its half-received 14-bit and NRPN state is stale."""
        with self._lock:
            self._parsers.pop(port, None)

    # -- incoming -----------------------------------------------------------------------------
    def handle(self, port: str, message: bytes, now: float | None = None) -> None:
        """One complete MIDI message from ``port``. Control thread."""
        now = self.clock() if now is None else now
        with self._lock:
            self.stats.messages += 1
            events = self._parser(port).feed(message)
            if self._learning is not None:
                self._collect_for_learn(port, events, now)
                return
            applying = None
            for event in events:
                bindings = self._bindings.get(event.key) or []
                if bindings and applying is None:
                    applying = {id(m) for m in self._applying(port)}
                hits = [b for b in bindings if id(b.mapping) in applying] if bindings else []
                if not hits:
                    self.stats.unmapped += 1
                for binding in hits:
                    self._apply(binding, event, now, port)

    def _apply(self, binding: Binding, event: ControlEvent, now: float, port: str) -> None:
        control, address = binding.control, binding.control.address
        try:
            value = self._value_for(binding, event, now)
            if value is None:
                return
            if self._coalesces(binding, event) and now - self._applied_at.get(address, -1.0) < COALESCE_S:
                # A knob sweeping at controller speed: within COALESCE_S of its last set only the
                # latest value counts; the flusher applies it when its turn comes.
                self._waiting[address] = (binding, value, port)
                self._flush_wake.set()
                return
            self._waiting.pop(address, None)
            self._applied_at[address] = now
            self._set(binding, address, value, port)
        except (PerformerError, ValueError, TypeError) as exc:
            self._failed(binding, exc)

    def _coalesces(self, binding: Binding, event: ControlEvent) -> bool:
        c = binding.control
        return (c.mode == "absolute" and event.delta is None and event.kind not in ("note", "program")
                and c.button != "toggle" and not _is_action(c.address))

    def _set(self, binding: Binding, address: str, value: float, port: str) -> None:
        self.rig.set(address, value, source=f"midi:{port}")
        self.stats.applied += 1

    def _flush(self) -> None:
        """Flusher thread: apply the latest waiting value of each coalesced control in time."""
        while not self._closed.is_set():
            self._flush_wake.wait(0.1)
            self._closed.wait(COALESCE_S)
            self.flush_waiting()

    def flush_waiting(self) -> None:
        """Apply coalesced values now (the flusher does this every COALESCE_S)."""
        with self._lock:
            self._flush_wake.clear()
            now = self.clock()
            for address, (binding, value, port) in list(self._waiting.items()):
                del self._waiting[address]
                self._applied_at[address] = now
                try:
                    self._set(binding, address, value, port)
                except (PerformerError, ValueError, TypeError) as exc:
                    self._failed(binding, exc)

    def _failed(self, binding: Binding, exc: Exception) -> None:
        control, address = binding.control, binding.control.address
        self.stats.errors += 1
        binding.errors += 1
        if str(exc) != binding.last_error:  # logged once per problem, not per message
            binding.last_error = str(exc)
            log.warning("%s: %s %s -> %s: %s", binding.mapping.name, control.match.type,
                        control.match.number if control.match.number is not None else "", address, exc)

    def _value_for(self, binding: Binding, event: ControlEvent, now: float) -> float | None:
        control, shape = binding.control, binding.shape
        if event.kind == "program":
            return float(event.value)
        if control.mode == "relative" or event.delta is not None:
            delta = event.delta if event.delta is not None else decode_relative(event.value, control.encoding)
            current = self._number(control.address)
            if control.step > 0:  # whole steps (a selection, a seed): one detent, one step
                return min(max(current + delta * control.step, min(shape.min, shape.max)), max(shape.min, shape.max))
            position = shape.inverse(current) + binding.acceleration.step(delta, now)
            return shape.apply(position)
        if event.kind == "note" or control.button == "toggle":
            pressed = event.on if event.kind == "note" else event.value >= 64
            if control.button == "toggle":
                if not pressed:
                    return None
                state = not self._toggles.get(id(binding), self._number(control.address) > (shape.min + shape.max) / 2)
                self._toggles[id(binding)] = state
                return shape.apply(1.0 if state else 0.0)
            if pressed and control.velocity:
                return shape.apply(event.normalised)
            return shape.apply(1.0 if pressed else 0.0)
        position = event.normalised
        if control.takeover != "none" and not _is_action(control.address):
            current = self._maybe_number(control.address)
            if current is not None:
                taken = binding.takeover.feed(position, shape.inverse(current), now)
                if taken is None:
                    self.stats.ignored_by_takeover += 1
                    return None
                position = taken
        return shape.apply(position)

    def _maybe_number(self, address: str) -> float | None:
        value = self.rig.get(address)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def _number(self, address: str) -> float:
        value = self._maybe_number(address)
        return 0.0 if value is None else value

    # -- learn --------------------------------------------------------------------------------
    def learn(self, address: str, timeout: float = 30.0) -> ControlMapping | None:
        """Bind the next control moved to ``address`` (checked first); blocks until then or
        ``timeout``. The binding is saved to ``learn_file`` when there is one."""
        self.rig.resolve(address)  # an unknown address fails now, not after the knob moved
        with self._lock:
            self._learning, self._learned_events = address, []
            self._learn_done.clear()
        finished = self._learn_done.wait(timeout)
        with self._lock:
            if not finished:
                self._learning = None
                return None
            return self._last_learned

    def _collect_for_learn(self, port: str, events: list[ControlEvent], now: float) -> None:
        if not events:
            return
        if not self._learned_events:
            self._learn_started = now
            timer = threading.Timer(LEARN_WINDOW_S, self._finish_learn)
            timer.daemon = True
            timer.start()
        self._learned_events.extend((port, e) for e in events)

    def _finish_learn(self) -> None:
        with self._lock:
            if self._learning is None:
                return
            found = detect_control(self._learned_events, self._learning)
            self._learning = None
            self._last_learned = None
            if found is None:
                self._learn_done.set()
                return
            port, control = found
            control = with_address_range(self.rig, control)
            if self.learn_file is not None:
                mapping = save_learned(self.learn_file, control)
            else:
                learned = next((m for m in self.mappings if m.name == "Learned" and m.path is None), None)
                mapping = learned or Mapping(name="Learned", description="controls bound with MIDI learn")
                mapping.controls = [c for c in mapping.controls if c.match != control.match] + [control]
            self.mappings = [m for m in self.mappings if m is not mapping and
                             not (mapping.path is not None and m.path == mapping.path)] + [mapping]
            self._rebuild()
            self._last_learned = control
            self.stats.learned.append(f"{control.address} <- {control.match.type} {control.match.number} "
                                      f"ch {control.match.channel} ({port})")
            log.info("learned: %s", self.stats.learned[-1])
        self._learn_done.set()

    # -- feedback -----------------------------------------------------------------------------
    def _on_change(self, change: Change) -> None:
        """Rig listener (any thread): takeover notices, feedback to controllers."""
        from_port = change.source[5:] if change.source.startswith("midi:") else None
        with self._lock:
            if change.address == "select/tensor":
                self._resolved.clear()
            if from_port is None:
                for bindings in self._bindings.values():
                    for b in bindings:
                        if not _is_action(b.control.address) and self._resolves_to(b.control.address, change.address):
                            b.takeover.note_external_change()
            outputs = [(m, o) for m in self.mappings for o in m.outputs
                       if self._resolves_to(o.address, change.address)]
        if self.feedback is None or not outputs or not isinstance(change.value, (int, float)):
            return
        for mapping, output in outputs:
            if from_port is not None and (not mapping.device or mapping.matches_port(from_port)):
                continue  # the controller that sent it already shows it
            self._send_feedback(mapping, output, float(change.value))

    def _resolves_to(self, address: str, canonical: str) -> bool:
        if address not in self._resolved:
            try:
                self._resolved[address] = self.rig.resolve(address)
            except PerformerError:
                self._resolved[address] = None
        return self._resolved[address] == canonical

    def _send_feedback(self, mapping: Mapping, output: OutputMapping, value: float) -> None:
        shape = Shape(output.min, output.max, output.curve, output.invert)
        port = mapping.device or None
        self.feedback.offer((id(mapping), output.send), encode(output.send, shape.inverse(value)), port)
