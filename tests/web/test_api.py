"""The dashboard's API against a real Rig (genuine RAVE export) and real scenes: REST, errors,
token and origin checks, the WebSocket's change events, and schemathesis over the OpenAPI schema."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient

from performer.rig import Rig
from performer.scenes.session import SceneSession, SessionOptions
from performer.web.app import create_app
from performer.web.context import WebContext
from performer.web.server import needs_token

pytestmark = pytest.mark.fixtures


@pytest.fixture
def rig(small_model):
    return Rig(small_model)


@pytest.fixture
def session(rig, tmp_path):
    s = SceneSession(rig, SessionOptions(scenes_dir=tmp_path / "scenes", autosave_dir=tmp_path / "live",
                                         restore=False, bending_log=False))
    s.start()
    yield s
    s.stop()


@pytest.fixture
def client(rig, session):
    with TestClient(create_app(WebContext(rig, session=session))) as c:
        yield c


def test_status_state_addresses_tensors(client, rig):
    status = client.get("/api/status").json()
    assert status["model"] == "v2_small_c8.ts" and status["sample_rate"] == 44100 and status["state"] == "offline"
    assert client.get("/api/state").json()["globals"]["mix"] == 1.0
    assert "mix" in client.get("/api/addresses").json()["globals"]
    tensors = client.get("/api/tensors").json()
    assert len(tensors) == len(rig.tensors) and tensors[0]["index"] == 0
    assert {t["group"] for t in tensors} >= {"encoder", "decoder"}
    assert all(t["about"] for t in tensors)


def test_set_and_its_errors(client, rig):
    result = client.post("/api/set", json={"address": "#3/0/transform", "value": "invert"}).json()
    assert result == {"address": f"{rig.tensors[3].name}/0/transform", "value": "invert"}
    assert rig.chain(3)[0].transform == "invert"
    bad = client.post("/api/set", json={"address": "mix", "value": 7})
    assert bad.status_code == 422 and "0..1" in bad.json()["detail"]
    bad = client.post("/api/set", json={"address": "nope/0/amount", "value": 1})
    assert bad.status_code == 422 and "no tensor named 'nope'" in bad.json()["detail"]
    assert client.post("/api/set", json={"value": 1}).status_code == 422


def test_heatmap_shows_the_bend(client, rig):
    before = client.get("/api/tensors/5/heatmap").json()
    assert before["changed"] == 0.0 and before["before"] == before["after"]
    rig.set("#5/0/transform", "invert")
    rig.compute_pending()
    rig.install_pending()
    after = client.get("/api/tensors/5/heatmap", params={"rows": 8, "cols": 16}).json()
    assert after["changed"] > 0.9 and after["rows"] <= 8 and after["cols"] <= 16
    assert after["before"] != after["after"] and sum(after["histogram"]["after"]) == rig.tensors[5].size
    assert client.get("/api/tensors/9999/heatmap").status_code == 404


def test_scenes_over_http(client, rig, tmp_path):
    rig.set("mix", 0.4)
    assert client.post("/api/scenes/verse/save").json() == {"name": "verse"}
    rig.set("mix", 1.0)
    assert client.post("/api/scenes/verse/recall").json()["name"] == "verse"
    assert rig.get("mix") == 0.4
    listing = client.get("/api/scenes").json()
    assert [s["name"] for s in listing["scenes"]] == ["verse"] and listing["current"] == "verse"
    missing = client.post("/api/scenes/absent/recall")
    assert missing.status_code == 422 and "absent" in missing.json()["detail"]
    escaping = client.post("/api/scenes/..%2F..%2Fescaped/save")  # never reaches a file name
    assert escaping.status_code in (404, 405, 422)
    dots = client.post("/api/scenes/%2E%2E/save")
    assert dots.status_code == 422 and ".." in dots.json()["detail"]
    assert not list(tmp_path.parent.glob("escaped*")) and not list(tmp_path.glob("escaped*"))


def test_learn_needs_midi(client):
    response = client.post("/api/learn", json={"address": "mix"})
    assert response.status_code == 409 and "MIDI is off" in response.json()["detail"]


def test_websocket_pushes_changes_and_status(client, rig):
    with client.websocket_connect("/api/ws") as ws:
        assert ws.receive_json()["type"] == "status"
        rig.set("mix", 0.25, source="osc")
        for _ in range(50):
            message = ws.receive_json()
            if message["type"] == "change":
                break
        assert message == {"type": "change", "address": "mix", "value": 0.25, "source": "osc"}


def test_token_required_when_set(rig, session):
    with TestClient(create_app(WebContext(rig, session=session, token="s3cret"))) as c:
        assert c.get("/api/status").status_code == 401
        assert c.get("/api/status", params={"token": "wrong"}).status_code == 401
        assert c.get("/api/status", params={"token": "s3cret"}).status_code == 200
        assert c.get("/api/status", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        with pytest.raises(Exception):
            with c.websocket_connect("/api/ws") as ws:
                ws.receive_json()
        with c.websocket_connect("/api/ws?token=s3cret") as ws:
            assert ws.receive_json()["type"] == "status"
    assert needs_token("0.0.0.0") and not needs_token("127.0.0.1")


def test_websocket_from_another_origin_is_refused(client):
    with pytest.raises(Exception):
        with client.websocket_connect("/api/ws", headers={"origin": "http://evil.example"}) as ws:
            ws.receive_json()
    with client.websocket_connect("/api/ws", headers={"origin": "http://testserver"}) as ws:
        assert ws.receive_json()["type"] == "status"


def test_no_request_the_schema_allows_gets_a_500(rig, session):
    """schemathesis generates requests from the OpenAPI schema for every operation; none may
    make the server fail (pytest 9 and schemathesis' own pytest plugin disagree, so hypothesis
    drives each operation's strategy here)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(WebContext(rig, session=session)))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/set", "/api/status", "/api/tensors/{index}/heatmap"}
    failures = []
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(max_examples=15, deadline=None, suppress_health_check=list(hypothesis.HealthCheck),
                             database=None)
        def exercise(case):
            response = case.call()
            if response.status_code >= 500:
                failures.append((case.method, case.path, response.status_code, response.text[:200]))

        exercise()
    assert not failures, failures


def test_uploads_are_checked_and_kept_in_their_folder(rig, session, tmp_path):
    import io

    import numpy as np
    import soundfile as sf

    context = WebContext(rig, session=session, uploads_dir=tmp_path / "uploads", max_upload_bytes=200_000)
    wav = io.BytesIO()
    sf.write(wav, np.zeros(4410, dtype=np.float32), 44100, format="WAV")
    with TestClient(create_app(context)) as c:
        ok = c.post("/api/upload", files={"file": ("../../My Take (1).wav", wav.getvalue(), "audio/wav")})
        assert ok.status_code == 200 and ok.json()["name"] == "My_Take_1.wav"
        again = c.post("/api/upload", files={"file": ("My Take (1).wav", wav.getvalue(), "audio/wav")})
        assert again.json()["name"] == "My_Take_1-2.wav"
        assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == ["My_Take_1-2.wav", "My_Take_1.wav"]
        assert c.post("/api/upload", files={"file": ("notes.txt", b"hello", "text/plain")}).status_code == 415
        assert c.post("/api/upload", files={"file": ("fake.wav", b"RIFF....nonsense", "audio/wav")}).status_code == 415
        big = c.post("/api/upload", files={"file": ("big.wav", b"\0" * 300_000, "audio/wav")})
        assert big.status_code == 413
        assert not [p for p in (tmp_path / "uploads").iterdir() if p.name.startswith(".")]  # no leftovers
        inputs = c.get("/api/inputs").json()
        assert inputs["examples"] == ["glide", "pulse", "voice-like"] and "My_Take_1.wav" in inputs["uploads"]
        assert c.post("/api/inputs/glide").status_code == 409  # no live engine here
        for name in ("..%2F..%2Fetc%2Fpasswd", ".hidden.wav", "absent.wav"):
            assert c.post(f"/api/inputs/{name}").status_code in (404, 405, 409)
