"""The training loop on a tiny model: run folder contents, exact resume, actionable errors."""

import json
import math

import numpy as np
import pytest
import torch

from performer.errors import TrainingError
from performer.train import trainer as trainer_module
from performer.train.checkpoint import checkpoint_path, list_checkpoints, load_checkpoint
from performer.train.model import ModelConfig
from performer.train.trainer import TrainConfig, Trainer, estimate_hours, learning_rate, steps_per_second

TINY = ModelConfig(encoder_channels=(8, 8, 8, 8), decoder_channels=(8, 8, 8, 8), learned_latents=2, harmonics=8)
CONFIG = TrainConfig(batch=2, excerpt=4096, pool_seconds=4.0, model=TINY)

_POOLS = {}


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    """Each pool rendered once for the whole file (it is deterministic in its seed)."""
    real = trainer_module.make_pool

    def make_pool(seed, seconds, *args, **kwargs):
        key = (seed, seconds)
        if key not in _POOLS:
            _POOLS[key] = real(seed, seconds, *args, **kwargs)
        return _POOLS[key]

    monkeypatch.setattr(trainer_module, "make_pool", make_pool)


def new(run, config=CONFIG):
    return Trainer(run, config, workers=1)


def test_a_short_run_writes_config_checkpoint_and_returns_figures(tmp_path):
    run = tmp_path / "run"
    trainer = new(run)
    assert trainer.step == 0
    figures = trainer.train(until_step=2)
    assert figures["step"] == 2 == trainer.step
    assert math.isfinite(figures["distance"]) and figures["distance"] > 0
    assert math.isfinite(figures["kl"]) and math.isfinite(figures["grad_norm"])
    assert json.loads((run / "config.json").read_text()) == json.loads(json.dumps(CONFIG.to_dict()))
    assert [s for s, _ in list_checkpoints(run)] == [2]
    state = load_checkpoint(checkpoint_path(run, 2))
    assert state["step"] == 2 and state["config"] == CONFIG.to_dict()
    assert {"model", "optimizer", "sampler", "torch_rng", "elapsed"} <= set(state)
    assert (run / "log.jsonl").exists() and (run / "log.jsonl").read_text() == ""  # logged every 50 steps
    # asking for steps already done does nothing, and writes no new checkpoint
    assert trainer.train(until_step=1)["step"] == 2
    assert [s for s, _ in list_checkpoints(run)] == [2]


def test_every_fiftieth_step_is_logged(tmp_path):
    trainer = new(tmp_path)
    trainer.step = 49
    seen = []
    trainer.train(until_step=51, progress=seen.append)
    assert [f["step"] for f in seen] == [50, 51]
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["step"] == 50
    assert {"distance", "kl", "grad_norm", "elapsed", "lr"} <= set(entry)
    assert entry["lr"] == pytest.approx(learning_rate(CONFIG, 50))


def test_periodic_checkpoints_and_minutes(tmp_path):
    trainer = new(tmp_path)
    trainer.train(until_step=3, checkpoint_minutes=0.0)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [1, 2, 3]
    trainer.train(minutes=0.0)  # no time: no step, and the newest checkpoint is already this step
    assert trainer.step == 3 and [s for s, _ in list_checkpoints(tmp_path)] == [1, 2, 3]
    assert trainer.elapsed > 0


def test_a_fresh_run_with_minutes_zero_saves_step_zero(tmp_path):
    trainer = new(tmp_path)
    trainer.train(minutes=0.0)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [0]


def test_resume_is_exact(tmp_path):
    straight = new(tmp_path / "a")
    straight.train(until_step=4)
    rng_a = torch.get_rng_state()  # the global torch RNG (the latent sampling draws from it)

    first = new(tmp_path / "b")
    first.train(until_step=2)
    del first
    torch.manual_seed(999)  # whatever happened in between: the checkpoint restores the RNG
    resumed = Trainer(tmp_path / "b", workers=1)  # no config: the run's own
    assert resumed.config == CONFIG and resumed.step == 2
    resumed.train(until_step=4)
    rng_b = torch.get_rng_state()

    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert torch.equal(rng_a, rng_b)
    assert np.array_equal(straight.sampler.batch(2), resumed.sampler.batch(2))
    # the optimiser's moments and the data order too: the next step is the same
    torch.set_rng_state(rng_a)
    fa = straight.train_step()
    torch.set_rng_state(rng_b)
    fb = resumed.train_step()
    assert fa == fb
    for pa, pb in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(pa, pb)


def test_a_resume_without_the_rng_state_would_differ(tmp_path):
    # the control for the test above: the figures do depend on the restored state
    straight = new(tmp_path / "a")
    straight.train(until_step=3)
    other = new(tmp_path / "b")
    other.train(until_step=2)
    torch.manual_seed(999)
    other.train(until_step=3)
    assert not torch.equal(straight.model.decoder.band_head.weight, other.model.decoder.band_head.weight)


def test_resume_continues_from_the_newest_checkpoint(tmp_path):
    trainer = new(tmp_path)
    trainer.train(until_step=2, checkpoint_minutes=0.0)
    weights = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    again = new(tmp_path)  # same config given explicitly: fine
    assert again.step == 2
    for k, v in again.model.state_dict().items():
        assert torch.equal(v, weights[k])
    assert again.elapsed == pytest.approx(trainer.elapsed)


def test_different_runs_differ_by_seed(tmp_path):
    a = new(tmp_path / "a")
    b = new(tmp_path / "b", TrainConfig(**{**CONFIG.__dict__, "seed": 1}))
    assert not torch.equal(a.model.encoder.inlet.weight, b.model.encoder.inlet.weight)
    assert not np.array_equal(a.sampler.batch(2), b.sampler.batch(2))


def test_changed_settings_on_an_existing_run_are_refused(tmp_path):
    new(tmp_path)
    other = TrainConfig(batch=3, excerpt=4096, pool_seconds=4.0, model=TINY)
    with pytest.raises(TrainingError) as info:
        new(tmp_path, other)
    message = str(info.value)
    assert str(tmp_path) in message and "new run folder" in message and "without changing" in message


def test_a_damaged_config_is_refused(tmp_path):
    (tmp_path / "config.json").write_text('{"batch": 2, "nonsense": 1}')
    with pytest.raises(TrainingError, match="not a training config") as info:
        new(tmp_path)
    assert str(tmp_path / "config.json") in str(info.value)


def test_a_truncated_checkpoint_names_the_file(tmp_path):
    trainer = new(tmp_path)
    trainer.train(until_step=1)
    path = checkpoint_path(tmp_path, 1)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(TrainingError) as info:
        new(tmp_path)
    message = str(info.value)
    assert str(path) in message and "delete it" in message


def test_train_needs_steps_or_minutes(tmp_path):
    trainer = new(tmp_path)
    with pytest.raises(TrainingError, match="steps or of minutes"):
        trainer.train()
    assert trainer.step == 0 and list_checkpoints(tmp_path) == []


def test_a_non_finite_loss_stops_training_before_the_update(tmp_path, monkeypatch):
    trainer = new(tmp_path)
    trainer.train(until_step=1)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    monkeypatch.setattr(trainer_module, "multiscale_stft_distance",
                        lambda target, output: (output * float("nan")).sum())
    with pytest.raises(TrainingError, match="loss became nan at step 1") as info:
        trainer.train(until_step=3)
    assert "previous checkpoint" in str(info.value)
    assert trainer.step == 1
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert [s for s, _ in list_checkpoints(tmp_path)] == [1]


def test_learning_rate_schedule():
    c = TrainConfig(learning_rate=1e-3, final_learning_rate=1e-4, decay_steps=100)
    assert learning_rate(c, 0) == pytest.approx(1e-3)
    assert learning_rate(c, 50) == pytest.approx(math.sqrt(1e-3 * 1e-4))
    assert learning_rate(c, 100) == pytest.approx(1e-4)
    assert learning_rate(c, 10_000) == pytest.approx(1e-4)
    rates = [learning_rate(c, s) for s in range(0, 120, 10)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_config_round_trips_through_json():
    data = json.loads(json.dumps(CONFIG.to_dict()))
    assert isinstance(data["model"]["ratios"], list)
    assert TrainConfig.from_dict(data) == CONFIG
    assert TrainConfig.from_dict(json.loads(json.dumps(TrainConfig().to_dict()))) == TrainConfig()


def test_speed_estimates(tmp_path):
    assert estimate_hours(7200, 1.0) == pytest.approx(2.0)
    assert estimate_hours(10, 0.0) == math.inf
    trainer = new(tmp_path)
    assert steps_per_second(trainer, steps=1) > 0
    assert trainer.step == 2
