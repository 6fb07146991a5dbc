"""Scenes in a running Rig: the addresses MIDI, OSC and the web use to save, recall, morph, undo.

  scene/save NAME        the current state as scene NAME (replacing it; locks kept)
  scene/recall NAME      every tensor of the scene swapped in at one block boundary
  scene/model 0|1        1: a recall of a scene saved on another model in the folders loads
                         that model first (crossfaded), then applies the scene to it
  scene/quantize N       recalls wait for the next multiple of N model blocks (0/1 = next block)
  scene/quantize/beats B recalls, set-list steps and morph moves are heard from the next multiple
                         of B beats of the show's tempo (0 = off; "1/4", "1 bar", "2 bars" too);
                         when on, it is used instead of scene/quantize (performer.scenes.quantize)
  scene/a NAME, scene/b NAME, scene/morph 0..1   morph between two scenes
  setlist/next, setlist/prev (a button: 1 steps, 0 does nothing), setlist/position i
  undo, redo, panic      (buttons); panic returns every tensor and latent to its original at once
                         and drops recalls and morphs still waiting for their boundary

On the beat, "heard" is meant literally: a recall quantised to the bar is published ahead of the
downbeat by the live server's lead (``lead_s``, from the Show), so the model thread installs it in
the block whose output plays at the downbeat. The manager is given the ``Tempo`` and that lead;
it reaches into no other part.

A scene made for another model is applied to the tensors that match, with a report of the rest
(``last_report``); a scene that cannot be read raises with the file named, and nothing changes.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from performer.errors import PerformerError, ValueRangeError
from performer.rig import Rig
from performer.scenes.compat import check_compatible, filter_state
from performer.scenes.errors import SceneError
from performer.scenes.history import UndoHistory
from performer.scenes.identity import model_identity
from performer.scenes.morph import morph_state
from performer.scenes.quantize import BeatQueue, Planned, parse_beats
from performer.scenes.scene import Scene
from performer.scenes.store import SceneStore

if TYPE_CHECKING:
    from performer.modulation.tempo import Tempo

log = logging.getLogger("performer.scenes")
QUANTIZE_POLL_S = 0.002


def _pressed(value: object) -> bool:
    try:
        return float(value) >= 0.5
    except (TypeError, ValueError):
        raise ValueRangeError(f"a button address takes 1 (press) or 0 (release), got {value!r}") from None


class SceneManager:
    def __init__(self, rig: Rig, store: SceneStore, setlist: list[str] | None = None, history: bool = True,
                 blocks: Callable[[], int | None] | None = None, tempo: Tempo | None = None,
                 lead_s: Callable[[], float | None] | None = None,
                 load_model: Callable[..., str | None] | None = None):
        """``blocks``: the live engine's block count (None while no audio runs), for
        ``scene/quantize``; without it recalls are immediate. ``tempo``: the show's ``Tempo``, for
        ``scene/quantize/beats`` (without it the address says so); ``lead_s``: how long before an
        output time a state must be published to be heard from it (``quantize.live_lead_s``;
        None or returning None: no audio, changes are applied at the boundary itself).
        ``load_model(identity, then)``: swap to the model a scene was saved on and call ``then``
        once it is the rig's (``ModelSwap.load_matching``), for ``scene/model``."""
        self.rig = rig
        self._load_model = load_model
        self.follow_model = False
        self._block_counter = blocks
        self.tempo = tempo
        self.beats = BeatQueue(tempo, lead_s) if tempo is not None else None
        self.quantize_beats = 0.0
        self.store = store
        self.setlist = list(setlist or [])
        self.position = -1  # nothing recalled from the set list yet
        self.quantize = 0
        self.morph = 0.0
        self.current = ""  # the scene last recalled or saved
        self.last_report: list[str] = []
        self._requested = 0
        self._a: Scene | None = None
        self._b: Scene | None = None
        self._morph_states: tuple[dict, dict] | None = None
        self.history = UndoHistory(rig) if history else None
        self._actions = {
            "scene/save": (self._save, lambda: self.current),
            "scene/recall": (self._recall, lambda: self.current),
            "scene/quantize": (self._set_quantize, lambda: self.quantize),
            "scene/model": (self._set_follow_model, lambda: int(self.follow_model)),
            "scene/quantize/beats": (self._set_quantize_beats, lambda: self.quantize_beats),
            "scene/a": (lambda v, s: self._side("a", v), lambda: self._a.name if self._a else ""),
            "scene/b": (lambda v, s: self._side("b", v), lambda: self._b.name if self._b else ""),
            "scene/morph": (self._morph, lambda: self.morph),
            "setlist/next": (lambda v, s: self._step(1, v, s), lambda: self.position),
            "setlist/prev": (lambda v, s: self._step(-1, v, s), lambda: self.position),
            "setlist/position": (self._goto, lambda: self.position),
            "undo": (lambda v, s: self._button(v, self.history.undo if self.history else None), None),
            "redo": (lambda v, s: self._button(v, self.history.redo if self.history else None), None),
            "panic": (self._panic, None),
        }
        for address, (setter, getter) in self._actions.items():
            rig.add_action(address, setter, getter)

    def close(self) -> None:
        for address in self._actions:
            self.rig.remove_action(address)
        if self.beats is not None:
            self.beats.close()
        if self.history is not None:
            self.history.close()

    # -- direct API (also what the addresses call) ------------------------------------------
    def save(self, name: str, locks: list[str] | None = None) -> Scene:
        existing = self.store.load(name) if self.store.exists(name) else None
        keep = list(existing.locks) if existing is not None and locks is None else list(locks or [])
        scene = Scene.from_rig(name, self.rig, locks=keep)
        if existing is not None:
            scene = existing.updated(state=scene.state, model=scene.model, locks=tuple(keep))
        self.store.save(scene, overwrite=True)
        self.current = scene.name
        return scene

    def recall(self, name: str, source: str = "scene") -> list[str]:
        """Recall scene ``name``; returns what could not be applied (empty when all of it was)."""
        scene = self.store.load(str(name))  # SceneError names the file; nothing has changed yet
        if self.follow_model and self._other_model(scene):
            return self._recall_with_model(scene, source)
        state, report = self._fit(scene)
        blocks = self._blocks()
        self._requested += 1  # a queued recall that a later one overtook is dropped
        if self._on_beat():
            self.beats.submit("recall", scene.name, self.quantize_beats,
                              lambda: self._apply(scene, state, report, source))
            return report
        if self.quantize > 1 and blocks is not None:
            target = (blocks() // self.quantize + 1) * self.quantize
            threading.Thread(target=self._recall_at, args=(blocks, target, scene, state, report, source,
                                                           self._requested), daemon=True, name="performer-recall").start()
            return report
        return self._apply(scene, state, report, source)

    def _other_model(self, scene: Scene) -> bool:
        return scene.model is not None and bool(scene.model.sha256) and not scene.model.same_file(
            model_identity(self.rig))

    def _recall_with_model(self, scene: Scene, source: str) -> list[str]:
        """``scene/model`` on: load the scene's model (crossfaded, at a block boundary: not on the
        beat), then apply the scene to it."""
        self._requested += 1
        request = self._requested

        def then() -> None:
            if request != self._requested:  # a later recall or panic came first
                return
            state, report = self._fit(scene)
            self._apply(scene, state, report, source)

        if self._load_model is None:
            raise PerformerError("scene/model needs model swaps (performer serve)")
        name = self._load_model(scene.model, then)
        if name is None:
            state, report = self._fit(scene)
            report = [f"its model {scene.model.file} is not in the model folders: applied to this one"] + report
            return self._apply(scene, state, report, source)
        return []

    def panic(self, source: str = "panic") -> None:
        """Every tensor and latent back to its original at once (mix and gains stay); recalls and
        morphs waiting for their boundary are dropped."""
        self._requested += 1
        if self.beats is not None:
            self.beats.cancel()
        size = self.rig.model.latent_size or 0
        self.rig.load_state({"tensors": {}, "latent": {"scale": [1.0] * size, "offset": [0.0] * size},
                             "globals": {}}, source=source)

    # -- address handlers ---------------------------------------------------------------------
    def _save(self, value: object, source: str) -> str:
        return self.save(str(value)).name

    def _recall(self, value: object, source: str) -> str:
        self.recall(str(value), source)
        return str(value)

    def _set_quantize(self, value: object, source: str) -> int:
        try:
            n = int(float(value))
        except (TypeError, ValueError):
            n = -1
        if not 0 <= n <= 64:
            raise ValueRangeError(f"scene/quantize takes 0..64 blocks, got {value!r}")
        self.quantize = n
        return n

    def _set_follow_model(self, value: object, source: str) -> int:
        try:
            on = float(value)
        except (TypeError, ValueError):
            on = -1.0
        if on not in (0.0, 1.0):
            raise ValueRangeError(f"scene/model takes 1 (a recall loads the scene's model) or 0, got {value!r}")
        if on and self._load_model is None:
            raise PerformerError("scene/model needs model swaps (performer serve)")
        self.follow_model = bool(on)
        return int(on)

    def _set_quantize_beats(self, value: object, source: str) -> float:
        if self.beats is None:
            raise PerformerError("scene/quantize/beats needs the show's tempo (this scene manager has none)")
        self.quantize_beats = parse_beats(value, self.tempo.quantum)
        return self.quantize_beats

    @property
    def pending(self) -> list[Planned]:
        """Recalls and morphs waiting for their beat (oldest first)."""
        return self.beats.pending if self.beats is not None else []

    def _side(self, side: str, value: object) -> str:
        scene = self.store.load(str(value))
        if side == "a":
            self._a = scene
        else:
            self._b = scene
        self._morph_states = None
        return scene.name

    def _morph(self, value: object, source: str) -> float:
        try:
            x = float(value)
        except (TypeError, ValueError):
            x = float("nan")
        if not 0.0 <= x <= 1.0:
            raise ValueRangeError(f"scene/morph takes 0..1, got {value!r}")
        if self._a is None or self._b is None:
            raise PerformerError("scene/morph needs two scenes: set scene/a and scene/b first")
        if self._morph_states is None:
            self._morph_states = (self._fit(self._a)[0], self._fit(self._b)[0])
        a, b = self._morph_states
        state, locks = morph_state(a, b, x), self._a.locks
        if self._on_beat():  # a fader drag moves in steps on the grid: the latest position wins
            self.beats.submit("morph", f"{x:g}", self.quantize_beats,
                              lambda: self.rig.load_state(state, locks=locks, source="morph"))
        else:
            self.rig.load_state(state, locks=locks, source="morph")
        self.morph = x
        return x

    def _step(self, direction: int, value: object, source: str) -> int:
        if not _pressed(value):
            return self.position
        if not self.setlist:
            raise PerformerError("the set list is empty: put scene names in setlist.txt in the scenes folder")
        return self._goto(min(max(self.position + direction, 0), len(self.setlist) - 1), source)

    def _goto(self, value: object, source: str) -> int:
        try:
            index = int(float(value))
        except (TypeError, ValueError):
            index = -1
        if not 0 <= index < len(self.setlist):
            raise ValueRangeError(f"setlist/position takes 0..{len(self.setlist) - 1}, got {value!r}")
        self.recall(self.setlist[index], source)
        self.position = index
        return index

    def _button(self, value: object, action) -> int:
        if not _pressed(value):
            return 0
        if action is None:
            raise PerformerError("undo is off")
        return int(action())

    def _panic(self, value: object, source: str) -> int:
        if _pressed(value):
            self.panic(source)
        return 0

    # -- internals ----------------------------------------------------------------------------
    def _fit(self, scene: Scene) -> tuple[dict, list[str]]:
        if check_compatible(scene, self.rig).applies_fully:
            return scene.state, []
        return filter_state(scene, self.rig)

    def _apply(self, scene: Scene, state: dict, report: list[str], source: str) -> list[str]:
        report = report + self.rig.load_state(state, locks=scene.locks, source="scene")
        self.current = scene.name
        self.last_report = report
        if report:
            log.warning("scene %r recalled without: %s", scene.name, "; ".join(report))
        return report

    def _on_beat(self) -> bool:
        return self.beats is not None and self.quantize_beats > 0

    def _blocks(self):
        counter = self._block_counter
        return counter if counter is not None and counter() is not None else None

    def _recall_at(self, blocks, target: int, scene: Scene, state: dict, report: list[str], source: str,
                   request: int) -> None:
        # Publish one block ahead so the bend worker's compute lands by the boundary.
        deadline = time.monotonic() + 10.0
        while blocks() < target - 1 and time.monotonic() < deadline and request == self._requested:
            time.sleep(QUANTIZE_POLL_S)
        if request != self._requested:
            return
        try:
            self._apply(scene, state, report, source)
        except PerformerError as exc:
            log.error("quantised recall of %r failed: %s", scene.name, exc)


def read_setlist(path: Path) -> list[str]:
    """Scene names, one per line; blank lines and ``#`` comments skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SceneError(f"{path}: cannot read the set list: {exc}") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
