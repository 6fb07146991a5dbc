"""Autosave of the live state, so a crash (of Performer, the laptop, the power) loses at most
``delay_s`` of bending. One file per model (``autosave_path``): starting another model starts
clean for it and leaves the first one's state where it was.

``note_change`` is what control threads call (a flag and an event: cheap, thread-safe, usable as a
Rig listener). A background thread writes the latest state, fetched through the callable it was
given, atomically, at most once per ``delay_s``: the first change after a quiet spell is written
at once, a stream of changes (a knob held moving) every ``delay_s``, and the last one always.
(A pure debounce, waiting for quiet, would never write while a performer keeps turning.)

File format (UTF-8 JSON)::

    {"schema_version": 1, "kind": "performer.live-state", "time": "<ISO 8601 UTC>",
     "model": <ModelIdentity, as in scene files, or null>, "state": <Rig.state()>}

The previous write is kept as ``<file>.prev``; ``load_last`` falls back to it when the file is
damaged. ``performer scenes import live-state.json --name NAME`` turns an autosave into a scene.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from performer.errors import ValueRangeError
from performer.atomic import prev_path, write_atomic
from performer.scenes.errors import SceneError
from performer.scenes.identity import ModelIdentity, model_identity
from performer.scenes.paths import default_autosave_path
from performer.scenes.scene import (SCHEMA_VERSION, Scene, dump_json, parse_json, utc_now, validate_state,
                                    validate_time)

if TYPE_CHECKING:
    from performer.rig import Rig

log = logging.getLogger("performer.scenes.autosave")

LIVE_STATE_KIND = "performer.live-state"
UNKNOWN_MODEL = ModelIdentity(file="", sha256="", tensor_signature="", tensor_count=0)


@dataclass(frozen=True)
class LiveState:
    """One autosaved state: the bend state, the model it ran on, when; ``path`` is the file it
    was read from (the autosave itself, or its ``.prev`` after a damaged write)."""

    state: dict
    model: ModelIdentity | None
    time: str
    path: Path | None = None

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "kind": LIVE_STATE_KIND, "time": self.time,
                "model": self.model.to_dict() if self.model else None, "state": self.state}

    @classmethod
    def from_dict(cls, data: object, origin: str = "autosave", path: Path | None = None) -> "LiveState":
        try:
            if not isinstance(data, dict) or data.get("kind") != LIVE_STATE_KIND:
                raise SceneError(f"not a Performer autosave (no \"kind\": \"{LIVE_STATE_KIND}\")")
            if data.get("schema_version") != SCHEMA_VERSION:
                raise SceneError(f"schema_version must be {SCHEMA_VERSION}, got {data.get('schema_version')!r}")
            model = data.get("model")
            return cls(validate_state(data.get("state")),
                       None if model is None else ModelIdentity.from_dict(model),
                       validate_time(data.get("time"), "time"), path)
        except SceneError as exc:
            raise SceneError(f"{origin}: {exc}", path) from None

    def to_scene(self, name: str) -> Scene:
        """This state as a new scene called ``name`` (created at the autosave's time)."""
        return Scene(name, self.state, self.model or UNKNOWN_MODEL, created=self.time)


def autosave_path(directory: str | os.PathLike, model: ModelIdentity) -> Path:
    """Where ``model``'s live state is autosaved in ``directory``: named after the export (for
    people) and its sha256 (the tensor signature when the file could not be read)."""
    key = (model.sha256 or model.tensor_signature)[:16]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model.file).stem).strip("._")[:40] or "model"
    return Path(directory) / f"{stem}-{key}.json"


def load_last(path: str | os.PathLike | None = None) -> LiveState | None:
    """The last complete autosave at ``path`` (default: the user's data dir), falling back to its
    ``.prev`` when the file is missing, truncated or corrupt; None when neither is usable."""
    path = Path(path) if path is not None else default_autosave_path()
    for candidate in (path, prev_path(path)):
        try:
            data = candidate.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot read autosave %s (%s)", candidate, exc.strerror or exc)
            continue
        try:
            return LiveState.from_dict(parse_json(data), origin=str(candidate), path=candidate)
        except (ValueError, UnicodeDecodeError, SceneError) as exc:
            log.warning("autosave %s is damaged (%s); trying the previous one", candidate, exc)
    return None


class Autosave:
    """Writes ``get_state()`` to ``path`` atomically, at most once per ``delay_s``, from its own
    thread, after each ``note_change``. ``identity(state)`` (or a fixed ModelIdentity) says which
    model the state is for. Close it to write the last change and stop the thread."""

    def __init__(self, path: str | os.PathLike | None, get_state: Callable[[], dict], *, delay_s: float = 0.5,
                 identity: Callable[[dict], ModelIdentity] | ModelIdentity | None = None,
                 path_for: Callable[[ModelIdentity], Path] | None = None):
        """``path_for``: the file for a model's state, asked at each write (a show that swaps
        models writes each one's state to its own file); default: always ``path``."""
        if not delay_s >= 0:
            raise ValueRangeError(f"autosave delay must be >= 0 s, got {delay_s!r}")
        self.path = Path(path) if path is not None else default_autosave_path()
        self.delay_s = float(delay_s)
        self.writes = 0  # completed writes
        self.last_error: Exception | None = None
        self._get_state = get_state
        self._identity = identity
        self._path_for = path_for
        self._dirty = False
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._write_lock = threading.Lock()
        self._last_write = -float("inf")
        self._detach: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._run, name="performer-autosave", daemon=True)
        self._thread.start()

    @classmethod
    def for_rig(cls, rig: "Rig", path: str | os.PathLike | None = None, *, delay_s: float = 0.5,
                per_model: bool = False) -> "Autosave":
        """An autosave of ``rig``'s state, noting every change the rig emits (until closed).
        ``per_model``: ``path`` is one model's file (``autosave_path``); after a model swap the
        state goes to the new model's file in the same folder."""
        def state_of_one_model() -> dict:  # never a state taken across a model swap
            while True:
                model = rig.model
                state = rig.state()
                if rig.model is model:
                    return state

        def identity(state: dict) -> ModelIdentity:
            return model_identity(rig, state)

        folder = Path(path).parent if path is not None and per_model else None
        autosave = cls(path, state_of_one_model, delay_s=delay_s, identity=identity,
                       path_for=None if folder is None else lambda model: autosave_path(folder, model))
        rig.add_listener(autosave.note_change)
        autosave._detach = lambda: rig.remove_listener(autosave.note_change)
        return autosave

    def note_change(self, *_: object) -> None:
        """Something changed: write it soon. Any thread; takes any arguments (a Rig listener)."""
        self._dirty = True
        self._wake.set()

    def flush(self) -> bool:
        """Write the current state now, in the calling thread; True when it was written."""
        self._dirty = False
        return self._write_once()

    def close(self, flush: bool = True) -> None:
        """Stop the thread; with ``flush``, write a change not yet written. Idempotent."""
        if self._detach:
            self._detach()
            self._detach = None
        self._closing.set()
        self._wake.set()
        self._thread.join()
        if flush and self._dirty:
            self.flush()

    def __enter__(self) -> "Autosave":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._closing.is_set():
                return  # close() writes what is pending
            wait = self._last_write + self.delay_s - time.monotonic()
            if wait > 0 and self._closing.wait(wait):
                return
            # Clear before fetching: a change during the fetch or write wakes us again.
            self._wake.clear()
            self._dirty = False
            self._write_once()

    def _write_once(self) -> bool:
        with self._write_lock:
            self._last_write = time.monotonic()
            try:
                state = self._get_state()
                identity = self._identity(state) if callable(self._identity) else self._identity
                record = LiveState(validate_state(state), identity, utc_now())
                if self._path_for is not None and identity is not None:
                    self.path = self._path_for(identity)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(self.path, dump_json(record.to_dict()))
            except Exception as exc:  # a full disk must not stop the show: log, keep the last good file
                if repr(exc) != repr(self.last_error):
                    log.warning("autosave to %s failed: %s", self.path, exc)
                self.last_error = exc
                return False
            self.writes += 1
            self.last_error = None
            return True
