"""Knob-to-sound for bench/realtime.py: from a control's change to the callback that hands the first
block computed with it to the device.

Three controls move the same address (a conv tensor's factor) between 1.0 and 1.25, one change
every ~200 ms (random phase), --changes of each:
  rig   ``Rig.set`` from another thread
  midi  a CC from a probe JACK MIDI output (RtMidi, in this process) into Performer's virtual input
        performer-midi:Performer, bound to the address by a mapping: JACK, the MIDI process, its
        pipe, the router
  osc   a datagram ``/performer/<address> <float>`` to Performer's OSC server on loopback
MIDI and OSC are started the way ``performer serve`` starts them (ControlSurfaces), on a mapping
written to a temporary file. The time starts at ``perf_counter`` just before the change is made or
sent; the server notes when each block with freshly installed tensors will be heard (the callback
that hands it to the device, plus the device's output latency, which is taken off here).
"""

from __future__ import annotations

import random
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from performer.control.osc_wire import encode_message
from performer.control.surfaces import ControlSurfaces, SurfaceOptions
from performer.live.server import LiveServer

VALUES = (1.0, 1.25)  # change i sets VALUES[i % 2]
CC = 20  # on channel 1: 0 -> 1.0, 127 -> 1.25
MAPPING = """schema_version = 1
name = "knob-to-sound probe"
[[controls]]
match = {{ type = "cc", channel = 1, number = {cc} }}
address = "{address}"
min = {low}
max = {high}
takeover = "none"
"""

Send = Callable[[int], float]  # makes change i; returns perf_counter just before it went out


def measure(server: LiveServer, send: Send, changes: int) -> list[float]:
    """Milliseconds from each change to its block's arrival at the device (output latency included)."""
    installs = server.telemetry.installs
    installs.clear()  # a bounded deque: a full one would not grow, and no change would count as heard
    heard = []
    for i in range(changes):
        time.sleep(0.15 + random.random() * 0.1)
        before = len(installs)
        sent = send(i)
        deadline = sent + 1.0
        while len(installs) == before and time.perf_counter() < deadline:
            time.sleep(0.0005)
        if len(installs) > before:
            heard.append((installs[before] - sent) * 1e3)
    return heard


def summary(heard: list[float], changes: int, device_out_ms: float, target: float) -> dict:
    """To the callback that hands the block to the device; the device's own output latency after."""
    figures = {"median": None, "p95": None, "max": None}
    if heard:
        figures = {"median": round(statistics.median(heard) - device_out_ms, 1),
                   "p95": round(float(np.percentile(heard, 95)) - device_out_ms, 1),
                   "max": round(max(heard) - device_out_ms, 1)}
    return {**figures, "target": round(target, 1), "device_out": round(device_out_ms, 1),
            "heard": len(heard), "sent": changes}


class RigProbe:
    def __init__(self, server: LiveServer, address: str):
        self.rig, self.address = server.rig, address

    def __call__(self, i: int) -> float:
        sent = time.perf_counter()
        self.rig.set(self.address, VALUES[i % 2], source="bench")
        return sent


class MidiProbe:
    """A controller in this process: a JACK MIDI output connected to Performer's virtual input."""

    def __init__(self, port: str = "performer-midi:Performer"):
        import rtmidi

        self.out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="knob-probe")
        ports = self.out.get_ports()
        if port not in ports:
            raise SystemExit(f"knob-to-sound: no JACK MIDI port {port} (found {ports})")
        self.out.open_port(ports.index(port), "out")
        self.messages = [[0xB0, CC, 0], [0xB0, CC, 127]]

    def __call__(self, i: int) -> float:
        message = self.messages[i % 2]
        sent = time.perf_counter()
        self.out.send_message(message)
        return sent

    def close(self) -> None:
        self.out.close_port()
        self.out.delete()


class OscProbe:
    def __init__(self, port: int, address: str):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.target = ("127.0.0.1", port)
        self.packets = [encode_message(f"/performer/{address}", (value,)) for value in VALUES]

    def __call__(self, i: int) -> float:
        packet = self.packets[i % 2]
        sent = time.perf_counter()
        self.sock.sendto(packet, self.target)
        return sent

    def close(self) -> None:
        self.sock.close()


@contextmanager
def control_surfaces(rig, address: str):
    """MIDI (JACK) and OSC (a free loopback port) for ``rig``, with ``address`` on CC 20. Started
    before the server, as ``performer serve`` starts them."""
    with tempfile.TemporaryDirectory() as tmp:
        mapping = Path(tmp) / "knob.toml"
        mapping.write_text(MAPPING.format(cc=CC, address=address, low=VALUES[0], high=VALUES[1]))
        errors: list[str] = []
        surfaces = ControlSurfaces(rig, SurfaceOptions(
            mappings=[mapping], shipped=False, midi_inputs=[], midi_api="jack", osc_port=0,
            learn_file=Path(tmp) / "learned.toml"), report=errors.append)
        try:
            surfaces.start()
            if errors or surfaces.midi is None or surfaces.osc is None or not surfaces.mappings:
                raise SystemExit(f"knob-to-sound: MIDI or OSC did not start: {'; '.join(errors) or 'no mapping'}")
            yield surfaces
        finally:
            surfaces.stop()


@contextmanager
def midi_probe():
    """The MIDI probe's JACK client, for the whole run."""
    probe = MidiProbe()
    try:
        yield probe
    finally:
        probe.close()


def knob_to_sound(server: LiveServer, surfaces: ControlSurfaces, midi: MidiProbe, address: str, target: float,
                  changes: int) -> dict[str, dict]:
    """Per control (rig, midi, osc): median, p95 and max ms, target, device output latency, heard/sent.
    ``midi`` is opened before the server starts: a JACK client joining the graph mid-show can
    delay a cycle (a late block, and latency growth, in the middle of the measurement)."""
    device_out_ms = 1e3 * server.latency.device_out
    osc = OscProbe(surfaces.osc.port, address)
    try:
        return {name: summary(measure(server, probe, changes), changes, device_out_ms, target)
                for name, probe in (("rig", RigProbe(server, address)), ("midi", midi), ("osc", osc))}
    finally:
        osc.close()
