"""Server side of the device process: start it, relay its reports, stop or kill it.

The server never imports PortAudio for streaming, so a dead JACK server can never hang it: a
device process that stops answering is killed and replaced.
"""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import threading
import time
from dataclasses import dataclass, field

from performer.children import finish, relay_stderr, spawn
from performer.errors import PerformerError
from performer.live.shared import GO, HEARTBEAT_NS, STOP, SharedAudio

log = logging.getLogger("performer.audio.device")

OPEN_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 3.0


class DeviceError(PerformerError):
    def __init__(self, message: str, devices: list[dict] | None = None):
        super().__init__(message)
        self.devices = devices or []


@dataclass
class DeviceConfig:
    input_device: int | str | None = None
    output_device: int | str | None = None
    use_input: bool = True
    use_output: bool = True
    in_channels: int = 1
    out_channels: int = 1
    samplerate: int | None = None
    blocksize: int = 0
    client_name: str = "performer"


@dataclass
class OpenedDevice:
    samplerate: int
    blocksize: int
    latency: tuple[float, float]
    in_channels: int = 0
    out_channels: int = 0
    devices: dict = field(default_factory=dict)
    hostapi: str = ""
    priority: str = "normal"  # the audio thread's scheduling, as the device process got it


class DeviceLink:
    """One device process at a time over ``shared``."""

    def __init__(self, shared: SharedAudio, config: DeviceConfig):
        self.shared = shared
        self.config = config
        self._process: subprocess.Popen | None = None
        self._events: queue.Queue = queue.Queue()
        self.lost_message: str | None = None

    def open(self, timeout: float = OPEN_TIMEOUT_S) -> OpenedDevice:
        """Start a device process and wait until its stream is open (not yet running)."""
        self.kill()
        self.shared.header[GO] = 0
        self.shared.header[STOP] = 0
        self.lost_message = None
        c = self.config
        payload = {"shared": str(self.shared.path), "layout": self.shared.layout.to_dict(),
                   "input_device": c.input_device, "output_device": c.output_device, "use_input": c.use_input,
                   "use_output": c.use_output, "in_channels": c.in_channels, "out_channels": c.out_channels,
                   "samplerate": c.samplerate, "blocksize": c.blocksize, "client_name": c.client_name}
        self._events = queue.Queue()
        self._process = spawn("performer.live.device_host", payload, text=True)
        threading.Thread(target=self._read_events, args=(self._process, self._events), daemon=True,
                         name="performer-device-events").start()
        relay_stderr(self._process, lambda line: log.debug("device process: %s", line), "performer-device-stderr")
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self._events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise DeviceError(f"the audio device did not open within {timeout:.0f} s") from None
            if event.get("event") == "opened":
                return OpenedDevice(samplerate=event["samplerate"], blocksize=event["blocksize"],
                                    latency=tuple(event["latency"]), in_channels=event.get("in_channels", 0),
                                    out_channels=event.get("out_channels", 0), devices=event.get("devices", {}),
                                    hostapi=event.get("hostapi", ""), priority=event.get("priority", "normal"))
            if event.get("event") in ("error", "exit"):
                self.kill()
                raise DeviceError(event.get("message", "the device process failed"), event.get("devices"))

    def start(self) -> None:
        """Let the opened stream run (the rings must be primed first)."""
        self.shared.header[GO] = 1

    def poll_lost(self) -> str | None:
        """A message once the device process reported its stream lost or died; else None."""
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            if event.get("event") in ("lost", "exit", "error") and self.lost_message is None:
                self.lost_message = event.get("message", "the device process ended")
        if self.lost_message is None and self._process is not None and self._process.poll() is not None:
            self.lost_message = f"the device process ended (exit code {self._process.returncode})"
        return self.lost_message

    def seconds_since_callback(self) -> float:
        last = int(self.shared.header[HEARTBEAT_NS])
        return (time.monotonic_ns() - last) / 1e9 if last else float("inf")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Ask the device process to close its stream; kill it if it does not answer."""
        process, self._process = self._process, None
        if process is not None:
            finish(process, log, "device process", ask=self._ask_stop, timeout=STOP_TIMEOUT_S)

    def kill(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            finish(process, log, "device process")

    def _ask_stop(self) -> None:
        self.shared.header[STOP] = 1

    @staticmethod
    def _read_events(process: subprocess.Popen, events: queue.Queue) -> None:
        try:
            for line in process.stdout:
                try:
                    events.put(json.loads(line))
                except json.JSONDecodeError:
                    log.debug("device process: %s", line.rstrip())
        except (ValueError, OSError):  # closed under us
            return
        events.put({"event": "exit", "message": f"the device process ended (exit code {process.wait()})"})
