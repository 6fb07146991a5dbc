"""`performer serve` starts the dashboard: the API answers with the live engine's status, a
change made over HTTP reaches OSC, and the dashboard refuses to listen on the network without a
token."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.control.test_serve_control import OscPeer, free_udp_port
from tests.live.test_live_jack import ServeProcess

pytestmark = [pytest.mark.fixtures, pytest.mark.jack]


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dashboard_serves_the_live_engine(jack_server, small_model_path):
    port, osc_port = free_tcp_port(), free_udp_port()
    serve = ServeProcess(small_model_path, jack_server.env(), "--web-port", str(port), "--osc-port", str(osc_port),
                         "--no-midi")
    osc = OscPeer(osc_port)
    try:
        assert serve.wait_for("running; Ctrl-C stops", 60), serve.text
        assert f"web: http://127.0.0.1:{port}/" in serve.text, serve.text
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while httpx.get(f"{base}/api/status").json()["blocks"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        status = httpx.get(f"{base}/api/status").json()
        assert status["state"] == "running" and status["blocks"] > 0 and status["latency_ms"] > 46
        assert status["block"] == 2048 and status["osc"]["received"] == 0
        response = httpx.post(f"{base}/api/set", json={"address": "mix", "value": 0.5})
        assert response.status_code == 200
        assert osc.query("/performer/mix") == 0.5
    finally:
        serve.process.terminate()
        serve.process.wait(timeout=30)
        osc.sock.close()
    assert serve.process.returncode == 0, serve.text


def test_dashboard_on_the_network_prints_a_token_url(jack_server, small_model_path):
    port = free_tcp_port()
    serve = ServeProcess(small_model_path, jack_server.env(), "--web-port", str(port), "--web-host", "0.0.0.0",
                         "--no-midi", "--no-osc")
    try:
        assert serve.wait_for("running; Ctrl-C stops", 60), serve.text
        line = next(line for line in serve.text.splitlines() if line.startswith("web: "))
        token = line.split("?token=")[1].strip()
        assert len(token) >= 20
        assert httpx.get(f"http://127.0.0.1:{port}/api/status").status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/api/status", params={"token": token}).status_code == 200
    finally:
        serve.process.terminate()
        serve.process.wait(timeout=30)
    assert serve.process.returncode == 0, serve.text


def test_an_example_input_replaces_the_device_and_back(jack_server, small_model_path, tmp_path):
    import io

    import numpy as np
    import soundfile as sf

    port = free_tcp_port()
    serve = ServeProcess(small_model_path, jack_server.env(), "--web-port", str(port), "--no-midi", "--no-osc")
    base = f"http://127.0.0.1:{port}"

    def input_level(seconds: float = 1.0) -> float:
        import websockets.sync.client as ws_client

        levels = []
        with ws_client.connect(f"ws://127.0.0.1:{port}/api/ws") as ws:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                message = __import__("json").loads(ws.recv(timeout=2))
                if message["type"] == "meters":
                    levels.append(max(message["input_db"]))
        return max(levels)

    try:
        assert serve.wait_for("running; Ctrl-C stops", 60), serve.text
        assert httpx.get(f"{base}/api/inputs").json()["current"] == "device"
        assert input_level() < -100  # nothing plays into performer:in_0
        assert httpx.post(f"{base}/api/inputs/glide").json() == {"current": "glide"}
        time.sleep(0.3)
        assert httpx.get(f"{base}/api/inputs").json()["current"] == "glide"
        assert input_level() > -40
        wav = io.BytesIO()
        sf.write(wav, 0.5 * np.sin(np.arange(22050) / 5).astype(np.float32), 22050, format="WAV")  # resampled
        name = httpx.post(f"{base}/api/upload", files={"file": ("take.wav", wav.getvalue())}).json()["name"]
        assert httpx.post(f"{base}/api/inputs/{name}").status_code == 200
        time.sleep(0.3)
        assert input_level() > -20
        assert httpx.post(f"{base}/api/inputs/device").status_code == 200
        time.sleep(0.3)
        assert input_level() < -100
        status = httpx.get(f"{base}/api/status").json()
        assert status["state"] == "running", status  # lateness is the benches' business, not a unit test's
    finally:
        serve.process.terminate()
        serve.process.wait(timeout=30)
    assert serve.process.returncode == 0, serve.text
