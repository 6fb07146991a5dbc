"""The Show builds and owns what ``performer serve`` runs, and starts and stops it in order.

Rig (with its change dispatcher), modulation and tempo, scene session (scenes, undo, autosave,
bending log), control surfaces (MIDI, OSC), the live engine, model swaps (``model/load``) and
the dashboard. The CLI, the benches and the end-to-end
tests all build this one object, so what is measured is what performers run. Each part gets
what it needs passed in: nothing is reached through attributes set on another part.

Start order: scenes and control surfaces, then the dashboard, then the audio. Their start-up
is seconds of Python (imports, a MIDI child process, uvicorn) that would otherwise hold the GIL
through the first blocks. Stop order: fade the audio out (the show's summary is taken there),
the dashboard (it reads the engine), the audio, then MIDI/OSC, scenes (the last autosave) and
the change dispatcher.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from performer.bending.blend import shared_sources
from performer.control.surfaces import ControlSurfaces, SurfaceOptions
from performer.errors import PerformerError
from performer.live.server import LiveServer, ServeOptions
from performer.model.loader import MODELS_DIR, NNModel
from performer.modulation import Features, Modulation, Tempo
from performer.rig import Rig
from performer.rig.changes import ChangeDispatcher
from performer.scenes.paths import default_data_dir
from performer.scenes.quantize import live_lead_s
from performer.scenes.session import SceneSession, SessionOptions
from performer.show.exports import ModelExports
from performer.show.swap import ModelSwap

log = logging.getLogger("performer.show")


@dataclass
class WebOptions:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8130
    token: str | None = None  # generated when the host is reachable from a network


@dataclass
class ShowOptions:
    serve: ServeOptions = field(default_factory=ServeOptions)
    session: SessionOptions = field(default_factory=SessionOptions)
    surfaces: SurfaceOptions = field(default_factory=SurfaceOptions)
    web: WebOptions = field(default_factory=WebOptions)
    bends: list[tuple[str, object]] = field(default_factory=list)  # set after the autosave's restore
    model_folders: list[Path] = field(default_factory=list)  # model/load names, after the embedded models
    crossfade_ms: float = 50.0  # model/load's crossfade
    preload_models: bool = True  # load the folders' models before the audio starts (show/swap.py)
    change_rate_hz: float = 100.0  # how often listeners (undo, log, UI, feedback) get a batch


class Show:
    def __init__(self, model: NNModel, options: ShowOptions | None = None,
                 report: Callable[[str], None] = log.warning):
        self.options = options or ShowOptions()
        self.report = report
        self.changes = ChangeDispatcher(self.options.change_rate_hz)
        self.rig = Rig(model, dispatcher=self.changes)
        # Modulation before the session: its addresses and scene section must exist when the
        # autosaved state is restored.
        self.tempo = Tempo()
        self.features = Features(model.sample_rate)
        self.modulation = Modulation(self.rig, self.tempo, self.features)
        self.live = LiveServer(self.rig, self.options.serve, features=self.features)
        self.swap = ModelSwap(self.rig, self.live, [MODELS_DIR, *self.options.model_folders],
                              self.options.crossfade_ms, report)
        self.session = SceneSession(self.rig, self.options.session, report=report, blocks=lambda: self.live.blocks,
                                    tempo=self.tempo, lead_s=lambda: live_lead_s(self.live),
                                    load_model=self.swap.load_matching)
        self.surfaces = ControlSurfaces(self.rig, self.options.surfaces, report=report,
                                        midi_clock=self.tempo.midi.tee, define_macro=self.modulation.define_macro)
        self.exports = ModelExports(self.rig, default_data_dir() / "exports", report)
        self.web = None  # WebServer once started
        self.sensitivity = None  # the dashboard's sensitivity map (SensitivityJob), made with the dashboard
        self.web_error: PerformerError | None = None
        self.lines: list[str] = []  # what the parts said as they started, for the console
        self.summary: dict | None = None
        self._started = False

    def start(self) -> "Show":
        """Restore, apply the start-up bends, start every part; the audio last. A failing part
        other than the audio is reported and left off; a failing audio stops the rest and raises."""
        shared_sources().read_in_child()  # a blend source read here would stall the model thread
        self.changes.start()
        restored = self.session.restore()
        if restored:
            self.lines.append(restored)
        for address, value in self.options.bends:
            self.rig.set(address, value, source="cli")
        try:
            self.lines += self.session.start() + self.surfaces.start()
        except Exception as exc:  # scenes and control surfaces never take the audio down
            self.report(f"scenes, MIDI or OSC failed to start: {exc}")
        self._start_web()
        if self.options.preload_models:
            self.lines += self.swap.preload()
        try:
            self.live.start()
        except BaseException:
            self._stop_control()
            raise
        self._started = True
        self.modulation.start()
        self.swap.measure_in_background()
        return self

    def _start_web(self) -> None:
        w = self.options.web
        if not w.enabled:
            return
        from performer.web.context import WebContext
        from performer.web.server import WebServer, needs_token, new_token

        token = w.token or (new_token() if needs_token(w.host) else None)
        try:
            from performer.web.maps import ModelMaps

            # measured on request, in a worker process at idle priority: the audio keeps its CPU;
            # a map per model (model/load swaps it), made when it is first asked for
            self.sensitivity = ModelMaps(self.rig)
            context = WebContext(self.rig, live=self.live, surfaces=self.surfaces, session=self.session, token=token,
                                 sensitivity=self.sensitivity, modulation=self.modulation, swap=self.swap)
            self.web = WebServer(context, host=w.host, port=w.port).start()
        except PerformerError as exc:  # the dashboard never takes the audio down either
            self.web_error = exc

    def stop(self) -> list[Path]:
        """Stop everything in order; returns the files the audio wrote. Safe to call twice."""
        written: list[Path] = []
        self.swap.close()  # no swap starts while the audio stops
        if self._started:
            self.summary = self.live.fade_out()  # the show ends here: stopping stays out of its summary
        if self.web is not None:
            self.web.stop()
            self.web = None
        if self._started:
            # The audio before MIDI: a JACK client leaving the graph can delay a cycle.
            written = self.live.stop()
            self._started = False
        self._stop_control()
        return written

    def _stop_control(self) -> None:
        shared_sources().read_in_child(False)
        self.swap.close()
        self.exports.close()
        self.modulation.close()
        self.tempo.close()
        if self.web is not None:
            self.web.stop()
            self.web = None
        if self.sensitivity is not None:
            self.sensitivity.stop()
        self.surfaces.stop()
        self.session.stop()
        self.changes.stop()

    def __enter__(self) -> "Show":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
