"""Random draws made once per (tensor, seed, purpose) and reused: never fresh RNG per knob move.

Drawing 4.7 M gaussians costs ~16 ms; a knob move must cost one elementwise pass. Draws are
kept in a byte-bounded LRU so a big model cannot exhaust memory.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Callable

import torch


def derived_seed(*parts: object) -> int:
    """A stable 63-bit seed from any parts (Python's hash() is salted per process)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def generator(*parts: object) -> torch.Generator:
    return torch.Generator().manual_seed(derived_seed(*parts))


class DrawCache:
    """Byte-bounded LRU of tensors drawn once per key."""

    def __init__(self, max_bytes: int = 1 << 30):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple, draw: Callable[[], torch.Tensor]) -> torch.Tensor:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        tensor = draw()
        size = tensor.numel() * tensor.element_size()
        with self._lock:
            self._items[key] = tensor
            self._bytes += size
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.numel() * old.element_size()
        return tensor

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes
