"""The streaming state a block leaves behind, saved and put back, to compute a block a second time.

Live retakes (performer/live/retake.py) compute a block as soon as its input is in, and again
from the same state when a knob moves before the block is due. The state is everything a block
changes: the model's streaming caches, the dry delay, the safety stage, the last gains and mix
(their ramps), the block count, and the output resampler. Model thread (or a test) only.

Buffers are preallocated: a save is one torch copy over every cache (10 us for the default
model's 31) and a few small numpy copies. Whether a model keeps all its state in those caches is
checked by ``restores_exactly``, not assumed: an export may keep state elsewhere.
"""

from __future__ import annotations

import numpy as np
import torch

from performer.audio.engine import BlockEngine
from performer.audio.resampler import StreamingResampler
from performer.model.loader import CACHE_SUFFIXES


class StreamCheckpoint:
    """One saved state of ``engine`` (and of an output resampler, when one runs after it)."""

    def __init__(self, engine: BlockEngine, resampler: StreamingResampler | None = None):
        self.engine = engine
        self.resampler = None if resampler is None or resampler.identity else resampler
        self._live = [b for name, b in engine.model.module.named_buffers() if name.endswith(CACHE_SUFFIXES)]
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


def restores_exactly(engine: BlockEngine, blocks: int = 3, seed: int = 0) -> bool:
    """Whether computing a block again from a restored checkpoint gives the same samples: the
    model keeps all its streaming state in its caches. Runs ``blocks`` blocks of noise (the
    engine's state is reset after); the model's own randomness is seeded alike for both takes."""
    checkpoint = StreamCheckpoint(engine)
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
