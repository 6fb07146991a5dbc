"""``model/load NAME``: play another model, without a gap, while the show goes on.

A worker thread (behind the audio in priority) loads the model, or takes it back from the Rig
with its bends if it played earlier in the show, builds and warms its pipeline (first calls,
block time measured), then switches the Rig to it (every address means the new model from
then on) and hands it to the model thread, which crossfades it in at a block boundary
(live/swap.py). Requests made meanwhile wait; only the newest waiting one is played. A model
that fails to load or to run is reported, and the one playing goes on.

Names come from the model folders (the embedded models, then ``--models DIR``): a request
cannot name a file elsewhere. A number (a MIDI program change) is a position in that list.

Addresses: ``model/load`` (name or number; reads back the model playing), ``model/crossfade``
(ms, 0..10000), ``model/list`` (read only: the names, in program-change order).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from performer.audio.delay import model_delay
from performer.audio.engine import default_block_size
from performer.errors import PerformerError, ValueRangeError
from performer.model.loader import MODELS_DIR, load_model

log = logging.getLogger("performer.swap")
LOAD, CROSSFADE, LIST = "model/load", "model/crossfade", "model/list"
MAX_CROSSFADE_MS = 10000.0
SWAP_TIMEOUT_S = 20.0  # a crossfade that has not ended by then: the audio stopped meanwhile


@dataclass
class SwapResult:
    """One finished swap, for the console, the dashboard and benches."""

    name: str
    total_ms: float  # request to the end of the crossfade
    queued_ms: float  # waiting for the worker (a swap or a delay measurement before it)
    load_ms: float  # reading the file (0 when the model played earlier in this show)
    warm_ms: float  # building and warming its pipeline
    wait_ms: float  # until the model thread began the crossfade (a block boundary)
    latency_change_ms: float  # how much later the output is now (0: the latency held)
    began: float  # perf_counter when the crossfade began on the model thread


class ModelSwap:
    def __init__(self, rig, live, folders: list[Path] | None = None, crossfade_ms: float = 50.0,
                 report: Callable[[str], None] = log.warning):
        """``live``: the LiveServer (``prepare_swap``, ``swap``); while its audio is not running a
        load only switches the Rig."""
        self.rig, self.live, self.report = rig, live, report
        self.folders = [Path(f) for f in (folders or [MODELS_DIR])]
        self.crossfade_ms = crossfade_ms
        self.results: list[SwapResult] = []
        self.failures: list[str] = []
        self._wanted: tuple[str, Path, float, str, Callable[[], None] | None] | None = None
        self._to_measure: list[str] = []  # preloaded models whose delay is measured while idle
        self._measuring = False
        self._wake = threading.Condition()
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="performer-swap", daemon=True)
        self._thread.start()
        rig.add_action(LOAD, self._load, self.playing)
        rig.add_action(CROSSFADE, self._set_crossfade, lambda: self.crossfade_ms)
        rig.add_action(LIST, self._read_only, self.names)

    def close(self) -> None:
        """No new swaps; one under way finishes or gives up with the audio. Idempotent."""
        for address in (LOAD, CROSSFADE, LIST):
            self.rig.remove_action(address)
        with self._wake:
            self._closed = True
            self._wanted = None
            self._wake.notify()
        self._thread.join(timeout=2.0)

    # -- the models -------------------------------------------------------------------------
    def available(self) -> dict[str, Path]:
        """Model name -> file, the first folder's first; in program-change order."""
        found: dict[str, Path] = {}
        for folder in self.folders:
            for path in sorted(folder.glob("*.ts")) if folder.is_dir() else []:
                found.setdefault(path.stem, path)
        return found

    def names(self) -> list[str]:
        return list(self.available())

    def playing(self) -> str:
        """The playing model's name in the folders (its file's stem when it is not in them)."""
        here = self.rig.model.path.resolve()
        return next((name for name, path in self.available().items() if path.resolve() == here),
                    self.rig.model.path.stem)

    def preload(self) -> list[str]:
        """Load every model in the folders now, before the audio starts: reading a TorchScript
        file holds Python's lock for hundreds of ms (284 ms for a small RAVE export here), which
        would stall the model thread mid-show. Their delays are measured later, in the
        background. Returns lines for the console; a file that fails is reported here and again
        if it is asked for."""
        loaded, lines = [], []
        for name, path in self.available().items():
            if self.rig.kept_model(path) is not None:
                continue
            try:
                self.rig.prepare_model(load_model(path))
                loaded.append(name)
            except Exception as exc:  # noqa: BLE001 -- one bad file must not keep the others out
                self.report(f"model {name} ({path}) cannot be loaded: {exc}")
        if loaded:
            self._to_measure = loaded  # once the show runs: measure_in_background
            lines.append(f"models: {', '.join(self.names())} (model/load NAME or a program change; "
                         f"{len(loaded)} preloaded)")
        return lines

    def measure_in_background(self) -> None:
        """Measure the preloaded models' delays now, on the worker (the audio has started)."""
        with self._wake:
            self._measuring = True
            self._wake.notify()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Until no swap is waiting or running (tests, benches)."""
        return self._idle.wait(timeout)

    # -- actions ----------------------------------------------------------------------------
    def _load(self, value: object, source: str) -> str:
        models = self.available()
        name = self._name_for(value, models)
        self._request(name, models[name], source)
        return name

    def _request(self, name: str, path: Path, source: str, then: Callable[[], None] | None = None) -> None:
        with self._wake:
            self._wanted = (name, path, time.perf_counter(), source, then)
            self._idle.clear()
            self._wake.notify()

    def load_matching(self, identity, then: Callable[[], None], source: str = "scene") -> str | None:
        """Swap to the model in the folders that ``identity`` (a scene's ModelIdentity) was saved
        on, and call ``then`` on the worker once every address means it (before its crossfade
        begins, so what ``then`` sets is in its first blocks). Returns its name; None when no
        model in the folders is that file (by sha256, then by file name)."""
        from performer.scenes.identity import file_sha256, model_sha256

        models = self.available()
        for name, path in models.items():
            kept = self.rig.kept_model(path)
            try:
                digest = model_sha256(kept) if kept is not None else file_sha256(path)
            except OSError:
                continue
            if identity.sha256 and digest == identity.sha256:
                break
        else:
            name = next((n for n, p in models.items() if p.name == identity.file), None)
            if name is None:
                return None
        self._request(name, models[name], source, then)
        return name

    def _name_for(self, value: object, models: dict[str, Path]) -> str:
        names = list(models)
        if not names:
            raise ValueRangeError(f"{LOAD}: no models in {', '.join(map(str, self.folders))}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value != int(value) or not 0 <= value < len(names):
                raise ValueRangeError(f"{LOAD}: program {value!r} has no model; 0..{len(names) - 1} are "
                                      + ", ".join(f"{i} {n}" for i, n in enumerate(names)))
            return names[int(value)]
        text = str(value).strip()
        if text.isdigit():
            return self._name_for(int(text), models)
        stem = text[:-3] if text.endswith(".ts") else text
        if stem not in models:
            raise ValueRangeError(f"{LOAD}: no model named {text!r}; the models are {', '.join(names)}")
        return stem

    def _set_crossfade(self, value: object, source: str) -> float:
        from performer.bending.transforms import coerce_number

        ms = coerce_number(value, CROSSFADE)
        if not 0.0 <= ms <= MAX_CROSSFADE_MS:
            raise ValueRangeError(f"{CROSSFADE} takes 0..{MAX_CROSSFADE_MS:g} ms, got {value!r}")
        self.crossfade_ms = float(ms)
        return self.crossfade_ms

    def _read_only(self, value: object, source: str) -> object:
        raise ValueRangeError(f"{LIST} is read only: the models in {', '.join(map(str, self.folders))}")

    # -- the worker -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # loading waits for the audio
        except OSError:
            pass
        while True:
            with self._wake:
                while self._wanted is None and not self._closed and not (self._measuring and self._to_measure):
                    self._idle.set()
                    self._wake.wait()
                if self._closed:
                    self._idle.set()
                    return
                wanted, self._wanted = self._wanted, None
            if wanted is None:
                self._idle.clear()  # benches and tests wait for the measuring too
                self._measure_delay(self._to_measure.pop(0))
                continue
            try:
                self._swap(*wanted)
            except Exception as exc:  # noqa: BLE001 -- the model playing goes on, whatever happened
                message = f"model {wanted[0]} not loaded: {exc}; {self.playing()} keeps playing"
                self.failures.append(message)
                self.report(message)

    def _measure_delay(self, name: str) -> None:
        """A preloaded model's delay (seconds of its own blocks, outside Python's lock), so its
        swap needs only the warm-up."""
        path = self.available().get(name)
        model = self.rig.kept_model(path) if path is not None else None
        if model is None or model is self.rig.model:
            return
        try:
            model_delay(model, default_block_size(model.block_multiple))
        except Exception as exc:  # noqa: BLE001 -- measured again (and reported) when it is asked for
            log.debug("measuring %s's delay failed: %s", name, exc)

    def _swap(self, name: str, path: Path, requested: float, source: str,
              then: Callable[[], None] | None = None) -> None:
        if path.resolve() == self.rig.model.path.resolve():
            if then is not None:
                then()
            else:
                self.report(f"model {name} is already playing")
            return
        started = time.perf_counter()
        model = self.rig.kept_model(path)
        if model is None:
            self.report(f"model {name} was not preloaded: reading it stalls the audio for a moment "
                        f"(models in the folders when the show starts are preloaded)")
            model = load_model(path)
        loaded = time.perf_counter()
        bank = self.rig.prepare_model(model)
        if self.live is None or not self.live.running:
            self.rig.switch_model(model, source)
            if then is not None:
                then()
            self.report(f"model {name} selected (the audio is not running)")
            return
        try:
            incoming = self.live.prepare_swap(model, bank, name, requested)
        except Exception:
            if model is not self.rig.model:
                self.rig.forget_model(path)
            raise
        warmed = time.perf_counter()
        self.rig.switch_model(model, source)
        if then is not None:  # a scene for this model: its bends are in its first blocks
            then()
            self.rig.compute_pending()
        done = self.live.swap(incoming, self.crossfade_ms / 1000.0)
        if not done.wait(SWAP_TIMEOUT_S):
            raise PerformerError("the crossfade did not end (the audio stopped?)")
        self.live.release_outgoing()
        ms_per_frame = 1000.0 / self.live.rate
        result = SwapResult(name, (incoming.finished - requested) * 1000, (started - requested) * 1000,
                            (loaded - started) * 1000,
                            (warmed - loaded) * 1000, (incoming.began - warmed) * 1000,
                            incoming.grew * ms_per_frame, incoming.began)
        self.results.append(result)
        message = (f"model {name} playing: {result.total_ms:.0f} ms from the request to the end of the crossfade "
                   f"(load {result.load_ms:.0f}, warm-up {result.warm_ms:.0f}, crossfade {self.crossfade_ms:g})")
        if result.latency_change_ms > 0.05:
            message += (f"; latency now {1000 * self.live.latency.total_seconds:.1f} ms "
                        f"(+{result.latency_change_ms:.1f} ms: its delay, block or time per block is longer)")
        self.report(message)
