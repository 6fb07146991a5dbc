"""The training loop: seeded data, Adam, multi-scale STFT + KL, checkpoints, exact resume.

A run folder holds ``config.json`` (model and training settings, fixed at the first start),
``step-NNNNNNN.pt`` checkpoints and ``log.jsonl`` (one line per logged step). Starting a run
whose folder has checkpoints resumes from the newest: same data order, same random draws.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch.nn import functional as F

from performer.atomic import write_atomic
from performer.errors import TrainingError
from performer.train.checkpoint import checkpoint_path, list_checkpoints, load_checkpoint, save_checkpoint
from performer.train.data import ExcerptSampler, make_pool
from performer.train.loss import multiscale_stft_distance
from performer.train.model import ModelConfig, build_model


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    batch: int = 8
    excerpt: int = 32768
    pool_seconds: float = 480.0
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-4
    decay_steps: int = 12000
    kl_weight: float = 1e-3
    clip: float = 10.0
    model: ModelConfig = field(default_factory=ModelConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        model = data.pop("model", {})
        model = ModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in model.items()})
        return cls(model=model, **data)


def preset_config(name: str, seed: int = 0) -> TrainConfig:
    """A new run's settings for a model preset: the live model's 32 ms of context needs no
    0.74 s excerpts, and halving them doubles its steps per second."""
    from performer.train.model import PRESETS

    if name not in PRESETS:
        raise TrainingError(f"unknown preset {name!r}: " + ", ".join(PRESETS))
    excerpt = 16384 if PRESETS[name].architecture == "live" else TrainConfig.excerpt
    return TrainConfig(seed=seed, model=PRESETS[name], excerpt=excerpt)


def learning_rate(config: TrainConfig, step: int) -> float:
    """Exponential decay from the initial to the final rate over ``decay_steps``, then flat."""
    progress = min(step / max(config.decay_steps, 1), 1.0)
    return config.learning_rate * (config.final_learning_rate / config.learning_rate) ** progress


class Trainer:
    """One run folder. ``train(until_step=..., until_time=...)`` runs and checkpoints."""

    def __init__(self, run: str | Path, config: TrainConfig | None = None, workers: int = 2):
        self.run = Path(run)
        self.run.mkdir(parents=True, exist_ok=True)
        self.config = self._settle_config(config)
        torch.manual_seed(self.config.seed)
        self.model = build_model(self.config.model)
        self.optimizer = torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad],
                                          lr=self.config.learning_rate, betas=(0.5, 0.9))
        self.pool = torch.from_numpy(make_pool(self.config.seed, self.config.pool_seconds,
                                                   self.config.model.sample_rate, workers=workers))
        self.sampler = ExcerptSampler(self.pool.numpy(), self.config.excerpt, self.config.seed)
        self.step = 0
        self.elapsed = 0.0
        self._resume()

    def _settle_config(self, config: TrainConfig | None) -> TrainConfig:
        path = self.run / "config.json"
        if path.exists():
            try:
                saved = TrainConfig.from_dict(json.loads(path.read_text()))
            except (ValueError, TypeError) as exc:
                raise TrainingError(f"{path} is not a training config ({exc}); fix it or start a new "
                                    f"run folder") from None
            if config is not None and config != saved:
                raise TrainingError(f"{self.run} was started with other settings; resume it without "
                                    f"changing them, or start a new run folder")
            return saved
        config = config or TrainConfig()
        write_atomic(path, json.dumps(config.to_dict(), indent=1).encode(), keep_prev=False)
        return config

    def _resume(self) -> None:
        checkpoints = list_checkpoints(self.run)
        if not checkpoints:
            return
        state = load_checkpoint(checkpoints[-1][1])
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.set_state(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        self.step = state["step"]
        self.elapsed = state.get("elapsed", 0.0)

    def save(self) -> Path:
        path = checkpoint_path(self.run, self.step)
        save_checkpoint(path, {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "sampler": self.sampler.state(), "torch_rng": torch.get_rng_state(),
            "step": self.step, "elapsed": self.elapsed, "config": self.config.to_dict(),
        })
        return path

    def train_step(self) -> dict:
        """One optimiser step on a fresh batch; returns the step's figures."""
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.config, self.step)
        audio = torch.from_numpy(self.sampler.batch(self.config.batch)).unsqueeze(1)
        output, kl = self.model(audio)
        target = F.pad(audio, (self.model.delay, 0))[..., :audio.shape[-1]]
        distance = multiscale_stft_distance(target, output)
        loss = distance + self.config.kl_weight * kl
        if not torch.isfinite(loss):
            raise TrainingError(f"loss became {loss.item()} at step {self.step}; resume from the "
                                f"previous checkpoint with a lower learning rate")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip)
        self.optimizer.step()
        self.step += 1
        return {"step": self.step, "distance": distance.item(), "kl": kl.item(), "grad_norm": norm.item()}

    def train(self, until_step: int | None = None, minutes: float | None = None,
              checkpoint_minutes: float = 5.0, progress: Callable[[dict], None] | None = None) -> dict:
        """Train until ``until_step`` or for ``minutes`` of wall time; checkpoint periodically."""
        if until_step is None and minutes is None:
            raise TrainingError("say how long to train: a number of steps or of minutes")
        started = time.monotonic()
        last_save = started
        figures: dict = {"step": self.step}
        with open(self.run / "log.jsonl", "a") as log:
            while True:
                now = time.monotonic()
                if until_step is not None and self.step >= until_step:
                    break
                if minutes is not None and now - started >= minutes * 60:
                    break
                tick = time.monotonic()
                figures = self.train_step()
                self.elapsed += time.monotonic() - tick
                if progress is not None:
                    progress(figures)
                if self.step % 50 == 0:
                    log.write(json.dumps({**figures, "elapsed": round(self.elapsed, 1),
                                          "lr": learning_rate(self.config, self.step)}) + "\n")
                    log.flush()
                if time.monotonic() - last_save >= checkpoint_minutes * 60:
                    self.save()
                    last_save = time.monotonic()
        if not list_checkpoints(self.run) or list_checkpoints(self.run)[-1][0] != self.step:
            self.save()
        return figures


def steps_per_second(trainer: Trainer, steps: int = 5) -> float:
    """Measured training speed (after one warm-up step), for estimates before a long run."""
    trainer.train_step()
    started = time.monotonic()
    for _ in range(steps):
        trainer.train_step()
    return steps / (time.monotonic() - started)


def estimate_hours(steps: int, rate: float) -> float:
    return math.inf if rate <= 0 else steps / rate / 3600
