"""The embedded studio model (44.1 kHz, hop 1024): present, nn~-shaped, musical and bendable;
and the embedded models by name.

These run the shipped files themselves (no fixture needed). The studio model is models/studio.ts
once the live model (issue 17) is models/default.ts, and models/default.ts until then: the
studio checks follow it by name. The full quality bar is bench/model_quality.py; here, short
real checks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from performer.model import DEFAULT_MODEL, load_model
from performer.model.loader import MODELS_DIR
from performer.render import render_array
from performer.rig import Rig
from performer.train import quality
from performer.train.data import pitched_segments
from performer.train.origin import architecture, recorded_origin
from performer.train.probes import glide, noise_bursts

REPO = Path(__file__).resolve().parents[2]
SR = 44100


STUDIO = MODELS_DIR / "studio.ts"


@pytest.fixture(scope="module")
def model():
    """The studio model: by name once shipped as studio.ts, else the default while it is studio."""
    model = load_model("studio" if STUDIO.exists() else None)
    if architecture(model) != "studio":
        pytest.skip(f"{model.path} is not the studio model and models/studio.ts is missing")
    return model


def stream(model, audio: np.ndarray, block: int = 2048) -> np.ndarray:
    model.reset_caches()
    return quality.run_streaming(model, audio, block)


def test_the_embedded_models_ship_within_their_size_budget():
    assert DEFAULT_MODEL.exists(), "models/default.ts is missing: performer train RUN --export models/default.ts"
    assert sum(p.stat().st_size for p in MODELS_DIR.glob("*.ts")) <= 15 * 1024 * 1024  # all of them together


@pytest.mark.parametrize("path", sorted(MODELS_DIR.glob("*.ts")), ids=lambda p: p.stem)
def test_every_embedded_model_is_one_of_performers_own_at_its_rate_and_ratio(path):
    model = load_model(path.stem)  # by name
    assert model.path == path
    config, _ = recorded_origin(model)
    assert model.sample_rate == config.sample_rate
    assert model.module.encode_params.tolist() == [1, 1, config.latent_size, config.hop]
    assert model.module.encode_output_labels[:3] == ["(signal) pitch", "(signal) periodicity", "(signal) loudness"]


def test_it_has_the_nn_tilde_interface(model):
    module = model.module
    assert list(module.get_methods()) == ["encode", "decode", "forward"]
    assert list(module.get_attributes()) == []
    assert module.get_sample_rate() == SR and module.sr == SR
    assert module.encode_params.tolist() == [1, 1, 11, 1024]
    assert module.decode_params.tolist() == [11, 1024, 1, 1]
    assert module.forward_params.tolist() == [1, 1, 1, 1]
    assert model.is_streaming and model.latent_size == 11
    assert module.encode_output_labels[:3] == ["(signal) pitch", "(signal) periodicity", "(signal) loudness"]


def test_block_by_block_equals_one_call_and_repeats_exactly(model):
    audio = glide(seconds=1.0)[: 43 * 1024]
    x = torch.from_numpy(audio).view(1, 1, -1)
    with torch.no_grad():
        model.reset_caches()
        whole = model.module.forward(x)
        model.reset_caches()
        blocks = torch.cat([model.module.forward(c) for c in x.split(1024 * 3, -1)], -1)
        model.reset_caches()
        again = model.module.forward(x)
    assert torch.allclose(whole, blocks, atol=1e-4)  # float32 rounding (phase x 64 harmonics)
    assert torch.equal(whole, again)  # no fresh randomness: renders are reproducible


@pytest.mark.parametrize("signal", ["glide", "noise_bursts"])
def test_it_follows_the_input_dynamics_and_level(model, signal):
    audio = {"glide": glide, "noise_bursts": noise_bursts}[signal](seconds=4.0)
    out = stream(model, np.concatenate([audio, np.zeros(4096, np.float32)]))
    inp, out, _ = quality.align(audio, out, max_lag=4096, sr=SR)
    assert quality.loudness_correlation(inp, out, SR) >= 0.9
    assert abs(quality.level_difference_db(inp, out)) <= 3.0


def test_it_plays_the_input_pitch(model):
    (audio, _), = pitched_segments(777, 1, seconds=4.0)
    out = stream(model, np.concatenate([audio, np.zeros(4096, np.float32)]))
    inp, out, _ = quality.align(audio, out, max_lag=4096, sr=SR)
    agreement = quality.pitch_agreement(inp, out, SR)
    assert agreement["fraction"] >= 0.8, agreement


def test_bending_latent_zero_transposes_an_octave(model):
    (audio, _), = pitched_segments(778, 1, seconds=3.0)
    rig = Rig(model)
    rig.set("latent/0/offset", 1.0)
    padded = np.concatenate([audio, np.zeros(4096, np.float32)])[None]
    out, _ = render_array(rig, padded, seed=0, block_size=2048)
    out = out[0, : audio.size]
    f_in, voiced_in, _ = quality.yin_f0(audio, SR)
    f_out, voiced_out, _ = quality.yin_f0(out, SR)
    both = voiced_in & voiced_out
    assert both.sum() > 20
    shift = np.median(quality.cents(f_out[both], f_in[both]))
    assert abs(shift - 1200) <= 50, shift


def test_a_weight_bend_changes_the_sound_and_reset_restores_it(model):
    audio = glide(seconds=2.0)
    padded = np.concatenate([audio, np.zeros(4096, np.float32)])[None]
    rig = Rig(model)
    plain, _ = render_array(rig, padded, seed=0, block_size=2048)
    rig.set("decoder.harmonic_head.weight/0/transform", "noise")
    rig.set("decoder.harmonic_head.weight/0/amount", 1.0)
    bent, _ = render_array(rig, padded, seed=0, block_size=2048)
    rig.set("bends/reset", 1)
    restored, _ = render_array(rig, padded, seed=0, block_size=2048)
    assert quality.mss_distance(plain[0], bent[0]) > 1.0
    assert np.array_equal(plain, restored)


def _performer(*args, tmp_path):
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    return subprocess.run([sys.executable, "-m", "performer", *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=env)


def test_render_and_layers_use_the_default_when_no_model_is_named(tmp_path):
    sf.write(tmp_path / "in.wav", glide(seconds=1.5), SR)
    result = _performer("render", tmp_path / "in.wav", tmp_path / "out.wav", "--quiet", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    out, rate = sf.read(tmp_path / "out.wav", dtype="float32")
    assert rate == SR and out.size == int(1.5 * SR) and np.abs(out).max() > 0.01
    layers = _performer("layers", tmp_path=tmp_path)
    assert layers.returncode == 0 and "default.ts" in layers.stdout


def test_serve_headless_plays_the_default_when_no_model_is_named(tmp_path):
    sf.write(tmp_path / "in.wav", glide(seconds=1.0), SR)
    result = _performer("serve", "--input-file", tmp_path / "in.wav", "--output-file", tmp_path / "out.wav",
                        "--duration", "2", "--no-web", "--no-midi", "--no-osc", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "default.ts" in result.stdout and "latency:" in result.stdout
    out, _ = sf.read(tmp_path / "out.wav", dtype="float32")
    assert np.abs(out).max() > 0.01


@pytest.mark.skipif(not STUDIO.exists(), reason="models/studio.ts is not shipped yet")
def test_render_serve_and_layers_take_the_studio_model_by_name(tmp_path):
    sf.write(tmp_path / "in.wav", glide(seconds=1.0), SR)
    result = _performer("render", "studio", tmp_path / "in.wav", tmp_path / "out.wav", "--quiet", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "blocks of 2048" in result.stdout
    layers = _performer("layers", "studio", tmp_path=tmp_path)
    assert layers.returncode == 0 and "studio.ts: 44100 Hz" in layers.stdout
    result = _performer("serve", "studio", "--input-file", tmp_path / "in.wav", "--output-file", tmp_path / "o.wav",
                        "--duration", "1", "--no-web", "--no-midi", "--no-osc", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "studio.ts" in result.stdout


def test_an_unknown_model_name_exits_2_and_lists_the_embedded_ones(tmp_path):
    result = _performer("layers", "no-such-model", tmp_path=tmp_path)
    assert result.returncode == 2
    assert "no model named 'no-such-model'" in result.stderr and "default" in result.stderr
