"""From a training run to a shipped model: choose a checkpoint, calibrate its level, export.

``best`` is chosen on selection material (seeds training and the quality bench never use) among
the newest checkpoints and the average of their weights (late in training, Adam's steps
scatter the weights around a minimum; their mean usually sits closer to it): the candidate
passing the most criteria of the quality bar, then the lowest held-out spectral distance. Its
output gain is set so that the median level difference over calibration material (another
unseen seed) is 0 dB; the bar allows 3 dB. All material is rendered at the model's own rate.
Choosing and calibrating stream in blocks of 2048 samples or more: the exports give the same
output at any block size (tests/train/test_release.py), and the live model's 128-sample calls
would take ten times as long; its real-time factor at 128 is the bench's to judge.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from performer.errors import TrainingError
from performer.train.checkpoint import list_checkpoints, load_checkpoint
from performer.train.export import export_model
from performer.train.model import DefaultModel, build_model
from performer.train.trainer import TrainConfig

SELECTION_SEED = 1001
CALIBRATION_SEED = 2002
CANDIDATES = 6  # the newest checkpoints considered for "best"
CRITERIA = ("loudness", "level", "mss", "pitch", "hnr", "rtf")
SELECTION_CRITERIA = ("loudness", "mss", "pitch", "hnr")  # level is calibrated after; rtf is the architecture's
STREAM_BLOCK = 2048


def load_run(run: str | Path) -> tuple[TrainConfig, list[tuple[int, Path]]]:
    run = Path(run)
    config_path = run / "config.json"
    if not config_path.exists():
        raise TrainingError(f"{run} is not a training run (no config.json); train first: "
                            f"performer train {run} --minutes 100")
    config = TrainConfig.from_dict(json.loads(config_path.read_text()))
    checkpoints = list_checkpoints(run)
    if not checkpoints:
        raise TrainingError(f"{run} has no checkpoints yet")
    return config, checkpoints


def model_from_checkpoint(config: TrainConfig, path: Path) -> DefaultModel:
    model = build_model(config.model)
    model.load_state_dict(load_checkpoint(path)["model"])
    return model.eval()


def averaged_model(config: TrainConfig, paths: list[Path]) -> DefaultModel:
    """The mean of the checkpoints' weights (buffers from the newest)."""
    model = model_from_checkpoint(config, paths[-1])
    states = [load_checkpoint(p)["model"] for p in paths]
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.copy_(torch.stack([state[name] for state in states]).mean(0))
    return model


def random_weights_model(config: TrainConfig) -> DefaultModel:
    """The architecture as training started it (same seed): the spectral bar's reference."""
    torch.manual_seed(config.seed)
    return build_model(config.model).eval()


def _stream_block(model) -> int:
    from performer.audio.engine import default_block_size

    return default_block_size(model.block_multiple, STREAM_BLOCK)


def _exported(model: DefaultModel, directory: Path, name: str, seed: int = 0):
    from performer.model import load_model

    return load_model(export_model(model, directory / f"{name}.ts", seed))


def _material(seed: int, seconds: float, pitched_count: int, sample_rate: int):
    from performer.train.data import make_pool, pitched_segments

    return (make_pool(seed, seconds, sample_rate),
            pitched_segments(seed, pitched_count, sample_rate=sample_rate))


def score(report: dict) -> tuple[int, float]:
    passed = sum(1 for key in SELECTION_CRITERIA if report["passes"].get(key) is True)
    return passed, -(report["mss_heldout"] or float("inf"))


def calibrate_gain(model: DefaultModel, directory: Path, seconds: float = 20.0) -> float:
    """Linear output gain that puts the median level difference on unseen audio at 0 dB."""
    from performer.train.quality import evaluate

    heldout, pitched = _material(CALIBRATION_SEED, seconds, 2, model.config.sample_rate)
    model.decoder.output_gain.fill_(1.0)
    exported = _exported(model, directory, "calibration")
    report = evaluate(exported, heldout, pitched, rtf_seconds=0.5, block=_stream_block(exported))
    levels = [s["level_db"] for s in report["signals"].values() if s["level_db"] is not None]
    return float(10 ** (-np.median(levels) / 20))


def export_checkpoint(run: str | Path, out: str | Path, which: str = "best") -> str:
    """Export a checkpoint of ``run`` to ``out`` (calibrated); returns a report for people."""
    from performer.train.quality import evaluate

    config, checkpoints = load_run(run)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        if which == "last":
            chosen, model = f"step {checkpoints[-1][0]}", model_from_checkpoint(config, checkpoints[-1][1])
        elif which == "best":
            heldout, pitched = _material(SELECTION_SEED, 20.0, 3, config.model.sample_rate)
            reference = _exported(random_weights_model(config), directory, "random", config.seed)
            newest = checkpoints[-CANDIDATES:]
            candidates = [(f"step {s}", lambda p=p: model_from_checkpoint(config, p)) for s, p in newest]
            if len(newest) > 1:
                label = f"mean of steps {newest[0][0]}..{newest[-1][0]}"
                candidates.append((label, lambda: averaged_model(config, [p for _, p in newest])))
            best = None
            for label, build in candidates:
                candidate = build()
                exported = _exported(candidate, directory, "candidate")
                report = evaluate(exported, heldout, pitched, reference, block=_stream_block(exported),
                                  rtf_seconds=1.0)
                passed, _ = score(report)
                lines.append(f"{label}: passes {passed}/{len(SELECTION_CRITERIA)}, mss ratio "
                             f"{report['mss_ratio']:.3f}, " + ", ".join(
                                 f"{k} {'y' if report['passes'][k] else 'n'}" for k in SELECTION_CRITERIA))
                if best is None or score(report) > best[0]:
                    best = (score(report), label, candidate)
            _, chosen, model = best
        else:
            try:
                wanted = int(which)
            except ValueError:
                raise TrainingError(f"--checkpoint takes a step number, 'best' or 'last', got {which!r}") from None
            found = dict(checkpoints)
            if wanted not in found:
                raise TrainingError(f"{run} has no checkpoint at step {wanted}; it has "
                                    + ", ".join(str(s) for s, _ in checkpoints))
            chosen, model = f"step {wanted}", model_from_checkpoint(config, found[wanted])
        gain = calibrate_gain(model, directory)
        model.decoder.output_gain.fill_(gain)
        export_model(model, out, config.seed)
    lines.append(f"exported {chosen} to {out} (output gain {20 * np.log10(gain):+.2f} dB, "
                 f"{Path(out).stat().st_size / 1e6:.1f} MB)")
    return "\n".join(lines)
