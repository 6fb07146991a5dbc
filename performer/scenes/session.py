"""What ``performer serve`` runs for scenes: the manager and its addresses, the autosave of the
live state (and its restore at start, so a crash or a kill -9 loses nothing), the bending log."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from performer.errors import PerformerError
from performer.modulation.tempo import Tempo
from performer.rig import Rig
from performer.rig.rig import MODEL_ADDRESS
from performer.scenes.autosave import Autosave, LiveState, autosave_path, load_last
from performer.scenes.bendlog import BendingLog
from performer.scenes.compat import filter_state
from performer.scenes.identity import ModelIdentity, model_identity
from performer.scenes.manager import SceneManager, read_setlist
from performer.scenes.paths import default_autosave_dir, default_autosave_path, default_scenes_dir
from performer.scenes.store import SceneStore

log = logging.getLogger("performer.scenes")
SETLIST_FILE = "setlist.txt"
RESTORE_SOURCE = "autosave-restore"


@dataclass
class SessionOptions:
    scenes_dir: Path | None = None  # default: the user's data dir
    setlist: Path | None = None  # default: setlist.txt in the scenes dir, if there is one
    autosave_dir: Path | None = None  # one file per model; default: live-state/ in the user's data dir
    restore: bool = True  # start from the last autosaved state
    bending_log: bool = True


class SceneSession:
    def __init__(self, rig: Rig, options: SessionOptions, report: Callable[[str], None] = log.warning,
                 blocks: Callable[[], int | None] | None = None, tempo: Tempo | None = None,
                 lead_s: Callable[[], float | None] | None = None,
                 load_model: Callable[..., str | None] | None = None):
        """``blocks``, ``tempo``, ``lead_s``: for ``scene/quantize`` and ``scene/quantize/beats``
        (the live engine's block count, the show's tempo, the live server's lead; see SceneManager).
        ``load_model``: for ``scene/model`` (``ModelSwap.load_matching``)."""
        self.load_model = load_model
        self.rig = rig
        self.blocks = blocks  # the live engine's block count, for scene/quantize
        self.tempo = tempo
        self.lead_s = lead_s
        self.options = options
        self.report = report
        self.manager: SceneManager | None = None
        self.autosave: Autosave | None = None
        self.bending_log: BendingLog | None = None
        self._models_seen: set[Path] | None = None  # models played in this show (after start)

    def autosave_path(self) -> Path:
        """This model's autosave file."""
        return autosave_path(self.options.autosave_dir or default_autosave_dir(), model_identity(self.rig))

    def restore(self) -> str:
        """Load this model's last autosaved live state into the rig (call before bends from the
        command line). A state saved on another model is never applied: it stays in its own file."""
        if not self.options.restore:
            return ""
        identity = model_identity(self.rig)
        try:
            last = load_last(self.autosave_path())
            if last is None and self.options.autosave_dir is None:
                last = _carried_over(identity)
        except PerformerError as exc:
            self.report(f"autosave not restored: {exc}")
            return ""
        if last is None or (last.model is not None and not _same_model(last.model, identity)):
            return ""
        state, skipped = filter_state(last.state, self.rig, last.model)
        skipped += self.rig.load_state(state, source=RESTORE_SOURCE, include_selection=True)
        for line in skipped:
            self.report(f"autosave: {line}")
        return f"restored the live state of {last.time} ({last.path}); start clean with --fresh"

    def start(self) -> list[str]:
        o, lines = self.options, []
        directory = o.scenes_dir or default_scenes_dir()
        store = SceneStore(directory)
        setlist_path = o.setlist or (Path(directory) / SETLIST_FILE)
        setlist: list[str] = []
        if o.setlist is not None or setlist_path.exists():
            try:
                setlist = read_setlist(setlist_path)
            except PerformerError as exc:
                self.report(str(exc))
        missing = [name for name in setlist if not store.exists(name)]
        if missing:
            self.report(f"set list {setlist_path}: no scene named {', '.join(map(repr, missing))}")
        self.manager = SceneManager(self.rig, store, setlist, blocks=self.blocks, tempo=self.tempo,
                                    lead_s=self.lead_s, load_model=self.load_model)
        listing = store.list()
        for error in listing.errors:
            self.report(f"scene not readable: {error}")
        lines.append(f"scenes: {len(listing.scenes)} in {directory}"
                     + (f"; set list of {len(setlist)} from {setlist_path}" if setlist else ""))
        try:
            self.autosave = Autosave.for_rig(self.rig, self.autosave_path(), per_model=True)
        except (PerformerError, OSError) as exc:
            self.report(f"autosave off: {exc}")
        self._models_seen = {self.rig.model.path.resolve()}
        self.rig.add_listener(self._on_model_swap)
        if o.bending_log:
            try:
                self.bending_log = BendingLog(self.rig)
                lines.append(f"bending log: {self.bending_log.path}")
            except (PerformerError, OSError) as exc:
                self.report(f"bending log off: {exc}")
        return lines

    def _on_model_swap(self, change) -> None:
        """A model played for the first time in this show starts from its own last autosave, as
        ``serve`` would start it; one that played earlier kept its bends in the rig."""
        if change.address != MODEL_ADDRESS:
            return
        key = self.rig.model.path.resolve()
        if key in self._models_seen:
            return
        self._models_seen.add(key)
        line = self.restore()
        if line:
            self.report(f"{self.rig.model.path.stem}: {line}")

    def stop(self) -> None:
        if self._models_seen is not None:
            self.rig.remove_listener(self._on_model_swap)
            self._models_seen = None
        if self.autosave is not None:
            self.autosave.close(flush=True)
        if self.bending_log is not None:
            self.bending_log.close()
        if self.manager is not None:
            self.manager.close()


def _same_model(saved: ModelIdentity, running: ModelIdentity) -> bool:
    return saved.same_file(running) or (not saved.sha256 and saved.same_tensors(running))


def _carried_over(identity: ModelIdentity) -> LiveState | None:
    """The single autosave of earlier versions, when it was made on this very model file."""
    last = load_last(default_autosave_path())
    return last if last is not None and last.model is not None and last.model.same_file(identity) else None
