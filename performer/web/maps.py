"""The dashboard's sensitivity maps, one per model: ``/api/sensitivity`` is the playing model's.

A SensitivityJob measures one model file. After a hot swap (``model/load``) every address means
another model, so this keeps a job per model file, made the first time that model's map is asked
for, and passes each job's progress on to the listeners tagged with its model's name (a page
ignores a model it is not showing). One run at a time: measuring one model stops another's run
(what it measured is kept in the cache; its map resumes from there).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable


def _job(model, tensors):
    from performer.sensitivity.job import SensitivityJob

    return SensitivityJob(model, tensors)


class ModelMaps:
    """SensitivityJob's face (``listen``, ``snapshot``, ``start``, ``stop``, ``state``) for
    whichever model the Rig plays. ``make(model, tensors)`` builds one model's job."""

    def __init__(self, rig, make: Callable[[object, list], object] = _job):
        self.rig = rig
        self._make = make
        self._jobs: dict[Path, object] = {}
        self._listeners: list[Callable[[dict], None]] = []
        self._lock = threading.Lock()

    def listen(self, listener: Callable[[dict], None]) -> None:
        self._listeners.append(listener)

    def job(self):
        """The playing model's job (made now if its map was never asked for)."""
        model = self.rig.model
        # its own tensor list, consistent with it even while a swap switches the Rig
        tensors = self.rig.prepare_model(model).infos
        key = Path(str(model.path)).resolve()
        with self._lock:
            job = self._jobs.get(key)
            if job is None:
                job = self._jobs[key] = self._make(model, tensors)
                name = Path(str(model.path)).stem
                job.listen(lambda message, name=name: self._tell({**message, "model": name}))
            return job

    @property
    def model(self) -> str:
        return Path(str(self.rig.model.path)).stem

    @property
    def state(self) -> str:
        return self.job().state

    def current(self):
        return self.job().current()

    def snapshot(self) -> dict:
        job = self.job()
        return {**job.snapshot(), "model": Path(str(job.model_path)).stem}

    def start(self) -> dict:
        job = self.job()
        with self._lock:
            others = [j for j in self._jobs.values() if j is not job]
        for other in others:
            other.stop()
        return {**job.start(), "model": Path(str(job.model_path)).stem}

    def stop(self) -> None:
        """Stop measuring (every model's run: there is at most one)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop()

    def _tell(self, message: dict) -> None:
        for listener in list(self._listeners):
            listener(message)  # the job catches and logs a listener's failure
