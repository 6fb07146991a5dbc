"""The command line, run as users run it (a subprocess of the installed console script)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.fixtures


def performer(*args):
    return subprocess.run([sys.executable, "-m", "performer", *map(str, args)], capture_output=True, text=True)


def test_layers_table_and_json(small_model_path):
    table = performer("layers", small_model_path)
    assert table.returncode == 0, table.stderr
    assert "61 bendable tensors" in table.stdout and "decoder.net.2.weight" in table.stdout
    listing = json.loads(performer("layers", small_model_path, "--json").stdout)
    assert listing["model"]["sample_rate"] == 44100 and listing["model"]["latent_size"] == 8
    first = listing["tensors"][0]
    assert {"index", "name", "kind", "shape", "size", "mean", "std", "min", "max"} <= set(first)


def test_render_with_bends_at_another_rate_in_stereo(tmp_path, small_model_path):
    src = tmp_path / "in.wav"
    t = np.arange(48000) / 48000
    x = 0.4 * np.sin(2 * np.pi * 330 * t)
    sf.write(src, np.stack([x, x], axis=1), 48000)
    plain, bent = tmp_path / "plain.flac", tmp_path / "bent.wav"
    assert performer("render", small_model_path, src, plain, "--quiet").returncode == 0
    result = performer("render", small_model_path, src, bent, "--quiet", "--seed", "0",
                       "--bend", "decoder.net.2.weight/0/transform=invert",
                       "--bend", "#10/0/transform=scale", "--bend", "#10/0/factor=0.5",
                       "--bend", "latent/1/offset=2")
    assert result.returncode == 0, result.stderr
    assert "real-time factor" in result.stdout
    a, rate_a = sf.read(plain)
    b, rate_b = sf.read(bent)
    assert rate_a == rate_b == 48000 and len(a) == len(b) == 48000
    assert not np.allclose(a, b)
    assert np.abs(b).max() <= 10 ** (-1 / 20) + 1e-4


def test_render_is_reproducible(tmp_path, small_model_path):
    src = tmp_path / "in.wav"
    sf.write(src, (0.3 * np.sin(np.arange(30000) / 20)).astype(np.float32), 44100)
    outs = [tmp_path / f"{i}.wav" for i in range(2)]
    for out in outs:
        assert performer("render", small_model_path, src, out, "--quiet", "--bend", "#7/0/amount=0.5").returncode == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()


@pytest.mark.parametrize("args,message", [
    (["layers", "/nonexistent/model.ts"], "model file not found"),
    (["render", "{model}", "/nonexistent.wav", "{tmp}/o.wav"], "audio file not found"),
    (["render", "{model}", "{wav}", "{tmp}/o.mp3"], "must end in .wav or .flac"),
    (["render", "{model}", "{wav}", "{tmp}/o.wav", "--bend", "#999/0/amount=1"], "tensor position must be in range"),
    (["render", "{model}", "{wav}", "{tmp}/o.wav", "--bend", "#1/0/amount=7"], "amount must be in range 0..1"),
])
def test_errors_are_one_clear_line_and_exit_2(tmp_path, small_model_path, args, message):
    wav = tmp_path / "in.wav"
    sf.write(wav, np.zeros(1000), 44100)
    args = [a.format(model=small_model_path, tmp=tmp_path, wav=wav) for a in args]
    result = performer(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("performer: error:") and message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o.wav").exists()


def test_bend_syntax_error_is_reported_by_argparse():
    result = performer("render", "m.ts", "a.wav", "b.wav", "--bend", "nonsense")
    assert result.returncode == 2 and "ADDRESS=VALUE" in result.stderr


def test_transforms_listing():
    listing = json.loads(performer("transforms", "--json").stdout)
    assert {"scale", "offset", "invert", "ablate", "ones", "uniform", "noise", "shuffle", "threshold",
            "clamp", "quantize", "reverse", "roll", "sign_flip"} <= set(listing)
