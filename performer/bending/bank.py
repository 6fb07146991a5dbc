"""The tensor bank: cached originals, bent buffers computed off the audio thread, and the swap.

Bends are computed from the cached original into a spare buffer of the same shape, published,
and installed by the model thread between blocks by pointing the model's parameter at the new
storage (``Tensor.set_``: O(1), no copy, never during a forward pass). The swapped-out buffer
becomes a spare. A tensor whose chain is the identity gets its original storage back, so a
restore is bitwise exact.
"""

from __future__ import annotations

import threading
from collections import deque

import torch

from performer.bending.blend import BlendSources, shared_sources
from performer.bending.chain import Slot
from performer.bending.masks import MaskBank, threshold
from performer.bending.randomness import DrawCache, generator
from performer.bending.transforms import get_transform
from performer.model.tensors import TensorInfo, bendable_tensors


class TensorContext:
    """What transforms may know about one tensor; random draws come from the shared cache."""

    def __init__(self, info: TensorInfo, original: torch.Tensor, cache: DrawCache,
                 sources: BlendSources | None = None):
        self.info = info
        self.name = info.name
        self.unit = info.std if info.std > 0 else (info.rms if info.rms > 0 else 1.0)
        self.max_abs = max(abs(info.min), abs(info.max))
        self.channel_axis = info.channel_axis
        self._shape = tuple(original.shape)
        self._dtype = original.dtype
        self._cache = cache
        self._sources = sources if sources is not None else shared_sources()
        self._original = original

    def partner(self, source: str) -> torch.Tensor | None:
        return self._sources.partner(source, self.name, self._original)

    def gaussian(self, seed: int) -> torch.Tensor:
        return self._cache.get(("gaussian", self.name, seed), lambda: torch.randn(
            self._shape, generator=generator(self.name, seed, "gaussian"), dtype=self._dtype))

    def uniform(self, seed: int) -> torch.Tensor:
        return self._cache.get(("uniform", self.name, seed), lambda: torch.rand(
            self._shape, generator=generator(self.name, seed, "uniform"), dtype=self._dtype))

    def permutation(self, seed: int) -> torch.Tensor:
        n = self.info.size
        return self._cache.get(("permutation", self.name, seed), lambda: torch.randperm(
            n, generator=generator(self.name, seed, "permutation")))

    def alternating(self) -> torch.Tensor:
        if not self._shape:  # a scalar has no taps: keep it as it is, and keep its shape
            return torch.ones((), dtype=self._dtype)
        taps = self._shape[-1]
        return self._cache.get(("alternating", self.name), lambda: (
            1.0 - 2.0 * (torch.arange(taps) % 2)).to(self._dtype))


class TensorBank:
    """Originals, spare buffers, pending results and the install step for one model."""

    def __init__(self, module: torch.jit.ScriptModule, infos: list[TensorInfo], cache_bytes: int = 1 << 30,
                 sources: BlendSources | None = None):
        live = {name: tensor for name, tensor, _ in bendable_tensors(module)}
        self.infos = infos
        self.cache = DrawCache(cache_bytes)
        self.masks = MaskBank(self.cache)
        self._live = [live[info.name] for info in infos]
        # detach() shares storage: the original stays intact when the live tensor is re-pointed.
        self._originals = [t.detach() for t in self._live]
        self._installed = list(self._originals)
        self.sources = sources if sources is not None else shared_sources()  # blend partners, held once
        self._contexts = [TensorContext(info, orig, self.cache, self.sources)
                          for info, orig in zip(infos, self._originals)]
        self._spares: list[deque[torch.Tensor]] = [deque() for _ in infos]
        self._scratch: dict[tuple, list[torch.Tensor]] = {}
        self._pending: dict[int, torch.Tensor] = {}
        self._pending_lock = threading.Lock()
        self._gesture_pending = False

    # -- computing (bend worker or offline thread; one at a time) ---------------------------
    def original(self, index: int) -> torch.Tensor:
        return self._originals[index]

    def installed(self, index: int) -> torch.Tensor:
        return self._installed[index]

    def compute(self, index: int, chain: list[Slot]) -> torch.Tensor:
        """The bent tensor for ``chain`` (the original itself when the chain does nothing)."""
        info, ctx, src = self.infos[index], self._contexts[index], self._originals[index]
        steps = []
        for slot in chain:
            if slot.is_identity():
                continue
            mask = None
            if slot.percent < 1.0:
                if threshold(slot.percent, self.masks.levels(info.shape, slot.mode, info.channel_axis)) == 0:
                    continue
                mask = self.masks.mask(info.name, info.shape, slot.mode, slot.seed, info.channel_axis,
                                       slot.percent, src.dtype)
            steps.append((slot, mask))
        if not steps:
            return src
        result = self._take_spare(index)
        scratch = self._scratch_pair(src)
        with torch.no_grad():
            for i, (slot, mask) in enumerate(steps):
                dst = result if i == len(steps) - 1 else scratch[i % 2]
                get_transform(slot.transform).apply(src, dst, slot.current_params(), ctx, slot.seed)
                if slot.amount != 1.0:
                    torch.lerp(src, dst, slot.amount, out=dst)
                if mask is not None:  # 0/1 weights: unaffected elements get src back exactly
                    torch.lerp(src, dst, mask, out=dst)
                src = dst
        return result

    def _take_spare(self, index: int) -> torch.Tensor:
        try:
            return self._spares[index].pop()
        except IndexError:
            return torch.zeros_like(self._originals[index])  # zeros: pages touched now, not later

    def _scratch_pair(self, like: torch.Tensor) -> list[torch.Tensor]:
        key = (tuple(like.shape), like.dtype)
        pair = self._scratch.get(key)
        if pair is None:
            pair = self._scratch[key] = [torch.zeros_like(like), torch.zeros_like(like)]
        return pair

    def prepare(self, index: int) -> None:
        """Allocate the spare buffers of a tensor ahead of its first bend."""
        while len(self._spares[index]) < 2:
            self._spares[index].append(torch.zeros_like(self._originals[index]))

    # -- handing over -----------------------------------------------------------------------
    def publish(self, results: dict[int, torch.Tensor], gesture: bool = True) -> None:
        """Queue results to be installed together at the next block boundary. ``gesture``: they
        answer a knob or a message (worth a retake), not only modulation."""
        with self._pending_lock:
            self._gesture_pending |= gesture
            for index, tensor in results.items():
                replaced = self._pending.pop(index, None)
                if replaced is not None:
                    self._recycle(index, replaced)
                self._pending[index] = tensor

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    @property
    def has_gesture_pending(self) -> bool:
        """Whether what is pending answers a gesture (modulation alone waits for the next block)."""
        return self._gesture_pending and bool(self._pending)

    def install_pending(self) -> int:
        """Swap every published tensor into the model. Model thread, between blocks only.

        Holds a lock only to take the pending dict (never during inference); the swap is a
        pointer change per tensor, so a whole scene lands on one block boundary.
        """
        if not self._pending:
            return 0
        with self._pending_lock:
            pending, self._pending = self._pending, {}
            self._gesture_pending = False
        with torch.no_grad():
            for index, tensor in pending.items():
                previous = self._installed[index]
                self._live[index].set_(tensor)
                self._installed[index] = tensor
                if previous is not tensor:
                    self._recycle(index, previous)
        return len(pending)

    def _recycle(self, index: int, tensor: torch.Tensor) -> None:
        if tensor is not self._originals[index]:
            self._spares[index].append(tensor)
