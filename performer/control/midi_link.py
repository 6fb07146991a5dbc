"""Server side of the MIDI process: start it, turn its lines into messages, send feedback, restart it.

The server never opens a MIDI port itself (see midi_host for why). A reader thread per link
parses the process's lines into ``(port name, monotonic seconds, bytes)`` for the caller, who
decodes the bytes (a MidiStreamParser per port: running status and sysex span messages). If the
process dies (a crash, the JACK server gone), the thread reports it and starts another one with
a growing backoff until one opens.
"""

from __future__ import annotations

import binascii
import json
import logging
import os
import queue
import select
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from performer.children import close_streams, finish, kill_group, relay_stderr, spawn
from performer.errors import PerformerError

log = logging.getLogger("performer.control.midi")

OPEN_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 3.0
RESTART_MIN_S = 0.25  # first retry; doubles per failed attempt
RESTART_MAX_S = 5.0
STABLE_S = 10.0  # a process that ran this long resets the backoff

MessageSink = Callable[[str, float, bytes], None]
EventSink = Callable[[dict], None]


class MidiError(PerformerError):
    """The MIDI process could not open its ports (no JACK server, no ALSA sequencer...)."""


@dataclass
class MidiConfig:
    inputs: list[str] = field(default_factory=list)  # controller ports to read: case-insensitive parts of names
    outputs: list[str] | None = None  # controller ports to send feedback to; None: the same as inputs
    client_name: str = "performer-midi"
    api: str | None = None  # "jack" or "alsa"; None: MIDO_BACKEND decides, else ALSA then JACK


@dataclass
class MidiStats:
    received: int = 0  # messages delivered to the sink
    sent: int = 0  # feedback lines written to the process
    malformed: int = 0  # feedback lines the process ignored
    restarts: int = 0  # processes started after one died
    overflows: int = 0  # messages RtMidi dropped because its queue was full (it says so on stderr)


@dataclass
class MidiOpened:
    api: str
    inputs: list[str]  # the virtual input first, then matched controller outputs
    outputs: list[str]  # the virtual output first, then matched controller inputs
    priority: str = "normal"


class _Lines:
    """Complete lines from a pipe, waiting at most ``timeout`` (the pipe is read raw, unbuffered)."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        self.rest = b""

    def read(self, timeout: float | None) -> list[bytes] | None:
        """Lines that arrived within ``timeout`` (maybe none); None at end of file."""
        readable, _, _ = select.select([self.fd], [], [], timeout)
        if not readable:
            return []
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            return None
        *lines, self.rest = (self.rest + chunk).split(b"\n")
        return lines


class MidiLink:
    """One MIDI process at a time: ``start``, then messages flow to ``sink`` until ``stop``.

    ``sink`` is called (or ``put`` to, for a queue) from the link's reader thread with
    ``(port name, time.monotonic() seconds of arrival, raw bytes)``; it should be quick.
    ``on_event`` gets the reports: ``opened``, ``back``, ``gone``, ``malformed``, ``lost``
    (the process or its MIDI system died) and ``restarted``.
    """

    def __init__(self, config: MidiConfig, sink: MessageSink | queue.Queue | queue.SimpleQueue,
                 on_event: EventSink | None = None):
        self.config = config
        self._deliver: MessageSink = sink if callable(sink) else (lambda *item: sink.put(item))
        self._on_event = on_event
        self.stats = MidiStats()
        self.api = ""
        self._names: dict[int, str] = {}  # every port id the current process used
        self._inputs: dict[int, str] = {}  # the ones open now
        self._outputs: list[str] = []
        self._process: subprocess.Popen | None = None
        self._lines: _Lines | None = None
        self._stderr: deque[str] = deque(maxlen=20)
        self._lost_message: str | None = None
        self._lock = threading.Lock()  # guards _process against stop() racing a restart
        self._write_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- public ----------------------------------------------------------------------------

    def start(self, timeout: float = OPEN_TIMEOUT_S) -> MidiOpened:
        """Start the MIDI process and wait until its ports are open; MidiError if they cannot be."""
        if self._thread is not None:
            raise MidiError("the MIDI link is already running")
        self._stopping.clear()
        opened = self._open(timeout)
        self._thread = threading.Thread(target=self._supervise, daemon=True, name="performer-midi")
        self._thread.start()
        return opened

    def send(self, data: bytes | Iterable[int], port: str | None = None) -> bool:
        """Send raw MIDI bytes to the outputs whose name contains ``port`` (every output for None).
        False while no process runs (between a death and its restart): feedback is not queued."""
        line = json.dumps({"send": list(bytes(data)), "port": port}).encode() + b"\n"
        with self._write_lock:
            process = self._process
            if process is None or process.stdin is None:
                return False
            try:
                process.stdin.write(line)
                process.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                return False
        self.stats.sent += 1
        return True

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Close the process's stdin (it closes its ports and exits); kill it if it does not."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None:  # pipes closed after the reader saw the end of file
            finish(process, log, "MIDI process", ask=lambda: self._close_stdin(process), timeout=timeout, close=False)
        if self._thread is not None:
            self._thread.join(timeout=timeout + OPEN_TIMEOUT_S)
            self._thread = None
        if process is not None:
            self._close_pipes(process)
        with self._lock:
            self._process = None
        self._inputs, self._outputs = {}, []

    @property
    def ports(self) -> list[str]:
        """The inputs open now: our virtual port, then the matched controllers."""
        return list(self._inputs.values())

    @property
    def outputs(self) -> list[str]:
        return list(self._outputs)

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def __enter__(self) -> "MidiLink":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the process -----------------------------------------------------------------------

    def _open(self, timeout: float) -> MidiOpened:
        config = asdict(self.config)
        if config["outputs"] is None:
            config["outputs"] = config["inputs"]
        process = spawn("performer.control.midi_host", config, stdin=True)
        with self._lock:
            if self._stopping.is_set():
                kill_group(process)
                self._close_pipes(process)
                raise MidiError("the MIDI link was stopped")
            self._process, self._lines = process, _Lines(process.stdout)
        self._stderr = deque(maxlen=20)
        self._lost_message = None
        relay_stderr(process, self._stderr_line(self._stderr), "performer-midi-stderr")
        deadline = time.monotonic() + timeout
        opened: MidiOpened | None = None
        while opened is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stopping.is_set():
                self._fail(process)
                raise MidiError(f"the MIDI process did not open its ports within {timeout:.0f} s"
                                if remaining <= 0 else "the MIDI link was stopped")
            lines = self._lines.read(min(remaining, 0.1))
            if lines is None:
                code = process.wait()
                self._fail(process)
                detail = " | ".join(self._stderr) or "no output"
                raise MidiError(f"the MIDI process ended before opening its ports (exit code {code}): {detail}")
            for line in lines:  # all of them: message lines may follow `opened` in the same read
                event = self._handle(line)
                if event is None:
                    continue
                if event.get("event") == "error":
                    self._fail(process)
                    raise MidiError(event.get("message", "the MIDI process failed"))
                if event.get("event") == "opened":
                    opened = MidiOpened(api=event["api"], inputs=self.ports, outputs=self.outputs,
                                        priority=event.get("priority", "normal"))
        return opened

    def _supervise(self) -> None:
        """Read the process's lines; when it dies unexpectedly, report it and start another."""
        backoff = RESTART_MIN_S
        while True:
            started = time.monotonic()
            self._pump()
            if self._stopping.is_set():
                return
            with self._lock:
                process = self._process
            code = process.wait() if process is not None else None
            message = self._lost_message or f"the MIDI process ended (exit code {code})"
            log.warning("MIDI lost: %s; restarting", message)
            self._report({"event": "lost", "message": message})
            if process is not None:
                self._close_pipes(process)
            if time.monotonic() - started > STABLE_S:
                backoff = RESTART_MIN_S
            failures = 0
            while True:
                if self._stopping.wait(backoff):
                    return
                backoff = min(backoff * 2, RESTART_MAX_S)
                try:
                    opened = self._open(OPEN_TIMEOUT_S)
                except MidiError as exc:
                    failures += 1
                    (log.warning if failures == 1 else log.debug)("MIDI restart failed: %s", exc)
                    continue
                self.stats.restarts += 1
                log.warning("MIDI back (%s): %s", opened.api, ", ".join(opened.inputs))
                self._report({"event": "restarted", "api": opened.api, "inputs": opened.inputs,
                              "outputs": opened.outputs, "restarts": self.stats.restarts})
                break

    def _pump(self) -> None:
        lines = self._lines
        while lines is not None:
            batch = lines.read(None)
            if batch is None:
                return
            for line in batch:
                self._handle(line)

    def _handle(self, line: bytes) -> dict | None:
        """Deliver a message line; apply and report an event line (returned)."""
        if line[:1] != b"{":
            try:
                port_id, ns, data = line.split(b" ")
                port_id = int(port_id)
                item = (self._names.get(port_id, f"#{port_id}"), int(ns) / 1e9, binascii.a2b_hex(data))
            except (ValueError, binascii.Error):
                if line.strip():
                    log.debug("MIDI process: %r", line)
                return None
            self.stats.received += 1
            try:
                self._deliver(*item)
            except Exception:  # the caller's bug must not stop the reader
                log.exception("MIDI sink failed on %r", item)
            return None
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            log.debug("MIDI process: %r", line)
            return None
        kind = event.get("event")
        if kind == "opened":
            self.api = event.get("api", "")
            self._names = {i["id"]: i["port"] for i in event.get("inputs", [])}
            self._inputs = dict(self._names)
            self._outputs = list(event.get("outputs", []))
        elif kind in ("back", "gone"):
            if event.get("direction") == "in":
                self._names[event["id"]] = event["port"]
                if kind == "back":
                    self._inputs[event["id"]] = event["port"]
                else:
                    self._inputs.pop(event["id"], None)
            elif kind == "back":
                self._outputs.append(event["port"])
            elif event["port"] in self._outputs:
                self._outputs.remove(event["port"])
            log.info("MIDI %s %s: %s", event.get("direction"), kind, event.get("port"))
        elif kind == "malformed":
            self.stats.malformed += 1  # one event per ignored line; survives restarts
        elif kind == "lost":
            self._lost_message = event.get("message")
            return event  # the supervisor reports it once the process has ended
        if kind != "opened" or self._thread is None:  # a restart's `opened` is reported as `restarted`
            self._report(event)
        return event

    def _report(self, event: dict) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            log.exception("MIDI event handler failed on %r", event)

    def _fail(self, process: subprocess.Popen) -> None:
        kill_group(process)
        self._close_pipes(process)
        with self._lock:
            if self._process is process:
                self._process = None

    def _close_stdin(self, process: subprocess.Popen) -> None:
        with self._write_lock:
            try:
                if process.stdin:
                    process.stdin.close()
            except OSError:
                pass

    def _close_pipes(self, process: subprocess.Popen) -> None:
        self._close_stdin(process)
        close_streams(process.stdout, process.stderr)

    def _stderr_line(self, tail: deque) -> Callable[[str], None]:
        def on_line(line: str) -> None:
            if "queue limit reached" in line:  # RtMidi's only report of a dropped message
                self.stats.overflows += 1
                if self.stats.overflows == 1:
                    log.warning("MIDI input overflow: %s", line.strip())
            else:
                tail.append(line)
                log.debug("MIDI process: %s", line)
        return on_line
