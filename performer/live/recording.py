"""What is played, to files: the ``record`` address and the headless ``--output-file``.

``record`` 1 starts writing the output (and with ``record_input`` the input) to WAVs named by the
time in the record folder, 0 stops. The model thread pushes final blocks to ``sinks`` and input
blocks to ``input_sinks``: tuples replaced whole, so it never sees one half-updated; each
recorder writes from its own thread (live/recorder.py).
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Callable

from performer.live.recorder import Recorder
from performer.rig import Change


class Recording:
    def __init__(self, directory: Path, rate: int, out_channels: int, in_channels: int, with_input: bool,
                 report: Callable[[str], None]):
        self.directory, self.rate = Path(directory), rate
        self.out_channels, self.in_channels, self.with_input = out_channels, in_channels, with_input
        self.report = report
        self.sinks: tuple[Recorder, ...] = ()
        self.input_sinks: tuple[Recorder, ...] = ()
        self.name = ""  # the recording in progress
        self._recorders: list[Recorder] = []
        self._output_file: Recorder | None = None
        self._lock = threading.Lock()

    def open_output_file(self, path: str | Path) -> None:
        """Write the whole show's output to ``path`` (headless), until ``close``."""
        self._output_file = Recorder(path, self.rate, self.out_channels)
        self._output_file.start()
        self.sinks = self.sinks + (self._output_file,)

    def on_change(self, change: Change) -> None:
        """A rig listener: the ``record`` address."""
        if change.address != "record":
            return
        if change.value:
            self.start()
        else:
            for path in self.stop():
                self.report(f"recorded {path}")

    def start(self) -> None:
        with self._lock:
            if self._recorders:
                return
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            output = Recorder(self.directory / f"performer-{stamp}.wav", self.rate, self.out_channels)
            output.start()
            recorders = [output]
            if self.with_input:
                source = Recorder(self.directory / f"performer-{stamp}-input.wav", self.rate, self.in_channels)
                source.start()
                self.input_sinks = (source,)
                recorders.append(source)
            self.sinks = self.sinks + (output,)
            self._recorders = recorders
            self.name = output.path.name
            self.report(f"recording to {output.path}")

    def stop(self) -> list[Path]:
        """Stop recording; returns the files written."""
        with self._lock:
            recorders, self._recorders = self._recorders, []
            if not recorders:
                return []
            self.sinks = tuple(s for s in self.sinks if s not in recorders)
            self.input_sinks = ()
            self.name = ""
            return [p for p in (r.stop() for r in recorders) if p]

    def close(self) -> list[Path]:
        """Stop recording and the output file (after the model thread stopped); the files written."""
        written = self.stop()
        if self._output_file is not None:
            self.sinks = ()
            path = self._output_file.stop()
            written.extend([path] if path else [])
            self._output_file = None
        return written
