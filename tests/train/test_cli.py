"""`performer train`: argument errors exit 2 with a message; a tiny run trains and resumes."""

import json

import pytest
import torch

from performer.cli import main
from performer.train import trainer as trainer_module
from performer.train.checkpoint import list_checkpoints
from performer.train.model import ModelConfig
from performer.train.trainer import TrainConfig

TINY = ModelConfig(encoder_channels=(8, 8, 8, 8), decoder_channels=(8, 8, 8, 8), learned_latents=2, harmonics=8)
CONFIG = TrainConfig(batch=2, excerpt=4096, pool_seconds=4.0, model=TINY)



@pytest.fixture
def tiny_run(tmp_path):
    """A run folder whose config.json is tiny: the command resumes it with the run's own settings."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(CONFIG.to_dict()))
    return run


def test_train_without_a_length_exits_2_and_says_what_to_give(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(run)]) == 2
    err = capsys.readouterr().err
    assert "performer: error:" in err and "--minutes" in err and "--steps" in err
    assert not run.exists()  # refused before anything was created


@pytest.mark.parametrize("threads", ["0", "-2"])
def test_threads_below_one_are_rejected(tmp_path, capsys, threads):
    before = torch.get_num_threads()
    assert main(["train", str(tmp_path / "run"), "--steps", "1", "--threads", threads]) == 2
    assert f"--threads must be at least 1, got {threads}" in capsys.readouterr().err
    assert torch.get_num_threads() == before
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args", [["--steps", "two"], ["--minutes", "x"], ["--threads", "1.5"], []])
def test_malformed_arguments_are_argparse_errors(tmp_path, capsys, args):
    argv = ["train", *args] if not args else ["train", str(tmp_path), *args]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--minutes", "--steps", "--threads", "--seed", "--checkpoint-minutes", "--export",
                   "--checkpoint", "--quiet", "run"):
        assert option in out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "train" in capsys.readouterr().out


def test_a_tiny_run_trains_and_resumes(tiny_run, capsys):
    assert main(["train", str(tiny_run), "--steps", "2", "--quiet", "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert "from step 0" in err and "1 threads" in err and "train: step 2" in err
    assert [s for s, _ in list_checkpoints(tiny_run)] == [2]
    assert json.loads((tiny_run / "config.json").read_text()) == json.loads(json.dumps(CONFIG.to_dict()))
    # again, with a progress bar: resumes at step 2
    assert main(["train", str(tiny_run), "--steps", "3"]) == 0
    err = capsys.readouterr().err
    assert "from step 2" in err and "train: step 3" in err and "step" in err
    assert [s for s, _ in list_checkpoints(tiny_run)] == [2, 3]


def test_a_timed_run_shows_its_progress_bar(tiny_run, capsys):
    # --minutes leaves the bar without a total (a tqdm that refuses bool()): it must still run
    assert main(["train", str(tiny_run), "--minutes", "0.005", "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert "from step 0" in err and "step/s" in err and "min trained" in err
    assert list_checkpoints(tiny_run)


def test_a_changed_seed_on_an_existing_run_exits_2(tiny_run, capsys):
    assert main(["train", str(tiny_run), "--steps", "1", "--seed", "5", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "other settings" in err and "new run folder" in err
    assert list_checkpoints(tiny_run) == []


def test_interrupt_saves_a_checkpoint_and_exits_130(tiny_run, capsys, monkeypatch):
    real = trainer_module.Trainer.train_step
    calls = []

    def train_step(self):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(trainer_module.Trainer, "train_step", train_step)
    assert main(["train", str(tiny_run), "--steps", "10", "--quiet"]) == 130
    assert "stopped at step 2, checkpoint saved" in capsys.readouterr().err
    assert [s for s, _ in list_checkpoints(tiny_run)] == [2]


def test_export_of_a_folder_that_is_not_a_run_exits_2(tmp_path, capsys):
    out = tmp_path / "m.ts"
    assert main(["train", str(tmp_path / "nothing"), "--export", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not a training run" in err and "performer train" in err
    assert not out.exists()


def test_export_of_a_run_without_checkpoints_exits_2(tiny_run, tmp_path, capsys):
    assert main(["train", str(tiny_run), "--export", str(tmp_path / "m.ts"), "--checkpoint", "last"]) == 2
    assert "no checkpoints yet" in capsys.readouterr().err


def test_export_of_a_missing_or_malformed_checkpoint_choice_exits_2(tiny_run, tmp_path, capsys):
    assert main(["train", str(tiny_run), "--steps", "1", "--quiet"]) == 0
    capsys.readouterr()
    out = tmp_path / "m.ts"
    assert main(["train", str(tiny_run), "--export", str(out), "--checkpoint", "7"]) == 2
    assert "no checkpoint at step 7; it has 1" in capsys.readouterr().err
    assert main(["train", str(tiny_run), "--export", str(out), "--checkpoint", "newest"]) == 2
    assert "step number, 'best' or 'last'" in capsys.readouterr().err
    assert not out.exists()
