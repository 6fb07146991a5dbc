"""performer export: bends baked into a new nn~ export, exactly, on every genuine RAVE fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from performer.cli import main
from performer.errors import PerformerError
from performer.export import describe_export, export_bent, export_rig, read_export_info
from performer.model import load_model
from performer.render import render_array
from performer.rig import Rig
from tests.conftest import ALL_EXPORTS, tone

pytestmark = pytest.mark.fixtures


def bends_for(rig: Rig) -> list[tuple[str, object]]:
    """A chain on the largest tensor (noise on a seeded 60 % mask, then a sign flip), a scale on a
    bias, whole channels shuffled elsewhere: random draws, masks, two slots and several tensors."""
    order = sorted(rig.tensors, key=lambda t: t.size, reverse=True)
    big, other = order[0], order[1]
    bias = next((t for t in rig.tensors if t.role == "bias"), order[2])
    return [(f"#{big.index}/0/transform", "noise"), (f"#{big.index}/0/sigma", 0.8),
            (f"#{big.index}/0/percent", 0.6), (f"#{big.index}/0/seed", 7),
            (f"#{big.index}/1/transform", "sign_flip"), (f"#{big.index}/1/amount", 0.5),
            (f"#{bias.index}/0/transform", "scale"), (f"#{bias.index}/0/factor", -1.5),
            (f"#{other.index}/0/transform", "shuffle"), (f"#{other.index}/0/mode", "channels"),
            (f"#{other.index}/0/percent", 0.5)]


def interface(model) -> dict:
    m = model.module
    attributes = list(m.get_attributes()) if m._c._has_method("get_attributes") else None
    return {"methods": model.describe()["methods"], "rate": model.sample_rate, "attributes": attributes,
            "params": {n: b.tolist() for n, b in m.named_buffers() if n.endswith("_params")}}


@pytest.mark.parametrize("name", ALL_EXPORTS)
def test_export_is_exact(rave_export, tmp_path, name):
    """Rendering the export with no bends equals rendering the original with the same bends,
    sample for sample, same seed; the nn~ interface is the original's."""
    path = rave_export(name)
    rig = Rig(load_model(path))
    bends = bends_for(rig)
    for address, value in bends:
        rig.set(address, value)
    out = tmp_path / "bent.ts"
    report = export_bent(path, out, bends=bends)
    assert len(report.baked) == 3 and report.left_out == []

    exported = load_model(out)
    audio = tone(0.1, rig.model.sample_rate, channels=rig.model.in_channels)
    expected, _ = render_array(rig, audio, seed=0)
    got, _ = render_array(Rig(exported), audio, seed=0)
    assert np.array_equal(expected, got)
    assert np.abs(expected).max() > 0
    assert interface(exported) == interface(rig.model)
    # every tensor not baked, and every buffer (streaming state, latent PCA, ...), is the original's
    original = load_model(path).module.state_dict()
    for key, value in load_model(out).module.state_dict().items():  # as written, not as played
        if not any(key == b for b in report.baked):
            assert torch.equal(value, original[key]), key


def test_a_process_that_never_imported_performer_loads_the_export(small_model_path, tmp_path):
    out = tmp_path / "bent.ts"
    export_bent(small_model_path, out, bends=[("#3/0/transform", "invert")])
    code = ("import sys, torch; m = torch.jit.load(sys.argv[1]); "
            "y = m.forward(torch.zeros(1, 1, 2048)); "
            "assert not any(k.startswith('performer') for k in sys.modules); "
            "print(list(m.get_methods()), int(m.get_sample_rate()), tuple(y.shape))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("]")[0] == "['encode', 'decode', 'forward'"
    assert "44100 (1, 1, 2048)" in done.stdout


def test_the_file_records_its_bends_and_what_was_left_out(small_model_path, tmp_path):
    out = tmp_path / "bent.ts"
    report = export_bent(small_model_path, out, bends=[("#3/0/transform", "invert"), ("latent/2/offset", 0.5),
                                                       ("latent/1/scale", 2.0), ("mix", 0.5)])
    info = read_export_info(out)
    assert info["baked"] == report.baked == [Rig(load_model(small_model_path)).tensors[3].name]
    assert info["state"]["tensors"][report.baked[0]][0]["transform"] == "invert"
    assert info["model"]["sha256"] == load_model(small_model_path).sha256
    left = " ".join(info["left_out"])
    assert "latent/2/offset=0.5" in left and "latent/1/scale=2" in left and "mix=0.5" in left
    assert len(report.left_out) == 3
    assert read_export_info(small_model_path) is None
    lines = describe_export(info)
    assert "bends baked into 1 tensors" in lines[1] and any(line.startswith("not baked: latent/2") for line in lines)


def test_exporting_never_changes_the_live_model(small_model, tmp_path):
    rig = Rig(small_model)
    rig.set("#3/0/transform", "ablate")
    rig.compute_pending()
    rig.install_pending()
    before = {k: v.clone() for k, v in small_model.module.state_dict().items()}
    installed = rig.bank.installed(3)
    state = rig.state()
    report = export_rig(rig, tmp_path / "live.ts")  # model/export from the live server
    rig.set("#5/0/transform", "invert")  # the live rig goes on; the file does not follow
    assert report.baked == [rig.tensors[3].name]
    after = small_model.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert rig.bank.installed(3) is installed
    assert rig.state()["tensors"][rig.tensors[3].name] == state["tensors"][rig.tensors[3].name]
    assert read_export_info(tmp_path / "live.ts")["baked"] == [rig.tensors[3].name]


def test_writes_are_atomic_and_errors_write_nothing(small_model_path, tmp_path):
    out = tmp_path / "bent.ts"
    out.write_bytes(b"old")
    with pytest.raises(PerformerError):
        export_bent(small_model_path, out, bends=[("#3/0/transform", "nope")])
    assert out.read_bytes() == b"old"
    with pytest.raises(PerformerError, match="does not exist"):
        export_bent(small_model_path, tmp_path / "missing" / "x.ts")
    with pytest.raises(PerformerError, match="the model being exported"):
        export_bent(small_model_path, small_model_path)
    export_bent(small_model_path, out, bends=[("#3/0/transform", "invert")])
    assert read_export_info(out)["baked"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bent.ts"]  # no temporary, no .prev


def test_export_of_an_export_keeps_the_history(small_model_path, tmp_path):
    first, second = tmp_path / "a.ts", tmp_path / "b.ts"
    export_bent(small_model_path, first, bends=[("#3/0/transform", "invert")])
    export_bent(first, second, bends=[("#4/0/transform", "invert")])
    info = read_export_info(second)
    assert info["model"]["file"] == "a.ts" and info["model"]["export"]["model"]["file"] == small_model_path.name


def test_blend_is_baked_and_its_source_recorded(small_model_path, rave_export, tmp_path):
    partner = rave_export("v2_small_c8_seed1")
    out = tmp_path / "blend.ts"
    report = export_bent(small_model_path, out, bends=[("#10/0/transform", "blend"), ("#10/0/source", str(partner)),
                                                       ("#10/0/amount", 1.0)])
    name = Rig(load_model(small_model_path)).tensors[10].name
    assert report.baked == [name]
    assert torch.equal(load_model(out).module.state_dict()[name], load_model(partner).module.state_dict()[name])
    assert read_export_info(out)["blend_sources"] == {str(partner): load_model(partner).sha256}


def test_cli_export_with_a_scene_and_bends_then_layers(small_model_path, tmp_path, capsys):
    from performer.scenes.scene import Scene
    from performer.scenes.store import SceneStore

    rig = Rig(load_model(small_model_path))
    rig.set("#3/0/transform", "invert")
    rig.set("latent/0/offset", 1.0)
    SceneStore(tmp_path / "scenes").save(Scene.from_rig("dark", rig))
    out = tmp_path / "dark.ts"
    code = main(["export", str(small_model_path), str(out), "--scene", "dark", "--scenes", str(tmp_path / "scenes"),
                 "--bend", "#4/0/transform=scale", "--bend", "#4/0/factor=0.5"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "2 tensors bent" in captured.out
    assert "not baked: latent/0/offset=1" in captured.err
    assert main(["layers", str(out)]) == 0
    listing = capsys.readouterr().out
    assert "exported by Performer" in listing and "bends baked into 2 tensors" in listing
    assert f"{rig.tensors[4].name}/0: scale" in listing and "not baked: latent/0/offset=1" in listing
    assert main(["layers", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["export"]["baked"] == [rig.tensors[3].name, rig.tensors[4].name]
    assert main(["export", str(small_model_path), str(out), "--scene", "nope", "--scenes", str(tmp_path / "scenes")]) == 2
