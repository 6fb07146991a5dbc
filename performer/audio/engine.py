"""The block engine: one model block in, one safe block out. Shared by live and offline paths.

Per block: install pending bent tensors (between blocks, never during a forward pass), apply
input gain, run the model (forward, or encode -> latent bend -> decode), mix with the dry
signal, apply output gain, then the safety stage. Gains and mix ramp across the block so a
knob move never clicks. A model exception or a guard event costs one block, never the show.

Runs on the model thread (or the offline loop), never in a device callback.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch

from performer.audio.delay import DelayLine
from performer.audio.safety import SafetyStage
from performer.bending.bank import TensorBank
from performer.model.loader import NNModel
from performer.rig import AudioParams, Rig

log = logging.getLogger("performer.engine")

DEFAULT_MIN_BLOCK = 2048
# A model whose ratio is at most this is built for small blocks (the live model: 128): its block
# is its ratio. Larger ratios amortise a per-call cost that is mostly fixed (docs/model.md) over
# blocks of at least DEFAULT_MIN_BLOCK.
SMALL_RATIO = 256


def default_block_size(multiple: int, minimum: int | None = None) -> int:
    """The model's ratio when it is small (SMALL_RATIO or less); else the smallest multiple of it
    that is at least ``minimum`` samples (default DEFAULT_MIN_BLOCK)."""
    if minimum is None:
        minimum = multiple if multiple <= SMALL_RATIO else DEFAULT_MIN_BLOCK
    return multiple * max(1, -(-minimum // multiple))


@dataclass
class EngineStats:
    blocks: int = 0
    guard_events: int = 0
    model_errors: int = 0
    tensors_installed: int = 0
    last_model_ms: float = 0.0
    last_error: str = ""
    model_ms: list[float] = field(default_factory=list, repr=False)
    recent_ms: deque = field(default_factory=lambda: deque(maxlen=512), repr=False)  # for telemetry


class BlockEngine:
    def __init__(self, rig: Rig, block_size: int | None = None, ceiling_db: float = -1.0,
                 compute_bends: bool = True, keep_timings: bool = False, dry_delay: int = 0,
                 model: NNModel | None = None, bank: TensorBank | None = None):
        """``compute_bends``: compute dirty bends inline before each block (offline use). A live
        engine leaves it False and a bend worker thread calls ``rig.compute_pending``.
        ``dry_delay``: samples the dry path is delayed to line up with the model's output
        (see ``performer.audio.delay.model_delay``). ``model`` and ``bank``: a model the rig has
        prepared but does not play yet (a hot swap); default the rig's own. The engine keeps
        them, so it goes on with its model while the rig already means the next one."""
        self.rig = rig
        self.model = model or rig.model
        self.bank = bank or rig.bank
        self._latent_size = self.model.latent_size or 0
        multiple = self.model.block_multiple
        self.block_size = block_size or default_block_size(multiple)
        if self.block_size % multiple or self.block_size % 32:
            raise ValueError(
                f"block size must be a multiple of the model's ratio {multiple} (and of 32), got {self.block_size}; "
                f"try {default_block_size(multiple, self.block_size)}")
        self.in_channels = self.model.in_channels
        self.out_channels = self.model.out_channels
        self.compute_bends = compute_bends
        self.keep_timings = keep_timings
        self.safety = SafetyStage(self.out_channels, self.model.sample_rate, ceiling_db=ceiling_db)
        self.dry_delay = DelayLine(self.out_channels, dry_delay)
        self.stats = EngineStats()
        self._last = AudioParams()
        self._ramp = np.linspace(0.0, 1.0, self.block_size, endpoint=False, dtype=np.float32)

    @property
    def last_params(self) -> AudioParams:
        """The gains and mix the last block ended on (the rig's are newer if they changed since)."""
        return self._last

    @property
    def latency(self) -> int:
        """Samples of delay the engine adds on top of block buffering (the limiter look-ahead)."""
        return self.safety.latency

    def reset(self, seed: int | None = None) -> None:
        """Fresh streaming state; with ``seed``, the model's own randomness restarts too, so two
        runs over the same input and bends are bitwise equal."""
        self.model.reset_caches()
        self.safety.reset()
        self.dry_delay.reset()
        if seed is not None:
            torch.manual_seed(seed)

    def process_block(self, block: np.ndarray) -> np.ndarray:
        """``block``: float32 [in_channels, block_size] -> float32 [out_channels, block_size]."""
        if block.shape != (self.in_channels, self.block_size):
            raise ValueError(f"block must be shaped ({self.in_channels}, {self.block_size}), got {block.shape}")
        if self.compute_bends:
            self.rig.compute_pending()
        self.stats.tensors_installed += self.bank.install_pending()
        params, last = self.rig.audio, self._last
        self._last = params

        dry = block.astype(np.float32, copy=False)
        # Unity gains and a full-wet mix skip their passes: at RTF 0.04 each numpy pass over a
        # block right after the model (cold caches) is a visible share of the engine's cost.
        in_gain = self._ramped(last.input_gain, params.input_gain)
        x = dry if _unity(in_gain) else dry * in_gain
        wet = self._run_model(x, params) if not (params.bypass and last.bypass) else None
        wet_mix = self._ramped(0.0 if last.bypass else last.mix, 0.0 if params.bypass else params.mix)
        if wet is not None and _unity(wet_mix):
            self.dry_delay.push(self._match_channels(dry))  # keeps the dry path in time, unread
            out = wet
        else:
            dry_out = self.dry_delay.process(self._match_channels(dry))
            out = dry_out.copy() if wet is None else dry_out + (wet - dry_out) * wet_mix
        out_gain = self._ramped(last.output_gain, params.output_gain)
        if not _unity(out_gain):
            out = out * out_gain
        safe, guarded = self.safety.process(out)
        if guarded:
            self.stats.guard_events += 1
            self.model.reset_caches()  # NaN in the streaming caches would poison every later block
        self.stats.blocks += 1
        return safe

    def _ramped(self, start: float, end: float) -> np.ndarray | float:
        """A per-sample ramp from start to end, or the plain value when it does not move."""
        if start == end:
            return end
        return start + (end - start) * self._ramp

    def _match_channels(self, dry: np.ndarray) -> np.ndarray:
        if self.in_channels == self.out_channels:
            return dry
        if self.in_channels == 1:
            return np.repeat(dry, self.out_channels, axis=0)
        return dry.mean(axis=0, keepdims=True).repeat(self.out_channels, axis=0)

    def _run_model(self, x: np.ndarray, params: AudioParams) -> np.ndarray:
        started = time.perf_counter()
        try:
            # The glue here runs on cold caches (after the model thread slept), where each Python
            # step costs several us: a numpy index instead of a torch one, no copy when none is due.
            if x.dtype != np.float32 or not x.flags.c_contiguous:
                x = np.ascontiguousarray(x, dtype=np.float32)
            with torch.inference_mode():
                audio = torch.from_numpy(x[None])
                if (params.latent_scale is not None and self.model.has_latent_path
                        and params.latent_scale.shape[1] == self._latent_size):  # not the next model's
                    z = self.model.run("encode", audio)
                    z = z * params.latent_scale + params.latent_offset
                    y = self.model.run("decode", z)
                elif "forward" in self.model.methods:
                    y = self.model.run("forward", audio)
                else:
                    y = self.model.run("decode", self.model.run("encode", audio))
                wet = y.numpy()[0]
            if wet.shape != (self.out_channels, self.block_size):
                raise RuntimeError(f"model returned shape {tuple(wet.shape)}, expected "
                                   f"({self.out_channels}, {self.block_size})")
        except Exception as exc:  # the show goes on: this block is silent, the error counted
            self.stats.model_errors += 1
            if self.stats.last_error != str(exc):
                log.error("model failed on block %d (silenced): %s", self.stats.blocks, exc)
            self.stats.last_error = str(exc)
            wet = np.zeros((self.out_channels, self.block_size), dtype=np.float32)
        elapsed = (time.perf_counter() - started) * 1000.0
        self.stats.last_model_ms = elapsed
        self.stats.recent_ms.append(elapsed)
        if self.keep_timings:
            self.stats.model_ms.append(elapsed)
        return wet


def _unity(value: np.ndarray | float) -> bool:
    return not isinstance(value, np.ndarray) and value == 1.0


class ChunkAdapter:
    """Feeds chunks of any length through the block engine; output has the same length.

    Output lags input by exactly ``latency`` samples (one block plus the engine's look-ahead;
    the model's own delay, matched by the dry delay, comes on top),
    so processing a signal in chunks of any sizes gives the same samples. For offline use and
    tests; the live path uses preallocated ring buffers instead.
    """

    def __init__(self, engine: BlockEngine):
        self.engine = engine
        n = engine.block_size
        self._pending_in = np.zeros((engine.in_channels, 0), dtype=np.float32)
        self._ready_out = np.zeros((engine.out_channels, n), dtype=np.float32)  # one block of lag
        self.latency = n + engine.latency

    def process(self, chunk: np.ndarray) -> np.ndarray:
        n = self.engine.block_size
        self._pending_in = np.concatenate([self._pending_in, chunk.astype(np.float32, copy=False)], axis=1)
        produced = [self._ready_out]
        while self._pending_in.shape[1] >= n:
            block, self._pending_in = self._pending_in[:, :n], self._pending_in[:, n:]
            produced.append(self.engine.process_block(np.ascontiguousarray(block)))
        available = np.concatenate(produced, axis=1)
        m = chunk.shape[1]
        out, self._ready_out = available[:, :m], available[:, m:]
        return out
