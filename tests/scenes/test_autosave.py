"""Autosave: throttled background writes of the latest state, load_last with its .prev fallback."""

from __future__ import annotations

import json
import threading
import time

import pytest

from performer.scenes import Autosave, LiveState, SceneStore, load_last
from performer.atomic import prev_path

from tests.scenes.scene_data import IDENTITY, make_state, version_of


class Source:
    """A state that changes version on demand, counting how often it is read."""

    def __init__(self):
        self.version = 0
        self.reads = 0

    def __call__(self) -> dict:
        self.reads += 1
        return make_state(self.version)

    def change(self, autosave: Autosave) -> None:
        self.version += 1
        autosave.note_change()


def wait_for(predicate, timeout=2.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def test_a_change_is_written_and_loads_back(tmp_path):
    path = tmp_path / "sub" / "live-state.json"
    source = Source()
    with Autosave(path, source, delay_s=0.05, identity=IDENTITY) as autosave:
        assert load_last(path) is None and source.reads == 0  # nothing written before a change
        source.change(autosave)
        wait_for(lambda: autosave.writes == 1)
    live = load_last(path)
    assert isinstance(live, LiveState) and live.path == path and version_of(live.state) == 1
    assert live.model == IDENTITY and live.time.endswith("Z")
    raw = json.loads(path.read_text("utf-8"))
    assert raw["kind"] == "performer.live-state" and raw["schema_version"] == 1


def test_writes_are_throttled_and_the_last_change_always_lands(tmp_path):
    path = tmp_path / "live.json"
    source = Source()
    autosave = Autosave(path, source, delay_s=0.1)
    start = time.monotonic()
    while time.monotonic() - start < 0.35:  # a knob turned for 350 ms
        source.change(autosave)
        time.sleep(0.001)
    autosave.close()
    # at once, then every 100 ms, plus the last change at close: 4 or 5 writes, not hundreds
    assert 3 <= autosave.writes <= 6, autosave.writes
    assert version_of(load_last(path).state) == source.version
    assert version_of(load_last(prev_path(path)).state) < source.version


def test_quiet_autosave_writes_nothing_and_closes_fast(tmp_path):
    source = Source()
    autosave = Autosave(tmp_path / "a.json", source, delay_s=10)
    start = time.monotonic()
    autosave.close()
    autosave.close()  # idempotent
    assert time.monotonic() - start < 0.5 and source.reads == 0 and not (tmp_path / "a.json").exists()


def test_close_writes_a_pending_change_without_waiting_for_the_delay(tmp_path):
    path = tmp_path / "a.json"
    source = Source()
    autosave = Autosave(path, source, delay_s=30)
    source.change(autosave)
    wait_for(lambda: autosave.writes == 1)  # the first change is written at once
    source.change(autosave)  # the next waits for the delay...
    start = time.monotonic()
    autosave.close()  # ...unless the autosave closes
    assert time.monotonic() - start < 1.0 and autosave.writes == 2
    assert version_of(load_last(path).state) == 2


def test_note_change_is_cheap_and_thread_safe(tmp_path):
    source = Source()
    autosave = Autosave(tmp_path / "a.json", source, delay_s=0.02)
    start = time.perf_counter()
    threads = [threading.Thread(target=lambda: [autosave.note_change("any", "args") for _ in range(20000)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    autosave.close()
    assert elapsed < 2.0  # 80k calls; each is a flag and an Event.set
    assert autosave.writes < 100 and load_last(tmp_path / "a.json") is not None


def test_a_failing_source_or_disk_is_logged_and_the_thread_goes_on(tmp_path, caplog):
    path = tmp_path / "a.json"
    source = Source()
    broken = {"on": True}

    def get_state():
        if broken["on"]:
            raise RuntimeError("rig busy")
        return source()

    autosave = Autosave(path, get_state, delay_s=0.01)
    autosave.note_change()
    wait_for(lambda: autosave.last_error is not None)
    assert "autosave to" in caplog.text and "rig busy" in caplog.text
    broken["on"] = False
    autosave.note_change()
    wait_for(lambda: autosave.writes == 1)
    assert autosave.last_error is None
    autosave.close()


def test_load_last_falls_back_to_prev_when_damaged(tmp_path):
    path = tmp_path / "live.json"
    source = Source()
    autosave = Autosave(path, source, delay_s=0)
    for _ in range(2):
        source.version += 1
        assert autosave.flush()  # in this thread: no background write in between
    autosave.close()
    assert version_of(load_last(path).state) == 2
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])  # truncated
    live = load_last(path)
    assert live.path == prev_path(path) and version_of(live.state) == 1
    path.write_text('{"kind": "performer.live-state", "schema_version": 1}', "utf-8")  # complete but wrong
    assert version_of(load_last(path).state) == 1
    prev_path(path).write_bytes(b"")
    assert load_last(path) is None
    path.unlink()
    prev_path(path).unlink()
    assert load_last(path) is None


def test_default_path_is_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    autosave = Autosave(None, Source(), delay_s=0)
    assert autosave.path == tmp_path / "performer" / "live-state.json"
    autosave.flush()
    autosave.close()
    assert load_last() is not None


def test_bad_delay_is_refused(tmp_path):
    with pytest.raises(ValueError, match="autosave delay must be >= 0 s"):
        Autosave(tmp_path / "a.json", Source(), delay_s=-1)


def test_an_autosave_imports_as_a_scene(tmp_path):
    path = tmp_path / "live.json"
    source = Source()
    with Autosave(path, source, delay_s=0, identity=IDENTITY) as autosave:
        source.version = 5
        autosave.flush()
    store = SceneStore(tmp_path / "scenes")
    scene = store.import_file(path)
    assert scene.name.startswith("recovered 20") and version_of(store.load(scene.name).state) == 5
    assert scene.created == load_last(path).time and scene.model == IDENTITY
    assert store.import_file(path, name="after the crash").name == "after the crash"


@pytest.mark.fixtures
def test_for_rig_follows_the_rig_until_closed(small_model, tmp_path):
    from performer.rig import Rig

    rig = Rig(small_model)
    path = tmp_path / "live.json"
    autosave = Autosave.for_rig(rig, path, delay_s=0.01)
    rig.set("decoder.net.2.weight/0/amount", 0.3)
    wait_for(lambda: autosave.writes >= 1 and load_last(path).state == rig.state())
    live = load_last(path)
    assert live.model.file == small_model.path.name and live.model.shapes == {
        "decoder.net.2.weight": rig.tensors[rig.tensor_index("decoder.net.2.weight")].shape}
    autosave.close()
    writes = autosave.writes
    rig.set("mix", 0.5)  # no longer listened to
    time.sleep(0.05)
    assert autosave.writes == writes and load_last(path).state["globals"]["mix"] == 1.0
