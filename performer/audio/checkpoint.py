"""The streaming state a block leaves behind, saved and put back, to compute a block a second time.

Live retakes (performer/live/retake.py) compute a block as soon as its input is in, and again
from the same state when a knob moves before the block is due. The state is everything a block
changes: the model's streaming caches, the dry delay, the safety stage, the last gains and mix
(their ramps), the block count, and the output resampler. Model thread (or a test) only.

Buffers are preallocated, and a save is one torch copy over the caches and a few small numpy
copies. cached_conv allocates its caches for 64 batch rows and a live model runs one (two for an
export that folds stereo into the batch), so only those rows are kept (the v2_small fixture: 34 kB
instead of 2.2 MB). Whether a model keeps all its state in those rows, or in caches at all, is
checked by ``checkpoint_rows``, not assumed: an export may keep state elsewhere. ``PackedCaches``
then lays those rows out in one flat tensor per dtype (the caches become views of it), so a save
is one or two copies however many caches there are (162 for v2_small: 57 us warm as 162 copies,
3 us as one).
"""

from __future__ import annotations

import numpy as np
import torch

from performer.audio.engine import BlockEngine
from performer.audio.resampler import StreamingResampler
from performer.model.loader import NNModel


def live_caches(model: NNModel, rows: int | None = None) -> list[torch.Tensor]:
    """The model's cache buffers; with ``rows``, views of that many leading (batch) rows of 3-D ones."""
    return [b[:rows] if rows and b.dim() == 3 and b.shape[0] > rows else b for b in model.caches()]


class PackedCaches:
    """The model's caches (their live rows) re-pointed at views of one flat tensor per dtype (a
    phase accumulator may be float64), until ``unpack``."""

    def __init__(self, model: NNModel, rows: int | None):
        caches = model.caches()
        live = live_caches(model, rows)
        sizes: dict[torch.dtype, int] = {}
        for view in live:
            sizes[view.dtype] = sizes.get(view.dtype, 0) + view.numel()
        flats = {dtype: torch.zeros(size, dtype=dtype) for dtype, size in sizes.items()}
        self.flats = list(flats.values())
        self._originals = []
        offsets = dict.fromkeys(flats, 0)
        with torch.no_grad():
            for buffer, rows_view in zip(caches, live):
                offset, size = offsets[buffer.dtype], rows_view.numel()
                view = flats[buffer.dtype][offset:offset + size].view(rows_view.shape)
                view.copy_(rows_view)
                original = torch.empty(0, dtype=buffer.dtype)
                original.set_(buffer)  # the full storage, for unpack
                self._originals.append((buffer, original))
                buffer.set_(view)
                offsets[buffer.dtype] = offset + size

    def unpack(self) -> None:
        """Point the caches back at their own storage, with the packed rows' current contents."""
        with torch.no_grad():
            for buffer, original in self._originals:
                rows = buffer.shape[0] if buffer.dim() == 3 else None
                (original[:rows] if rows else original).copy_(buffer)
                buffer.set_(original)
        self._originals = []


class StreamCheckpoint:
    """One saved state of ``engine`` (and of an output resampler, when one runs after it)."""

    def __init__(self, engine: BlockEngine, resampler: StreamingResampler | None = None,
                 caches: list[torch.Tensor] | None = None):
        """``caches``: the tensors that hold the model's state (default: every cache, whole)."""
        self.engine = engine
        self.resampler = None if resampler is None or resampler.identity else resampler
        self._live = live_caches(engine.model) if caches is None else caches
        self._saved = [b.detach().clone() for b in self._live]
        self._values: tuple = ()

    def save(self) -> None:
        if self._live:
            torch._foreach_copy_(self._saved, self._live)
        engine, safety = self.engine, self.engine.safety
        # The safety stage's arrays are replaced or updated in place block by block: copy them.
        self._values = (
            engine._last, engine.stats.blocks, engine.stats.guard_events, engine.dry_delay._buffer.copy(),
            safety._dc_state.copy(), safety._delay.copy(), safety._gain, safety._next_target,
            safety._params.copy(), safety.guard_events,
            None if self.resampler is None else (self.resampler._history.copy(), self.resampler._next))

    def restore(self) -> None:
        """Put the saved state back (the saved copies stay valid for another restore)."""
        if self._live:
            torch._foreach_copy_(self._live, self._saved)
        engine, safety = self.engine, self.engine.safety
        (engine._last, engine.stats.blocks, engine.stats.guard_events, dry, dc, delay, safety._gain,
         safety._next_target, params, safety.guard_events, resampler) = self._values
        engine.dry_delay._buffer = dry.copy()
        safety._dc_state, safety._delay, safety._params = dc.copy(), delay.copy(), params.copy()
        if resampler is not None:
            self.resampler._history, self.resampler._next = resampler[0].copy(), resampler[1]


def checkpoint_rows(engine: BlockEngine) -> int | None | bool:
    """The ``rows`` for a checkpoint that restores this engine's model exactly: 1 (the batch row
    a live model runs), its channel count (exports that fold channels into the batch), None (every
    row), or False when none does (state outside its caches)."""
    channels = max(engine.in_channels, engine.out_channels)
    for rows in (1, channels, None) if channels > 1 else (1, None):
        if restores_exactly(engine, live_caches(engine.model, rows)):
            return rows
    return False


def pack_for_retakes(engine: BlockEngine) -> tuple[list[torch.Tensor] | None, PackedCaches | None]:
    """The caches a checkpoint of this engine saves (None: it cannot restore the model exactly),
    packed into one tensor where that restores as exactly (``unpack`` the second when done)."""
    rows = checkpoint_rows(engine)
    if rows is False:
        return None, None
    packed = PackedCaches(engine.model, rows)
    if restores_exactly(engine, packed.flats):
        return packed.flats, packed
    packed.unpack()
    return live_caches(engine.model, rows), None


def restores_exactly(engine: BlockEngine, caches: list[torch.Tensor] | None = None, blocks: int = 3,
                     seed: int = 0) -> bool:
    """Whether computing a block again from a checkpoint of ``caches`` restored gives the same
    samples. Runs ``blocks`` blocks of noise (the engine's state is reset after); the model's own
    randomness is seeded alike for both takes."""
    checkpoint = StreamCheckpoint(engine, caches=caches)
    rng = np.random.default_rng(seed)
    engine.reset()
    try:
        for i in range(blocks):
            block = (0.2 * rng.standard_normal((engine.in_channels, engine.block_size))).astype(np.float32)
            checkpoint.save()
            torch.manual_seed(seed + i)
            first = engine.process_block(block)
            checkpoint.restore()
            torch.manual_seed(seed + i)
            again = engine.process_block(block)
            if not np.array_equal(first, again):
                return False
        return True
    finally:
        engine.reset(seed)
