"""From a run to a shipped file: checkpoint choice, weight averaging, level calibration."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from performer.errors import TrainingError
from performer.model import load_model
from performer.train.checkpoint import checkpoint_path, save_checkpoint
from performer.train.model import LIVE, DefaultModel, ModelConfig, build_model
from performer.train.release import averaged_model, export_checkpoint, load_run, random_weights_model
from performer.train.origin import recorded_origin
from performer.train.probes import glide
from performer.train.quality import run_streaming
from performer.train.trainer import TrainConfig

TINY = ModelConfig(encoder_channels=(8, 8, 8, 8), decoder_channels=(8, 8, 8, 8), learned_latents=2, harmonics=8)
CONFIG = TrainConfig(batch=2, excerpt=4096, pool_seconds=4.0, model=TINY)


@pytest.fixture
def run(tmp_path):
    """A run folder with two checkpoints whose weights are all 1 and all 3."""
    (tmp_path / "config.json").write_text(json.dumps(CONFIG.to_dict()))
    for step, value in ((10, 1.0), (20, 3.0)):
        model = DefaultModel(TINY)
        with torch.no_grad():
            for p in model.parameters():
                if p.requires_grad:
                    p.fill_(value)
        save_checkpoint(checkpoint_path(tmp_path, step), {"model": model.state_dict(), "step": step})
    return tmp_path


def test_the_average_of_checkpoints_is_the_mean_of_their_weights(run):
    config, checkpoints = load_run(run)
    model = averaged_model(config, [p for _, p in checkpoints])
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert all(torch.all(p == 2.0) for p in trainable)
    frozen = [p for p in model.parameters() if not p.requires_grad]  # PQMF filters stay as designed
    reference = DefaultModel(TINY)
    assert all(torch.equal(a, b) for a, b in zip(frozen, [p for p in reference.parameters() if not p.requires_grad]))


def test_the_random_reference_is_the_architecture_training_started_from(run):
    config, _ = load_run(run)
    a, b = random_weights_model(config), random_weights_model(config)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_export_of_a_named_checkpoint_is_a_loadable_calibrated_nn_tilde_file(run, tmp_path):
    out = tmp_path / "out" / "m.ts"
    report = export_checkpoint(run, out, which="10")
    assert "exported step 10" in report and "output gain" in report
    model = load_model(out)
    gain = float(model.module.decoder.output_gain)
    assert gain > 0 and torch.isfinite(torch.tensor(gain))


def test_an_unknown_checkpoint_lists_the_ones_there(run, tmp_path):
    with pytest.raises(TrainingError, match="10, 20"):
        export_checkpoint(run, tmp_path / "m.ts", which="15")


def test_a_live_run_exports_at_its_own_rate_and_ratio(tmp_path):
    tiny = replace(LIVE, live_channels=8, harmonics=8, noise_bands=4, learned_latents=2)
    run = tmp_path / "live"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(replace(CONFIG, seed=3, model=tiny).to_dict()))
    torch.manual_seed(3)
    save_checkpoint(checkpoint_path(run, 5), {"model": build_model(tiny).state_dict(), "step": 5})
    out = tmp_path / "live.ts"
    assert "exported step 5" in export_checkpoint(run, out, which="last")
    model = load_model(out)
    assert model.sample_rate == 48000 and model.block_multiple == 128
    assert recorded_origin(model) == (tiny, 3)  # the bench rebuilds its random reference from this
    assert float(model.module.decoder.output_gain) > 0
    # choosing and calibrating stream in 2048-sample blocks: the same output as the live 128
    audio = glide(seconds=0.4)[:128 * 120]
    np.testing.assert_allclose(run_streaming(model, audio, 2048), run_streaming(model, audio, 128), atol=1e-5)
