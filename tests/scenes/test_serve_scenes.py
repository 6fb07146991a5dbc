"""`performer serve` with scenes: saved over OSC, the live state autosaved and restored after a
kill -9, the session's bending log written. Headless (file in, file out), so no device needed."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import soundfile as sf

from tests.control.test_serve_control import OscPeer, free_udp_port
from tests.live.test_live_jack import ServeProcess

pytestmark = pytest.mark.fixtures


def start(model, tmp_path, osc_port, *extra):
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    serve = ServeProcess(model, env, "--input-file", str(tmp_path / "in.wav"), "--output-file",
                         str(tmp_path / "out.wav"), "--osc-port", str(osc_port), "--no-midi", *extra)
    assert serve.wait_for("running; Ctrl-C stops", 60), serve.text
    return serve


def test_kill_9_then_serve_starts_where_it_was(small_model_path, tmp_path):
    sf.write(tmp_path / "in.wav", 0.1 * np.sin(np.arange(44100) / 10).astype(np.float32), 44100)
    port = free_udp_port()
    serve = start(small_model_path, tmp_path, port)
    osc = OscPeer(port)
    try:
        osc.send("/performer/#3/0/transform", "invert")
        osc.send("/performer/mix", 0.3)
        osc.send("/performer/scene/save", "verse")
        assert osc.query("/performer/mix") == pytest.approx(0.3)
        time.sleep(1.5)  # the autosave writes within half a second of a change
    finally:
        serve.process.kill()  # kill -9: no clean shutdown, no final save
        serve.process.wait(timeout=10)
    scenes = tmp_path / "data" / "performer" / "scenes"
    assert json.loads((scenes / "verse.json").read_text())["state"]["globals"]["mix"] == pytest.approx(0.3)
    logs = list((tmp_path / "data" / "performer" / "logs").glob("*.jsonl"))
    assert len(logs) == 1
    logged = [json.loads(line) for line in logs[0].read_text().splitlines() if line.strip()]
    assert any(e["address"] == "mix" and e["value"] == pytest.approx(0.3) and e["source"] == "osc" for e in logged)

    serve = start(small_model_path, tmp_path, port)
    try:
        assert "restored the live state" in serve.text, serve.text
        assert osc.query("/performer/mix") == pytest.approx(0.3)
        assert osc.query("/performer/#3/0/transform") == "invert"
        osc.send("/performer/mix", 1.0)
        osc.send("/performer/scene/recall", "verse")
        assert osc.query("/performer/mix") == pytest.approx(0.3)
    finally:
        serve.process.terminate()
        serve.process.wait(timeout=30)
        osc.sock.close()
    assert serve.process.returncode == 0, serve.text

    fresh = start(small_model_path, tmp_path, port, "--fresh")
    osc = OscPeer(port)
    try:
        assert "restored" not in fresh.text and osc.query("/performer/mix") == 1.0
    finally:
        fresh.process.terminate()
        fresh.process.wait(timeout=30)
        osc.sock.close()
