"""The offline twin: a file through the same rig and block engine as the live path."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np

from performer.audio.delay import model_delay
from performer.audio.engine import BlockEngine, ChunkAdapter
from performer.audio.files import check_writable, fit_channels, read_audio, resample, write_audio
from performer.model.loader import NNModel
from performer.rig import Rig

if TYPE_CHECKING:
    from performer.scenes.bendlog import LogEntry

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
    notes: list[str] = field(default_factory=list)  # what a replayed log could not apply

    @property
    def realtime_factor(self) -> float:
        return self.wall_seconds / self.seconds if self.seconds else 0.0


def render_array(rig: Rig, audio: np.ndarray, seed: int | None = 0, block_size: int | None = None,
                 chunk: int = CHUNK, progress: Callable[[int], None] | None = None,
                 timeline: Sequence[tuple[float, Callable[[], None]]] = ()) -> tuple[np.ndarray, BlockEngine]:
    """Process ``audio`` [model channels, frames] at the model's rate; output aligned to input,
    the model's own delay included (the dry path is delayed to match it).

    ``timeline``: (seconds into ``audio``, action) pairs, e.g. a replayed bending log. Each action
    runs between blocks, before the first block that starts at or after its time (see
    ``change_block``), as a live change waits for the next block; actions due after the input's
    end do not run. The input is fed in segments cut at those block boundaries; since the engine
    gives the same samples for any chunking, the output depends only on the input and timeline."""
    probe = BlockEngine(rig, block_size=block_size, compute_bends=False)  # validates the block size
    delay = model_delay(rig.model, probe.block_size)
    engine = BlockEngine(rig, block_size=block_size, dry_delay=delay)
    engine.reset(seed)
    adapter = ChunkAdapter(engine)
    latency = adapter.latency + delay
    frames = audio.shape[1]
    padded = np.concatenate([audio, np.zeros((audio.shape[0], latency), dtype=np.float32)], axis=1)
    due: dict[int, list[Callable[[], None]]] = {}
    for seconds, action in timeline:
        start = change_block(seconds, rig.model.sample_rate, engine.block_size) * engine.block_size
        if start < padded.shape[1]:
            due.setdefault(start, []).append(action)
    pieces = []
    fed = 0
    for stop in [*sorted(due), padded.shape[1]]:
        for begin in range(fed, stop, chunk):
            end = min(begin + chunk, stop)
            pieces.append(adapter.process(padded[:, begin:end]))
            if progress:
                progress(end - begin)
        fed = stop
        for action in due.get(stop, ()):  # every block before ``stop`` is done, none after it begun
            action()
    out = np.concatenate(pieces, axis=1)[:, latency:latency + frames]
    return out, engine


def change_block(seconds: float, rate: int, block_size: int) -> int:
    """The block a change at ``seconds`` into the input first reaches. Bends and gains install
    between blocks, so the time (rounded to a sample) is quantised up to the next block boundary;
    a change exactly on a boundary, or before the input starts, reaches the block starting there."""
    sample = round(seconds * rate)
    return max(0, -(-sample // block_size))


def render_file(model: NNModel, in_path: str | Path, out_path: str | Path, bends: Iterable[tuple[str, object]] = (),
                seed: int | None = 0, block_size: int | None = None, output_rate: int | None = None,
                progress_factory: Callable[[int], Callable[[int], None]] | None = None,
                bend_log: Sequence["LogEntry"] = (), log_offset: float | None = None) -> RenderReport:
    """Render ``in_path`` into ``out_path``: ``bends`` are set first, then ``bend_log`` (a bending log's
    entries) is replayed at its times, the first entry (or log time ``log_offset``) at the start."""
    check_writable(out_path)
    audio, rate = read_audio(in_path)
    audio = fit_channels(audio, model.in_channels, what=str(in_path))
    audio = resample(audio, rate, model.sample_rate)
    rig = Rig(model)
    for address, value in bends:
        rig.set(address, value, source="cli")
    replay = None
    if bend_log:
        from performer.scenes.bendlog import LogReplay

        replay = LogReplay(rig, bend_log, offset=log_offset)
    started = time.perf_counter()
    progress = progress_factory(audio.shape[1]) if progress_factory else None
    out, engine = render_array(rig, audio, seed=seed, block_size=block_size, progress=progress,
                               timeline=replay.timeline() if replay else ())
    wall = time.perf_counter() - started
    target_rate = output_rate or rate
    out = resample(out, model.sample_rate, target_rate)
    if target_rate != model.sample_rate:  # resampling can overshoot between samples: keep the ceiling
        np.clip(out, -engine.safety.ceiling, engine.safety.ceiling, out=out)
    write_audio(out_path, out, target_rate)
    return RenderReport(seconds=audio.shape[1] / model.sample_rate, wall_seconds=wall, blocks=engine.stats.blocks,
                        block_size=engine.block_size, model_rate=model.sample_rate, output_rate=target_rate,
                        guard_events=engine.stats.guard_events, model_errors=engine.stats.model_errors,
                        notes=replay.notes() if replay else [])
