"""``model/export NAME``: bake the live bends into a new nn~ file, beside the show, not in its way.

An export loads the model file afresh and measures its delay: seconds of CPU. It runs on a
worker thread at the lowest priority, one at a time, and writes ``exports/<NAME>.ts`` in the
user's data folder; the name is encoded as scene names are, so a name from a request never
leaves that folder. The live model is only read (a snapshot of the state when asked).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

from performer.errors import PerformerError, ValueRangeError
from performer.scenes.names import file_stem, validate_name

ADDRESS = "model/export"


class ModelExports:
    def __init__(self, rig, directory: Path, report: Callable[[str], None]):
        self.rig = rig
        self.directory = Path(directory)
        self.report = report
        self.last = ""  # the newest export's path, or what went wrong
        self._busy = threading.Lock()
        rig.add_action(ADDRESS, self._export, lambda: self.last)

    def close(self) -> None:
        self.rig.remove_action(ADDRESS)

    def path_for(self, name: object) -> Path:
        try:
            name = validate_name(name)
        except PerformerError as exc:
            raise ValueRangeError(f"{ADDRESS}: {str(exc).replace('scene name', 'export name')}") from None
        return self.directory / f"{file_stem(name)}.ts"

    def _export(self, value: object, source: str) -> str:
        out = self.path_for(value)
        if not self._busy.acquire(blocking=False):
            raise ValueRangeError(f"{ADDRESS}: an export is already running; try again when it is done")
        state = self.rig.state()  # the bends as they are now, whatever moves while it runs
        threading.Thread(target=self._run, args=(out, state), name="performer-export", daemon=True).start()
        return str(out)

    def _run(self, out: Path, state: dict) -> None:
        from performer.export.bake import export_bent

        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)  # behind the audio, always
        except OSError:
            pass
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            export_bent(self.rig.model.path, out, state, source="export",
                        expect_tensors=[(t.name, tuple(t.shape)) for t in self.rig.tensors])
            self.last = str(out)
            self.report(f"exported the bent model to {out}")
        except Exception as exc:  # an export never takes the show down
            self.last = f"failed: {exc}"
            self.report(f"model/export failed: {exc}")
        finally:
            self._busy.release()
