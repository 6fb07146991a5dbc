"""``performer scenes``: list, show, export, import; errors as one line, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from performer.cli import main
from performer.scenes import SceneStore

from tests.scenes.scene_data import make_scene, version_of


@pytest.fixture
def folder(tmp_path):
    store = SceneStore(tmp_path / "scenes")
    store.save(make_scene("夜", 1, locks=("mix",)))
    store.save(make_scene("Ébauche 2", 2))
    return store.directory


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_list(capsys, folder):
    code, out, err = run(capsys, "scenes", "--scenes", folder, "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["name", "modified", "bent", "model"]
    assert lines[1].startswith("Ébauche 2") and lines[2].startswith("夜") and "(locks: mix)" in lines[2]
    assert "fake.ts" in lines[1]
    # --scenes also after the action
    assert run(capsys, "scenes", "list", "--scenes", folder)[1] == out


def test_list_json_and_a_bad_file(capsys, folder):
    (folder / "broken.json").write_text("{", "utf-8")
    code, out, err = run(capsys, "scenes", "list", "--scenes", folder, "--json")
    listing = json.loads(out)
    assert code == 1 and [s["name"] for s in listing["scenes"]] == ["Ébauche 2", "夜"]
    assert listing["errors"][0]["file"] == str(folder / "broken.json")
    code, out, err = run(capsys, "scenes", "list", "--scenes", folder)
    assert code == 1 and "Ébauche 2" in out
    assert err.startswith("performer: warning: ") and "broken.json: not valid JSON" in err and err.count("\n") == 1


def test_list_empty_and_default_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    code, out, _ = run(capsys, "scenes", "list")
    assert code == 0 and out == f"no scenes in {tmp_path / 'data' / 'performer' / 'scenes'}\n"


def test_show(capsys, folder):
    code, out, _ = run(capsys, "scenes", "--scenes", folder, "show", "夜")
    assert code == 0
    assert "name      夜" in out and "locks     mix" in out
    assert "model     fake.ts (sha256 aaaaaaaaaaaa, 64 tensors)" in out
    assert "latent    0: scale 1.0 offset 1.0" in out and "bends     3 tensors:" in out
    assert "  t0/0: noise amount 0.5 percent 1.0 mode random seed 1 sigma=1.0" in out
    code, out, _ = run(capsys, "scenes", "--scenes", folder, "show", "夜", "--json")
    assert json.loads(out)["name"] == "夜" and version_of(json.loads(out)["state"]) == 1


def test_export_import_round_trip(capsys, folder, tmp_path):
    out_file = tmp_path / "share.json"
    code, out, _ = run(capsys, "scenes", "--scenes", folder, "export", "Ébauche 2", out_file)
    assert code == 0 and out == f"exported 'Ébauche 2' to {out_file}\n"
    code, _, err = run(capsys, "scenes", "--scenes", folder, "export", "Ébauche 2", out_file)
    assert code == 2
    assert err == f"performer: error: {out_file} exists; overwrite it (--overwrite) or choose another file\n"
    assert run(capsys, "scenes", "--scenes", folder, "export", "Ébauche 2", out_file, "--overwrite")[0] == 0

    other = tmp_path / "other"
    code, out, _ = run(capsys, "scenes", "--scenes", other, "import", out_file)
    assert code == 0 and out == f"imported 'Ébauche 2' into {other / 'Ébauche 2.json'}\n"
    code, _, err = run(capsys, "scenes", "--scenes", other, "import", out_file)
    assert code == 2 and "scene 'Ébauche 2' already exists" in err and err.count("\n") == 1
    assert run(capsys, "scenes", "--scenes", other, "import", out_file, "--overwrite")[0] == 0
    assert run(capsys, "scenes", "--scenes", other, "import", out_file, "--name", "copy")[0] == 0
    assert SceneStore(other).names() == ["copy", "Ébauche 2"]
    assert SceneStore(other).load("copy").state == SceneStore(folder).load("Ébauche 2").state


@pytest.mark.parametrize("args,message", [
    (["show", "nope"], "no scene 'nope' in "),
    (["show", "a/b"], "scene name 'a/b' must not contain '/' (a path separator)"),
    (["import", "missing.json"], "scene file not found: missing.json"),
    (["import", "{folder}/夜.json", "--name", ".."], "scene name '..' is reserved"),
    (["export", "夜", "{folder}/../no/such/dir/x.json"], "does not exist"),
])
def test_errors_are_one_line(capsys, folder, args, message):
    code, _, err = run(capsys, "scenes", "--scenes", folder, *[a.format(folder=folder) for a in args])
    assert code == 2 and err.startswith("performer: error: ") and message in err and err.count("\n") == 1


@pytest.mark.fixtures
def test_show_with_a_model_reports_compatibility(capsys, tmp_path, small_model, rave_export):
    from performer.rig import Rig
    from performer.scenes import Scene

    rig = Rig(small_model)
    rig.set("decoder.net.2.weight/0/amount", 0.4)
    store = SceneStore(tmp_path)
    store.save(Scene.from_rig("live", rig))
    code, out, _ = run(capsys, "scenes", "--scenes", tmp_path, "show", "live", "--model", small_model.path)
    assert code == 0 and out.rstrip().endswith("exact: made on this model file (v2_small_c8.ts)")
    code, out, _ = run(capsys, "scenes", "--scenes", tmp_path, "show", "live", "--model", rave_export("v1_c8"))
    assert "partial: made on v2_small_c8.ts (61 tensors), this is v1_c8.ts (58); 0 of 1 bent tensors apply" in out
    assert "  decoder.net.2.weight: not in this model, bend left out" in out


def test_the_real_command(folder):
    result = subprocess.run([sys.executable, "-m", "performer", "scenes", "--scenes", str(folder), "list", "--json"],
                            capture_output=True, text=True, encoding="utf-8")
    assert result.returncode == 0, result.stderr
    assert [s["name"] for s in json.loads(result.stdout)["scenes"]] == ["Ébauche 2", "夜"]
    result = subprocess.run([sys.executable, "-m", "performer", "scenes", "--scenes", str(folder), "show", "x"],
                            capture_output=True, text=True, encoding="utf-8")
    assert result.returncode == 2 and result.stderr.startswith("performer: error: no scene 'x'")
