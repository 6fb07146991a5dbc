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


# -- model swaps (model/load) and the map per model ------------------------------------------------

@pytest.fixture
def swap(rig, models_folder):
    """model/load without audio: a load just switches the rig (show/swap.py's _swap)."""
    from performer.model.loader import MODELS_DIR
    from performer.show.swap import ModelSwap

    s = ModelSwap(rig, None, [MODELS_DIR, models_folder], crossfade_ms=40.0, report=lambda line: None)
    yield s
    s.close()


def receive_change(ws, address: str, tries: int = 200) -> dict:
    for _ in range(tries):
        message = ws.receive_json()
        if message["type"] == "change" and message["address"] == address:
            return message
    raise AssertionError(f"no {address} change")


def test_models_lists_the_swaps_names_and_a_swap_moves_the_whole_api(rig, session, swap, models_folder,
                                                                      small_model_path):
    from performer.model.loader import MODELS_DIR

    small_names = [t.name for t in rig.tensors]
    with TestClient(create_app(WebContext(rig, session=session, swap=swap))) as c:
        info = c.get("/api/models").json()
        assert info["swap"] and info["names"] == ["default", "live", "broken", "small"]  # program-change order
        assert info["playing"] == "small" and info["loaded"] == str(small_model_path)  # named as in its folder
        assert (info["busy"], info["crossfade_ms"], info["last"], info["failures"], info["failed"]) == \
            (False, 40.0, None, [], 0)
        assert info["paths"]["default"] == str(MODELS_DIR / "default.ts")
        assert info["sources"] == [info["paths"][n] for n in info["names"]]  # blend sources: model files
        assert info["folder"] == str(MODELS_DIR) and "default.ts" in info["models"]  # the older shape holds

        unknown = c.post("/api/set", json={"address": "model/load", "value": "nope"})
        assert unknown.status_code == 422
        assert "no model named 'nope'; the models are default, live, broken, small" in unknown.json()["detail"]
        assert c.post("/api/set", json={"address": "model/load", "value": 9}).status_code == 422
        assert c.post("/api/set", json={"address": "model/crossfade", "value": 120}).json()["value"] == 120.0
        assert c.post("/api/set", json={"address": "model/crossfade", "value": 20000}).status_code == 422
        assert c.get("/api/models").json()["crossfade_ms"] == 120.0

        with c.websocket_connect("/api/ws") as ws:
            assert ws.receive_json()["type"] == "status"
            set_ = c.post("/api/set", json={"address": "model/load", "value": "default"})
            assert set_.json() == {"address": "model/load", "value": "default"}
            assert receive_change(ws, "model")["value"] == "default"  # the page rebuilds on this
        assert swap.wait_idle(30)
        info = c.get("/api/models").json()
        assert (info["playing"], info["loaded"], info["busy"]) == ("default", str(MODELS_DIR / "default.ts"), False)
        assert c.get("/api/status").json()["model"] == "default.ts"
        tensors = [t["name"] for t in c.get("/api/tensors").json()]
        assert tensors == [t.name for t in rig.tensors] and tensors != small_names
        assert c.get("/api/addresses").json()["tensors"] == tensors
        assert c.get(f"/api/tensors/{len(tensors) - 1}/heatmap").status_code == 200

        assert c.post("/api/set", json={"address": "model/load", "value": "broken"}).status_code == 200
        assert swap.wait_idle(30)
        info = c.get("/api/models").json()
        assert info["failed"] == 1 and "model broken not loaded" in info["failures"][-1]
        assert info["playing"] == "default"  # and it goes on

        assert c.post("/api/set", json={"address": "model/load", "value": 3}).json()["value"] == "small"  # program 3
        assert swap.wait_idle(30)
        info = c.get("/api/models").json()
        assert info["playing"] == "small" and [t["name"] for t in c.get("/api/tensors").json()] == small_names


def test_models_without_a_swap_is_the_folder(client, rig):
    info = client.get("/api/models").json()
    assert info["swap"] is False and info["names"] == [] and info["playing"] == rig.model.path.stem
    assert info["loaded"] == str(rig.model.path) and isinstance(info["models"], list)


class FakeJob:
    """A SensitivityJob's face, recording what ModelMaps asks of it."""

    def __init__(self, model, tensors):
        self.model_path, self.order = model.path, [t.name for t in tensors]
        self.state, self.listeners, self.stops = "idle", [], 0

    def listen(self, listener):
        self.listeners.append(listener)

    def snapshot(self):
        return {"state": self.state, "map": {"total": len(self.order)}}

    def start(self):
        self.state = "running"
        return {"state": "running"}

    def stop(self):
        self.stops += 1
        self.state = "stopped" if self.state == "running" else self.state

    def tell(self, message):
        for listener in self.listeners:
            listener(message)


def test_the_sensitivity_map_follows_the_model(rig, session, swap):
    from performer.web.maps import ModelMaps

    jobs: list[FakeJob] = []
    maps = ModelMaps(rig, make=lambda model, tensors: jobs.append(FakeJob(model, tensors)) or jobs[-1])
    heard = []
    maps.listen(heard.append)
    small = [t.name for t in rig.tensors]
    with TestClient(create_app(WebContext(rig, session=session, swap=swap, sensitivity=maps))) as c:
        assert jobs == []  # made when asked for
        snap = c.get("/api/sensitivity").json()
        assert snap["model"] == "v2_small_c8" and snap["map"]["total"] == len(small) and len(jobs) == 1
        assert c.post("/api/sensitivity/start").json() == {"state": "running", "model": "v2_small_c8"}
        jobs[0].tell({"type": "sensitivity", "state": "running", "done": 1})
        assert heard[-1] == {"type": "sensitivity", "state": "running", "done": 1, "model": "v2_small_c8"}

        rig.set("model/load", "default")
        assert swap.wait_idle(30) and rig.model.path.stem == "default"
        snap = c.get("/api/sensitivity").json()
        assert snap["model"] == "default" and snap["state"] == "idle" and len(jobs) == 2
        assert jobs[1].order == [t.name for t in rig.tensors] != small
        jobs[0].tell({"type": "sensitivity", "state": "done"})  # the first model's run still reaches the pages,
        assert heard[-1]["model"] == "v2_small_c8"  # named, so a page showing another model ignores it
        c.post("/api/sensitivity/start")  # measuring this model ends the other's run
        assert (jobs[0].state, jobs[1].state) == ("stopped", "running")
        assert c.post("/api/sensitivity/stop").json() == {"state": "stopped"}

        rig.set("model/load", "small")
        assert swap.wait_idle(30)
        assert c.get("/api/sensitivity").json()["model"] == "v2_small_c8" and len(jobs) == 2  # its job again
