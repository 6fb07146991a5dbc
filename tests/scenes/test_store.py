"""The scene store: round trips, duplicates, .prev, corrupt files, rename/delete, atomic writes."""

from __future__ import annotations

import json
import os
import time

import pytest

from performer.scenes import SCHEMA_VERSION, Scene, SceneError, SceneStore, default_scenes_dir, read_scene_file
from performer import atomic
from performer.scenes.paths import default_autosave_path

from tests.scenes.scene_data import IDENTITY, make_scene, make_state, version_of


@pytest.fixture
def store(tmp_path):
    return SceneStore(tmp_path / "scenes")


def files(store):
    return sorted(p.name for p in store.directory.iterdir())


def test_round_trip_keeps_everything(store):
    scene = make_scene("Ébauche 2", 3, locks=("mix", "latent/0"))
    path = store.save(scene)
    assert path == store.directory / "Ébauche 2.json"
    loaded = store.load("Ébauche 2")
    assert loaded == scene and loaded.to_dict() == scene.to_dict()
    raw = json.loads(path.read_text("utf-8"))
    assert raw["schema_version"] == SCHEMA_VERSION and raw["name"] == "Ébauche 2"
    assert raw["model"]["sha256"] == "a" * 64 and raw["locks"] == ["mix", "latent/0"]
    assert raw["created"].endswith("Z") and raw["modified"] == raw["created"]
    assert "\\u" not in path.read_text("utf-8")  # names stay readable in the file
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_scene_state_is_a_private_copy():
    state = make_state(1)
    scene = Scene("x", state, IDENTITY)
    state["tensors"]["t0"][0]["seed"] = 99
    assert version_of(scene.state) == 1


def test_unicode_names_live_side_by_side(store):
    for name in ("夜", "night", "Nacht 🌙", "a:b", ".dot"):
        store.save(make_scene(name))
    assert store.names() == sorted(["夜", "night", "Nacht 🌙", "a:b", ".dot"], key=lambda n: (n.casefold(), n))
    assert all(store.exists(n) for n in ("夜", "a:b", ".dot")) and not store.exists("day")
    assert store.load(".dot").name == ".dot"


def test_duplicate_name_needs_overwrite_and_keeps_prev(store):
    store.save(make_scene("A", 1))
    with pytest.raises(SceneError, match=r"scene 'A' already exists .*overwrite"):
        store.save(make_scene("A", 2))
    assert version_of(store.load("A").state) == 1
    store.save(make_scene("A", 2), overwrite=True)
    assert version_of(store.load("A").state) == 2
    prev = read_scene_file(store.path_for("A").with_name("A.json.prev"))
    assert version_of(prev.state) == 1
    store.save(make_scene("A", 3), overwrite=True)
    assert version_of(read_scene_file(store.directory / "A.json.prev").state) == 2
    assert files(store) == ["A.json", "A.json.prev"]


def test_names_differing_only_in_case_are_refused(store):
    store.save(make_scene("Drop"))
    with pytest.raises(SceneError, match=r"'Drop' exists and 'drop' differs from it only in case"):
        store.save(make_scene("drop"))
    with pytest.raises(SceneError, match="only in case"):
        store.save(make_scene("DROP"), overwrite=True)
    store.rename("Drop", "drop")  # a case-only rename of the same scene is fine
    assert store.names() == ["drop"]


def test_updated_scene_keeps_created(store):
    scene = make_scene("s", 1)
    time.sleep(0.002)
    later = scene.updated(state=make_state(2))
    assert later.created == scene.created and later.modified > scene.modified and version_of(later.state) == 2


def test_corrupt_file_is_named_and_others_still_load(store):
    for i in range(3):
        store.save(make_scene(f"s{i}", i))
    store.save(make_scene("s1", 11), overwrite=True)  # s1 has a .prev
    bad = store.path_for("s1")
    bad.write_bytes(bad.read_bytes()[:100])  # truncated
    (store.directory / "junk.json").write_text("[1, 2", "utf-8")
    listing = store.list()
    assert listing.names == ["s0", "s2"]
    messages = sorted(str(e) for e in listing.errors)
    assert len(messages) == 2
    assert str(store.directory / "junk.json") in messages[0] and "not valid JSON" in messages[0]
    assert str(bad) in messages[1] and "s1.json.prev" in messages[1]  # names the file and the fallback
    assert {e.path for e in listing.errors} == {bad, store.directory / "junk.json"}
    scenes, errors = store.load_all()
    assert [s.name for s in scenes] == ["s0", "s2"] and len(errors) == 2
    with pytest.raises(SceneError, match="s1.json: not valid JSON"):
        store.load("s1")


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.pop("state"), "missing 'state'"),
    (lambda d: d.update(schema_version=2), "schema_version 2 is newer .* update Performer"),
    (lambda d: d.update(schema_version="1"), "schema_version must be 1, got '1'"),
    (lambda d: d.update(name="a/b"), "must not contain '/'"),
    (lambda d: d["state"]["latent"]["scale"].__setitem__(2, "x"), r"state.latent.scale\[2\] must be a number"),
    (lambda d: d["state"]["latent"]["offset"].pop(), "same length"),
    (lambda d: d["state"].pop("globals"), "state lacks globals"),
    (lambda d: d["state"]["tensors"].update(t0="noise"), r"state.tensors\['t0'\] must be a list of slots"),
    (lambda d: d["state"]["tensors"]["t0"].append({"amount": 1}), r"\[2\] must be a slot object with a 'transform'"),
    (lambda d: d["state"].update(selected=-1), "selected must be a tensor index"),
    (lambda d: d.update(created="yesterday"), "created must be an ISO 8601 time"),
    (lambda d: d.update(modified="2025-01-01T00:00:00"), "modified must be an ISO 8601 time with a zone"),
    (lambda d: d.update(locks="mix"), "locks must be a list of addresses"),
    (lambda d: d.update(locks=["mix", ""]), r"locks\[1\] must be an address"),
    (lambda d: d["model"].update(sha256="xyz"), "model.sha256 must be 64 lowercase hex digits"),
    (lambda d: d["model"].update(tensor_count=-1), "model.tensor_count must be an integer >= 0"),
    (lambda d: d["model"]["shapes"].update(t0=[3, "a"]), r"model.shapes\['t0'\] must be a list of sizes"),
])
def test_from_dict_says_what_is_wrong(mutate, message):
    data = make_scene("x").to_dict()
    mutate(data)
    with pytest.raises(SceneError, match=f"^here: .*{message}"):
        Scene.from_dict(data, origin="here")


def test_nan_in_a_file_is_refused(store):
    path = store.save(make_scene("n"))
    path.write_text(path.read_text("utf-8").replace('"mix": 1.0', '"mix": NaN'), "utf-8")
    with pytest.raises(SceneError, match="n.json: not valid JSON .*NaN"):
        store.load("n")


def test_file_renamed_by_hand_is_reported(store):
    store.save(make_scene("real"))
    os.rename(store.path_for("real"), store.directory / "other.json")
    listing = store.list()
    assert listing.scenes == [] and "holds scene 'real', whose file would be real.json" in str(listing.errors[0])
    with pytest.raises(SceneError, match="no scene 'real'"):
        store.load("real")


def test_rename(store):
    store.save(make_scene("old", 1))
    store.save(make_scene("old", 2), overwrite=True)
    store.save(make_scene("taken"))
    with pytest.raises(SceneError, match="'taken' already exists"):
        store.rename("old", "taken")
    renamed = store.rename("old", "夜")
    assert renamed.name == "夜" and version_of(store.load("夜").state) == 2
    assert files(store) == ["taken.json", "夜.json"]  # the old file and its .prev are gone
    with pytest.raises(SceneError, match="no scene 'old'"):
        store.rename("old", "x")
    with pytest.raises(SceneError, match="must not contain"):
        store.rename("夜", "a/b")


def test_delete_keeps_a_deleted_copy(store):
    store.save(make_scene("gone", 1))
    store.save(make_scene("gone", 2), overwrite=True)
    deleted = store.delete("gone")
    assert deleted.name == "gone.json.deleted" and version_of(read_scene_file(deleted).state) == 2
    assert not store.exists("gone") and store.names() == [] and files(store) == ["gone.json.deleted"]
    with pytest.raises(SceneError, match="no scene 'gone'"):
        store.delete("gone")
    store.save(make_scene("gone", 3))  # the name is free again
    assert version_of(store.load("gone").state) == 3


def test_missing_scene_suggests_close_names(store):
    store.save(make_scene("Intro"))
    with pytest.raises(SceneError, match=r"no scene 'intro' in .*did you mean 'Intro'"):
        store.load("intro")
    empty = SceneStore(store.directory / "nowhere")
    assert empty.list().scenes == [] and empty.names() == []


def test_export_and_import(store, tmp_path):
    store.save(make_scene("Ébauche", 4, locks=("mix",)))
    out = store.export("Ébauche", tmp_path)
    assert out == tmp_path / "Ébauche.json"
    with pytest.raises(SceneError, match="exists; overwrite it"):
        store.export("Ébauche", out)
    with pytest.raises(SceneError, match="folder .* does not exist"):
        store.export("Ébauche", tmp_path / "no" / "x.json")
    other = SceneStore(tmp_path / "other")
    imported = other.import_file(out)
    assert imported == store.load("Ébauche") and other.load("Ébauche").locks == ("mix",)
    with pytest.raises(SceneError, match="already exists"):
        other.import_file(out)
    assert other.import_file(out, name="copy").name == "copy"
    assert version_of(other.load("copy").state) == 4
    with pytest.raises(SceneError, match="scene file not found"):
        other.import_file(tmp_path / "missing.json")


def _entries(directory):
    return sorted(os.listdir(directory))


@pytest.mark.parametrize("fail", ["fsync", "link", "replace_prev", "replace"])
def test_a_write_failing_at_any_step_leaves_the_old_scene(store, monkeypatch, fail):
    store.save(make_scene("s", 1))
    store.save(make_scene("s", 2), overwrite=True)
    before = _entries(store.directory)
    calls = {"replace": 0}
    real_replace = os.replace

    def boom(*_a, **_k):
        raise OSError(28, "No space left on device")

    def replace(src, dst):
        calls["replace"] += 1  # first call moves the .prev link, second the new file
        if (fail == "replace_prev" and calls["replace"] == 1) or (fail == "replace" and calls["replace"] == 2):
            boom()
        return real_replace(src, dst)

    if fail == "fsync":
        monkeypatch.setattr(atomic.os, "fsync", boom)
    elif fail == "link":  # falls back to a copy, which fails too here
        monkeypatch.setattr(atomic.os, "link", boom)
        monkeypatch.setattr(atomic.shutil, "copyfile", boom)
    else:
        monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(SceneError, match=r"cannot save scene 's' to .*s.json: No space left on device"):
        store.save(make_scene("s", 3), overwrite=True)
    monkeypatch.undo()
    assert _entries(store.directory) == before  # no temporary file left behind
    assert version_of(store.load("s").state) == 2
    assert version_of(read_scene_file(store.directory / "s.json.prev").state) in (1, 2)


def test_without_hard_links_prev_is_a_copy(store, monkeypatch):
    store.save(make_scene("s", 1))
    monkeypatch.setattr(atomic.os, "link", lambda *a: (_ for _ in ()).throw(OSError(1, "Operation not permitted")))
    store.save(make_scene("s", 2), overwrite=True)
    assert version_of(read_scene_file(store.directory / "s.json.prev").state) == 1
    assert version_of(store.load("s").state) == 2


def test_stale_temporary_files_are_swept_on_first_save(store):
    store.directory.mkdir(parents=True)
    old, fresh = store.directory / ".s.json.abc.tmp", store.directory / ".s.json.def.tmp"
    old.write_text("x")
    fresh.write_text("x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    store.save(make_scene("s"))
    assert not old.exists() and fresh.exists()  # a fresh one may be another process's write in progress
    assert store.names() == ["s"]


def test_default_dirs_follow_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_scenes_dir() == tmp_path / "performer" / "scenes"
    assert default_autosave_path() == tmp_path / "performer" / "live-state.json"
    assert SceneStore().directory == tmp_path / "performer" / "scenes"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")  # ignored, as the spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_scenes_dir() == tmp_path / "home" / ".local" / "share" / "performer" / "scenes"
