"""`performer serve --mapping F --midi-in NAME --osc-port N` end to end: a controller in another
process moves a Rig value through real JACK MIDI, OSC reads it back, feedback reaches the
controller, and the server stops cleanly."""

from __future__ import annotations

import socket
import time

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

from tests.control.test_midi_jack import JACK_BACKEND, PeerProcess
from tests.live.test_live_jack import ServeProcess

pytestmark = [pytest.mark.fixtures, pytest.mark.jack]

MAPPING = """
schema_version = 1
name = "E2E pad"
device = "e2epad"
[[controls]]
match = { type = "cc", channel = 1, number = 40 }
address = "mix"
takeover = "none"
[[outputs]]
address = "mix"
send = { type = "cc", channel = 1, number = 41 }
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OscPeer:
    def __init__(self, port: int):
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(3.0)

    def send(self, address: str, *args) -> None:
        builder = OscMessageBuilder(address)
        for arg in args:
            builder.add_arg(arg)
        self.sock.sendto(builder.build().dgram, ("127.0.0.1", self.port))

    def query(self, address: str) -> float:
        from performer.control.osc_wire import parse_packet

        self.send(address)
        data, _ = self.sock.recvfrom(65536)
        return parse_packet(data).args[0]


def test_controller_moves_the_rig_and_gets_feedback(jack_server, small_model_path, tmp_path):
    mapping = tmp_path / "e2e.toml"
    mapping.write_text(MAPPING)
    osc_port = free_udp_port()
    env = dict(jack_server.env(), MIDO_BACKEND=JACK_BACKEND)  # ServeProcess: no user mappings or autosave
    with PeerProcess() as pad:
        pad("plug e2epad")
        serve = ServeProcess(small_model_path, env, "--mapping", str(mapping), "--midi-in", "e2epad",
                             "--osc-port", str(osc_port))
        osc = OscPeer(osc_port)
        try:
            assert serve.wait_for("running; Ctrl-C stops", 60), serve.text
            assert "midi: jack" in serve.text and "e2epad:out" in serve.text, serve.text
            assert f"osc: udp 127.0.0.1:{osc_port}" in serve.text, serve.text
            assert osc.query("/performer/mix") == 1.0

            pad(f"send 1 1000 {40 * 128 + 64}")  # CC 40 = 64 on channel 1
            deadline = time.monotonic() + 5
            while osc.query("/performer/mix") == 1.0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert osc.query("/performer/mix") == pytest.approx(64 / 127, abs=1e-6)
            time.sleep(0.2)
            assert pad.received() == []  # a value the controller sent is not echoed back to it

            osc.send("/performer/mix", 0.25)  # changed elsewhere: the controller's LED follows
            deadline = time.monotonic() + 5
            while not pad.received() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert pad.received() == [[0xB0, 41, round(0.25 * 127)]]
        finally:
            serve.process.terminate()
            serve.process.wait(timeout=30)
            osc.sock.close()
    assert serve.process.returncode == 0, serve.text
    assert "stopped after" in serve.text
    assert not [p for p in jack_server.ports() if p.startswith("performer")], jack_server.ports()


def test_learn_at_start_binds_the_next_control_and_saves_it(jack_server, small_model_path, tmp_path):
    osc_port = free_udp_port()
    env = dict(jack_server.env(), MIDO_BACKEND=JACK_BACKEND, XDG_CONFIG_HOME=str(tmp_path / "config"))
    with PeerProcess() as pad:
        pad("plug learnpad")
        serve = ServeProcess(small_model_path, env, "--midi-in", "learnpad", "--osc-port", str(osc_port),
                             "--learn", "mix")
        osc = OscPeer(osc_port)
        try:
            assert serve.wait_for("learn: move a control for mix", 60), serve.text
            pad(f"send 3 100 {50 * 128 + 20}")  # CC 50 moving: 20, 21, 22
            assert serve.wait_for("learn: mix <- cc 50 on channel 1", 5), serve.text
            pad(f"send 1 100 {50 * 128 + 127}")
            deadline = time.monotonic() + 5
            while osc.query("/performer/mix") != 1.0 and time.monotonic() < deadline:
                time.sleep(0.05)
            pad(f"send 1 100 {50 * 128 + 0}")
            deadline = time.monotonic() + 5
            while osc.query("/performer/mix") != 0.0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert osc.query("/performer/mix") == 0.0
        finally:
            serve.process.terminate()
            serve.process.wait(timeout=30)
            osc.sock.close()
    assert serve.process.returncode == 0, serve.text
    learned = tmp_path / "config" / "performer" / "mappings" / "learned.toml"
    assert 'address = "mix"' in learned.read_text() and "number = 50" in learned.read_text()
