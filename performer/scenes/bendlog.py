"""The bending log: every change of a session, as it happened, in a file that survives a crash.

After Kotowski and Font's "Bending Log" (NIME, network bending): a performer's record of what was
bent, when, and how. Ours is written by the program, not by hand: each change event of the rig
becomes one JSON object on one line of a JSONL file, appended as it comes, line-buffered::

    {"t":12.503117,"time":1763722823.51,"address":"decoder.net.2.weight/0/amount","value":0.42,"source":"midi"}

``t`` is seconds since the session started, ``time`` the wall clock (Unix seconds). A whole-state
load (scene recall, undo) is logged as its own events plus one ``"state"`` entry whose value holds
every tensor chain after the load, so a log replays without the scene files it came from.

A crash loses at most the line being written; ``read_log`` ignores a truncated last line and
names the file and line of any other damage. ``LogReplay`` plays a log back over a render.
"""

from __future__ import annotations

import csv
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from performer.errors import PerformerError
from performer.scenes.errors import SceneError
from performer.scenes.paths import default_data_dir

if TYPE_CHECKING:  # reading and exporting a log needs no torch
    from performer.rig.rig import Change, Rig

log = logging.getLogger("performer.scenes.bendlog")

SUFFIX = ".jsonl"
STATE_ADDRESS = "state"  # the rig's whole-state load event (performer.rig.rig.STATE_ADDRESS)
CSV_FIELDS = ("time", "address", "value", "source")


@dataclass(frozen=True)
class LogEntry:
    t: float  # seconds since the session started
    time: float  # Unix time of the change
    address: str
    value: object
    source: str

    def to_dict(self) -> dict:
        return asdict(self)


def default_log_dir() -> Path:
    """``$XDG_DATA_HOME/performer/logs`` (or ``~/.local/share/performer/logs``)."""
    return default_data_dir() / "logs"


class BendingLog:
    """Appends every change of ``rig`` to a JSONL file for the whole session.

    ``path``: the file (appended to if it exists); default: a new file named after the session's
    start time in ``directory`` (default ``default_log_dir()``). Writes happen on the thread that
    made the change (MIDI, OSC, web): one short line each, under a lock.
    """

    def __init__(self, rig: Rig, path: str | Path | None = None, *, directory: str | Path | None = None):
        self.rig = rig
        self.started = time.time()
        self._lock = threading.Lock()
        self._failed = False
        self.count = 0
        if path is None:
            self.path, self._file = _new_session_file(Path(directory) if directory else default_log_dir(),
                                                      self.started)
        else:
            self.path = Path(path)
            self._file = _open_for_append(self.path)
        rig.add_listener(self._on_change)

    def close(self) -> None:
        """Stop logging and close the file (idempotent)."""
        try:
            self.rig.remove_listener(self._on_change)
        except ValueError:
            pass
        with self._lock:
            if not self._file.closed:
                self._file.close()

    def __enter__(self) -> "BendingLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def entries(self) -> list[LogEntry]:
        """Everything logged so far (read back from the file: a long session is not kept in memory)."""
        with self._lock:
            if not self._file.closed:
                self._file.flush()
        return read_log(self.path)

    def export_json(self, out: str | Path) -> Path:
        return export_json(self.entries(), out)

    def export_csv(self, out: str | Path) -> Path:
        return export_csv(self.entries(), out)

    def _on_change(self, change: Change) -> None:
        value = change.value
        if change.address == STATE_ADDRESS:  # the event carries a count; the log needs the chains
            value = {"tensors": self.rig.state()["tensors"]}
        entry = LogEntry(round(change.time - self.started, 6), change.time, change.address, value, change.source)
        line = _dumps(entry.to_dict()) + "\n"
        with self._lock:
            if self._file.closed:
                return
            try:
                self._file.write(line)  # one write per line: line buffering flushes it whole
                self.count += 1
            except OSError as exc:  # a full disk must not stop the show; say it once
                if not self._failed:
                    log.error("bending log %s: cannot write (%s); later changes are not logged", self.path, exc)
                self._failed = True


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)


def _new_session_file(directory: Path, started: float):
    directory.mkdir(parents=True, exist_ok=True)
    stem = time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(started))
    for n in range(1, 1000):
        path = directory / (f"{stem}{SUFFIX}" if n == 1 else f"{stem}-{n}{SUFFIX}")
        try:  # "x": two sessions started in the same second never share a file
            return path, open(path, "x", encoding="utf-8", buffering=1)
        except FileExistsError:
            continue
    raise SceneError(f"cannot create a bending log in {directory}: too many logs named {stem}*")


def _open_for_append(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):  # a line cut by a crash: drop it, or it would swallow ours
            keep = data.rfind(b"\n") + 1
            with open(path, "r+b") as f:
                f.truncate(keep)
            log.warning("bending log %s: dropped a truncated last line (%d bytes)", path, len(data) - keep)
    return open(path, "a", encoding="utf-8", buffering=1)


# -- reading and exporting -------------------------------------------------------------------

def read_log(path: str | Path) -> list[LogEntry]:
    """The entries of a bending log. A truncated last line (a crash while writing) is ignored;
    anything else that is not a log entry raises SceneError naming the file and line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SceneError(f"bending log not found: {path}", path) from None
    except OSError as exc:
        raise SceneError(f"cannot read bending log {path}: {exc.strerror or exc}", path) from None
    lines = data.split(b"\n")
    complete = len(lines) - 1  # the piece after the last newline is empty, or a cut line
    entries = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            entries.append(_parse_entry(raw))
        except ValueError as exc:
            if number > complete:
                log.warning("bending log %s: ignored a truncated last line %d", path, number)
                break
            raise SceneError(f"{path}:{number}: not a bending log entry ({exc})", path) from None
    return entries


def _parse_entry(raw: bytes) -> LogEntry:
    obj = json.loads(raw.decode("utf-8"))  # UnicodeDecodeError and JSONDecodeError are ValueErrors
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in ("t", "time", "address", "value", "source") if k not in obj]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    for key in ("t", "time"):
        if not isinstance(obj[key], (int, float)) or isinstance(obj[key], bool):
            raise ValueError(f"{key} must be a number, got {obj[key]!r}")
    for key in ("address", "source"):
        if not isinstance(obj[key], str):
            raise ValueError(f"{key} must be text, got {obj[key]!r}")
    return LogEntry(float(obj["t"]), float(obj["time"]), obj["address"], obj["value"], obj["source"])


def export_json(entries: Iterable[LogEntry], out: str | Path) -> Path:
    """Write ``entries`` as one JSON list of objects."""
    out = Path(out)
    out.write_text(json.dumps([e.to_dict() for e in entries], ensure_ascii=False, indent=1, default=str) + "\n",
                   encoding="utf-8")
    return out


def export_csv(entries: Iterable[LogEntry], out: str | Path) -> Path:
    """Write ``entries`` as CSV: time (seconds since the session start), address, value, source.
    Text and numbers are written as they are; anything else (a state) as JSON."""
    out = Path(out)
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_FIELDS)
        for e in entries:
            value = e.value if isinstance(e.value, (str, int, float)) and not isinstance(e.value, bool) \
                else _dumps(e.value)
            writer.writerow((f"{e.t:.6f}", e.address, value, e.source))
    return out


# -- replay ----------------------------------------------------------------------------------

class LogReplay:
    """Plays a log's changes back over a render: ``timeline()`` gives (seconds into the input,
    action) pairs for ``render_array``, which applies each at a block boundary.

    ``offset``: the log time (``t``, seconds since its session started) that lines up with the
    input's first sample; default: the first entry's, so the log's first change opens the render.
    Changes before it are applied before the first block. A change the model cannot take (an
    address it lacks, a live-only action) is skipped; ``notes()`` says so once per address.
    """

    def __init__(self, rig: Rig, entries: Sequence[LogEntry], offset: float | None = None):
        self.rig = rig
        self.entries = sorted(entries, key=lambda e: e.t)  # stable: same-time events keep log order
        self.origin = offset if offset is not None else (self.entries[0].t if self.entries else 0.0)
        self.applied = 0
        self._failures: dict[str, tuple[str, int]] = {}  # address -> (first error, how many)
        self._state_reports: dict[str, None] = {}  # ordered set

    def timeline(self) -> list[tuple[float, Callable[[], None]]]:
        return [(e.t - self.origin, (lambda e=e: self.apply(e))) for e in self.entries]

    def apply(self, entry: LogEntry) -> None:
        try:
            if entry.address == STATE_ADDRESS:
                for line in self.rig.load_state(entry.value, source="log"):
                    self._state_reports.setdefault(line)
            else:
                self.rig.set(entry.address, entry.value, source="log")
        except PerformerError as exc:
            first, count = self._failures.get(entry.address, (str(exc), 0))
            self._failures[entry.address] = (first, count + 1)
        self.applied += 1

    def notes(self) -> list[str]:
        """What did not replay, once per address."""
        notes = [f"log: {address}: {error}; skipped" + (f" ({count} changes)" if count > 1 else "")
                 for address, (error, count) in self._failures.items()]
        notes += [f"log: state: {line}" for line in self._state_reports]
        late = len(self.entries) - self.applied
        if late:
            notes.append(f"log: {late} change{'s' if late > 1 else ''} after the end of the input not applied")
        return notes
