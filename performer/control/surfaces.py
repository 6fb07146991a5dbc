"""MIDI and OSC for a running Rig: what ``performer serve`` starts beside the audio.

Neither may take the show down: a MIDI system that is missing, or an OSC port that is taken, is
reported with what to do and the server runs on without it. Mappings that fail to load are
reported one by one; the others are bound. Macros the mappings define (``[[macros]]``) are given
to the modulation when they load, with or without MIDI: one that does not fit the model (an
address it lacks, a range outside the address's) is reported with its file and entry, and that
macro stays as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from performer.control.learn import default_user_mapping
from performer.control.mapping import Mapping, MacroMapping, load_mappings
from performer.control.router import MidiRouter
from performer.errors import PerformerError
from performer.rig import Rig

log = logging.getLogger("performer.control")
REGEX_SPECIALS = set(".^$*+?{}[]\\|()")  # a device pattern without these is a plain part of a port name
# Modulation.define_macro: (index, targets as dicts, source, origin) -> the targets' addresses
DefineMacro = Callable[..., list[str]]
SHIPPED_MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


@dataclass
class SurfaceOptions:
    mappings: list[Path] = field(default_factory=list)  # extra files or folders
    shipped: bool = True  # the profiles in mappings/ and the user's folder
    midi: bool = True
    midi_inputs: list[str] | None = None  # parts of port names; None: the mappings' devices
    midi_api: str | None = None  # "jack" | "alsa"; None: MIDO_BACKEND, else ALSA then JACK
    osc: bool = True
    osc_host: str = "127.0.0.1"
    osc_port: int | None = None  # None: the OSC server's default
    osc_allow: list[str] | None = None  # senders accepted on a non-local address
    learn_file: Path | None = None  # default: learned.toml in the user's mappings folder


def default_midi_inputs(mappings: list[Mapping]) -> list[str]:
    """The controllers to open by default: the mappings' device patterns that are plain parts
    of port names (the MIDI process matches by part of a name, not by regular expression)."""
    return sorted({m.device for m in mappings if m.device and not set(m.device) & REGEX_SPECIALS})


class ControlSurfaces:
    def __init__(self, rig: Rig, options: SurfaceOptions, report: Callable[[str], None] = log.warning,
                 midi_clock: Callable | None = None, define_macro: DefineMacro | None = None):
        """``midi_clock``: wraps the router's message sink so clock bytes reach the tempo
        (``Tempo.midi.tee``); None: every message goes to the router. ``define_macro``: where the
        mappings' macros go (``Modulation.define_macro``); None: they are reported as unused."""
        self.rig = rig
        self.midi_clock = midi_clock
        self.define_macro = define_macro
        self.options = options
        self.report = report
        self.mappings: list[Mapping] = []
        self.router: MidiRouter | None = None
        self.midi = None
        self.osc = None

    def start(self) -> list[str]:
        """Start what can start; returns lines describing it (errors go to ``report``)."""
        o, lines = self.options, []
        sources = ([SHIPPED_MAPPINGS, default_user_mapping().parent] if o.shipped else []) + list(o.mappings)
        self.mappings, errors = load_mappings([p for p in sources if Path(p).exists() or p in o.mappings])
        for error in errors:
            self.report(f"mapping not loaded: {error}")
        lines.append(self._define_macros())
        if o.midi:
            lines.append(self._start_midi())
        if o.osc:
            lines.append(self._start_osc())
        return [line for line in lines if line]

    def _define_macros(self) -> str:
        """The mappings' macros, in load order (a later file's definition of a macro wins, and
        says so); a line naming what was defined."""
        defined: dict[int, tuple[str, str]] = {}  # macro -> (where, label)
        for mapping in self.mappings:
            where = str(mapping.path or mapping.name)
            for j, macro in enumerate(mapping.macros):
                entry = f"{where}: macros[{j}] (macro/{macro.macro})"
                if self.define_macro is None:
                    self.report(f"{entry}: not defined: this show has no modulation")
                    continue
                try:
                    self.define_macro(macro.macro, _target_specs(macro), "mapping", where)
                except PerformerError as exc:
                    self.report(f"{entry}: {exc}; macro/{macro.macro} left as it was")
                    continue
                if macro.macro in defined:
                    self.report(f"{entry}: replaces the definition from {defined[macro.macro][0]}")
                defined[macro.macro] = (where, macro.label)
        if not defined:
            return ""
        names = ", ".join(f"macro/{i}" + (f" {label!r}" if label else "") for i, (_, label) in sorted(defined.items()))
        return f"macros from mappings: {names}"

    def _start_midi(self) -> str:
        from performer.control.midi_link import MidiConfig, MidiError, MidiLink

        inputs = self.options.midi_inputs
        if inputs is None:
            inputs = default_midi_inputs(self.mappings)
        sink = self.midi_clock(self._on_message) if self.midi_clock is not None else self._on_message
        self.midi = MidiLink(MidiConfig(inputs=inputs, api=self.options.midi_api), sink, self._on_event)
        self.router = MidiRouter(self.rig, self.mappings, send=self.midi.send,
                                 learn_file=self.options.learn_file or default_user_mapping())
        try:
            opened = self.midi.start()
        except (MidiError, OSError) as exc:
            self.router.close()
            self.router, self.midi = None, None
            self.report(f"MIDI off: {exc}")
            return ""
        names = ", ".join(m.name for m in self.mappings) or "none"
        return (f"midi: {opened.api}: input {opened.inputs[0]} + controllers matching {inputs or 'nothing'}: "
                f"{', '.join(opened.inputs[1:]) or 'none connected'}; mappings: {names}")

    def _start_osc(self) -> str:
        from performer.control.osc import DEFAULT_PORT, OscServer

        port = DEFAULT_PORT if self.options.osc_port is None else self.options.osc_port
        try:
            self.osc = OscServer(self.rig, host=self.options.osc_host, port=port, allow=self.options.osc_allow)
            self.osc.start()
        except (PerformerError, OSError, ValueError) as exc:
            self.osc = None
            self.report(f"OSC off: {exc}")
            return ""
        return f"osc: udp {self.options.osc_host}:{self.osc.port}, /performer/<address> value (docs/osc.md)"

    def _on_message(self, port: str, when: float, data: bytes) -> None:
        if self.router is not None:
            self.router.handle(port, data, when)

    def _on_event(self, event: dict) -> None:
        kind = event.get("event")
        if kind in ("gone", "back") and self.router is not None and event.get("port"):
            self.router.forget_port(event["port"])
        if kind in ("gone", "back", "lost", "restarted"):
            detail = event.get("port") or event.get("message") or ""
            self.report(f"MIDI {kind}: {detail}".rstrip(": "))

    def status(self) -> dict:
        router = self.router.stats if self.router else None
        return {"midi": {"ports": self.midi.ports if self.midi else [], "messages": router.messages if router else 0,
                         "applied": router.applied if router else 0, "errors": router.errors if router else 0},
                "osc": vars(self.osc.stats).copy() if self.osc is not None and hasattr(self.osc, "stats") else {}}

    def stop(self) -> None:
        if self.midi is not None:
            self.midi.stop()
        if self.router is not None:
            self.router.close()
        if self.osc is not None:
            self.osc.stop()


def _target_specs(macro: MacroMapping) -> list[dict]:
    return [t.to_dict() for t in macro.targets]
