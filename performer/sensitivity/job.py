"""The dashboard's sensitivity map: read from the cache, or measured in the background.

The measuring runs in a worker process (``performer sensitivity --background``) that loads its
own copy of the model (the live one is never bent by it), in the idle scheduling class on one
torch thread: it takes only CPU time the audio leaves, and holds no GIL the server needs. It
streams one JSON line per tensor; the job keeps them (a partial map is shown as it grows) and
passes each on to ``listen``ers (the WebSocket hub). The worker saves to the cache as it goes,
so a stopped or crashed run resumes where it was.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable

from performer.children import close_streams, kill_group
from performer.sensitivity.cache import MapCache, model_info
from performer.sensitivity.profile import SensitivityMap
from performer.sensitivity.run import Settings, TensorResult
from performer.sensitivity.summary import strongest

log = logging.getLogger("performer.sensitivity")


class SensitivityJob:
    """One model's map for the dashboard. ``start`` is idempotent; ``stop`` ends the worker."""

    def __init__(self, model, tensors, settings: Settings = Settings(), cache: MapCache | None = None,
                 only: list[str] | None = None, python: str = sys.executable):
        self.model_path = Path(str(model.path))
        self.info = model_info(model, tensors)
        self.order = [t.name for t in tensors]
        self.settings = settings
        self.cache = cache or MapCache()
        if only is not None:  # a wrong name fails here, not seconds later in the worker
            from performer.sensitivity.run import select_tensors
            select_tensors(tensors, only)
        self.only = only  # measure just these tensors (tests, or a quick look)
        self.python = python
        self.state = "idle"  # idle | running | done | stopped | error
        self.done = self.total = 0
        self.eta: float | None = None
        self.error = ""
        self._map: SensitivityMap | None = None
        self._process: subprocess.Popen | None = None
        self._listeners: list[Callable[[dict], None]] = []
        self._lock = threading.Lock()
        self._tail: deque[str] = deque(maxlen=20)

    def listen(self, listener: Callable[[dict], None]) -> None:
        """``listener(message)`` gets each progress message, from the job's reader thread."""
        self._listeners.append(listener)

    # -- reading ---------------------------------------------------------------------------
    def current(self) -> SensitivityMap:
        """The map as far as it is known (from the cache on first use)."""
        with self._lock:
            if self._map is None:
                self._map = self.cache.load(self.info, self.settings) or \
                    SensitivityMap(self.info, self.settings, order=list(self.order))
                if self._map.complete and self.state == "idle":
                    self.state = "done"
            return self._map

    def snapshot(self) -> dict:
        """State, progress and the compact map (scores and summaries, no per-bend measures)."""
        found = self.current()
        with self._lock:
            data = found.to_dict(details=False)
            return {"state": self.state, "done": self.done, "total": self.total, "eta": self.eta,
                    "error": self.error, "map": data}

    # -- running ---------------------------------------------------------------------------
    def start(self) -> dict:
        self.current()
        with self._lock:
            if self.state == "running":
                return {"state": self.state}
            command = [self.python, "-m", "performer", "sensitivity", str(self.model_path), "--background",
                       "--bends", ",".join(self.settings.bends), "--seconds", repr(self.settings.seconds),
                       "--seed", str(self.settings.seed)]
            command += ["--cache-dir", str(self.cache.folder)]
            if self.only:
                command += ["--tensors", ",".join(self.only)]
            env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
            self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, text=True, start_new_session=True, env=env)
            self.state, self.error, self.done, self.total, self.eta = "running", "", 0, 0, None
            process = self._process
        threading.Thread(target=self._read, args=(process,), name="performer-sensitivity", daemon=True).start()
        self._tell({"type": "sensitivity", "state": "running", "done": 0, "total": 0})
        return {"state": "running"}

    def stop(self) -> None:
        with self._lock:
            process = self._process
            if process is None or process.poll() is not None:
                return
            self.state = "stopped"
        kill_group(process)
        close_streams(process.stdout)

    def wait(self, timeout: float) -> str:
        """Until the worker ends (tests); the final state."""
        deadline = time.monotonic() + timeout
        while self.state == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.state

    def _read(self, process: subprocess.Popen) -> None:
        try:
            for line in process.stdout:
                line = line.strip()
                if not line.startswith("{"):
                    if line:
                        self._tail.append(line)
                    continue
                try:
                    message = json.loads(line)
                except ValueError:
                    self._tail.append(line)
                    continue
                self._take(message)
        except (OSError, ValueError):  # the pipe closed under us: stop() ended the worker
            pass
        code = process.wait()
        with self._lock:
            if self.state == "running":
                if code == 0:
                    self.state = "done"
                else:
                    self.state = "error"
                    self.error = (f"the measuring process ended with code {code}: "
                                  + (" | ".join(list(self._tail)[-3:]) or "no output"))
                    log.warning("sensitivity: %s", self.error)
            state = self.state
        self._tell({"type": "sensitivity", "state": state, "done": self.done, "total": self.total,
                    "error": self.error})

    def _take(self, message: dict) -> None:
        if message.get("type") != "progress":
            return
        entry = message.get("result")
        with self._lock:
            self.done, self.total, self.eta = int(message["done"]), int(message["total"]), message.get("eta")
            if entry is not None and self._map is not None:
                name = message["tensor"]
                self._map.tensors[name] = TensorResult.from_dict(name, entry)
        out = {"type": "sensitivity", "state": "running", "done": self.done, "total": self.total, "eta": self.eta}
        if entry is not None:
            out["tensor"] = {"name": message["tensor"], "index": entry["index"], "scores": entry["scores"],
                             "summary": entry["summary"], "strongest": strongest(entry["scores"])}
        self._tell(out)

    def _tell(self, message: dict) -> None:
        for listener in list(self._listeners):
            try:
                listener(message)
            except Exception:  # a listener's trouble never stops the reading
                log.exception("sensitivity listener failed")

