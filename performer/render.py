"""The offline twin: a file through the same rig and block engine as the live path."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from performer.audio.delay import model_delay
from performer.audio.engine import BlockEngine, ChunkAdapter
from performer.audio.files import check_writable, fit_channels, read_audio, resample, write_audio
from performer.model.loader import NNModel
from performer.rig import Rig

log = logging.getLogger("performer.render")

CHUNK = 4096  # how much of the file is handed to the engine at a time (any size works)


@dataclass
class RenderReport:
    seconds: float
    wall_seconds: float
    blocks: int
    block_size: int
    model_rate: int
    output_rate: int
    guard_events: int
    model_errors: int

    @property
    def realtime_factor(self) -> float:
        return self.wall_seconds / self.seconds if self.seconds else 0.0


def render_array(rig: Rig, audio: np.ndarray, seed: int | None = 0, block_size: int | None = None,
                 chunk: int = CHUNK, progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, BlockEngine]:
    """Process ``audio`` [model channels, frames] at the model's rate; output aligned to input,
    the model's own delay included (the dry path is delayed to match it)."""
    probe = BlockEngine(rig, block_size=block_size, compute_bends=False)  # validates the block size
    delay = model_delay(rig.model, probe.block_size)
    engine = BlockEngine(rig, block_size=block_size, dry_delay=delay)
    engine.reset(seed)
    adapter = ChunkAdapter(engine)
    latency = adapter.latency + delay
    frames = audio.shape[1]
    padded = np.concatenate([audio, np.zeros((audio.shape[0], latency), dtype=np.float32)], axis=1)
    pieces = []
    for start in range(0, padded.shape[1], chunk):
        pieces.append(adapter.process(padded[:, start:start + chunk]))
        if progress:
            progress(min(chunk, padded.shape[1] - start))
    out = np.concatenate(pieces, axis=1)[:, latency:latency + frames]
    return out, engine


def render_file(model: NNModel, in_path: str | Path, out_path: str | Path, bends: Iterable[tuple[str, object]] = (),
                seed: int | None = 0, block_size: int | None = None, output_rate: int | None = None,
                progress_factory: Callable[[int], Callable[[int], None]] | None = None) -> RenderReport:
    check_writable(out_path)
    audio, rate = read_audio(in_path)
    audio = fit_channels(audio, model.in_channels, what=str(in_path))
    audio = resample(audio, rate, model.sample_rate)
    rig = Rig(model)
    for address, value in bends:
        rig.set(address, value, source="cli")
    started = time.perf_counter()
    progress = progress_factory(audio.shape[1]) if progress_factory else None
    out, engine = render_array(rig, audio, seed=seed, block_size=block_size, progress=progress)
    wall = time.perf_counter() - started
    target_rate = output_rate or rate
    out = resample(out, model.sample_rate, target_rate)
    if target_rate != model.sample_rate:  # resampling can overshoot between samples: keep the ceiling
        np.clip(out, -engine.safety.ceiling, engine.safety.ceiling, out=out)
    write_audio(out_path, out, target_rate)
    return RenderReport(seconds=audio.shape[1] / model.sample_rate, wall_seconds=wall, blocks=engine.stats.blocks,
                        block_size=engine.block_size, model_rate=model.sample_rate, output_rate=target_rate,
                        guard_events=engine.stats.guard_events, model_errors=engine.stats.model_errors)
