"""Blend sources: the tensors of second models that the ``blend`` transform mixes in.

One ``BlendSources`` is shared by every slot, tensor and Rig of a process (and by exports), so a
source model's tensors are held once in memory however many slots blend with it. A source is
loaded on first use (on the bend worker, never the audio thread) and kept until ``forget``: only
its bendable tensors are kept, detached, and the TorchScript module is dropped. In a live show it
is read in a child process (``read_in_child``), so the model thread never waits on the read.

A tensor is a partner when the source has a tensor of the same name and shape (dtype converted
once at load). Tensors without one are left alone by ``blend`` and listed by ``pairing``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from performer.errors import PerformerError

log = logging.getLogger("performer.blend")
CHILD_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Pairing:
    """Which tensors of a model have a partner in a blend source, and why the others do not."""

    source: str
    matched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # no tensor of that name in the source
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)  # (name, ours, theirs)

    def unpaired(self) -> list[str]:
        return self.missing + [name for name, _, _ in self.mismatched]

    def lines(self) -> list[str]:
        out = [f"{len(self.matched)} tensors have a partner in {self.source}"]
        out += [f"{name}: no tensor of that name in the source; left alone" for name in self.missing]
        out += [f"{name}: shape {list(a)} here, {list(b)} in the source; left alone" for name, a, b in self.mismatched]
        return out


class BlendSources:
    """Source models' tensors by file, loaded once, shared; thread-safe."""

    def __init__(self) -> None:
        self._tensors: dict[str, dict[str, torch.Tensor]] = {}
        self._sha256: dict[str, str] = {}
        self._warned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._in_child = False

    @staticmethod
    def key(source: str | os.PathLike) -> str:
        """One key per file however it is spelled (relative, ~, symlinks)."""
        return os.path.realpath(Path(source).expanduser())

    def load(self, source: str | os.PathLike) -> dict[str, torch.Tensor]:
        """The source's bendable tensors by name (loading it the first time); PerformerError if it
        cannot be loaded. Loading happens outside the lock's fast path only once per file."""
        key = self.key(source)
        tensors = self._tensors.get(key)
        if tensors is not None:
            return tensors
        with self._lock:  # one loader at a time: two slots asking at once load the file once
            if key in self._tensors:
                return self._tensors[key]
            tensors, self._sha256[key] = self._read_in_child(key) if self._in_child else self._read_here(key)
            self._tensors[key] = tensors
            log.info("blend source %s: %d tensors, %.1f MB", key, len(tensors), self.nbytes(key) / 1e6)
            return tensors

    def read_in_child(self, enabled: bool = True) -> None:
        """Read sources in a child process from now on (a live show: see blend_child.py); off,
        in this one (offline tools, where a second process only costs start-up time)."""
        self._in_child = enabled

    @staticmethod
    def _read_here(key: str) -> tuple[dict[str, torch.Tensor], str]:
        from performer.model.loader import load_model
        from performer.model.tensors import bendable_tensors

        model = load_model(key)
        return {name: t.detach() for name, t, _ in bendable_tensors(model.module)}, model.sha256

    @staticmethod
    def _read_in_child(key: str) -> tuple[dict[str, torch.Tensor], str]:
        with tempfile.TemporaryDirectory(prefix="performer-blend-") as folder:
            out = Path(folder) / "tensors.pt"
            try:
                done = subprocess.run([sys.executable, "-m", "performer.bending.blend_child", key, str(out)],
                                      capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise PerformerError(f"reading {key} took over {CHILD_TIMEOUT_S:g} s") from None
            if done.returncode != 0 or not out.exists():
                raise PerformerError(done.stderr.strip().splitlines()[-1] if done.stderr.strip()
                                     else f"reading {key} failed (exit {done.returncode})")
            return torch.load(out, weights_only=True), done.stdout.strip()

    def partner(self, source: str, name: str, like: torch.Tensor) -> torch.Tensor | None:
        """The source's tensor ``name`` if it has ``like``'s shape (in its dtype); None otherwise,
        logged once per (source, tensor). Never raises: it runs inside a bend computation."""
        try:
            tensors = self.load(source)
        except PerformerError as exc:
            self._warn(source, "", f"blend source {source!r} cannot be loaded ({exc}); tensors left alone")
            return None
        theirs = tensors.get(name)
        if theirs is None or theirs.shape != like.shape:
            why = "has no tensor of that name" if theirs is None else f"has shape {list(theirs.shape)}"
            self._warn(source, name, f"blend: {name} {list(like.shape)} left alone: {source} {why}")
            return None
        if theirs.dtype != like.dtype:  # converted once, then held in place of the original
            theirs = tensors[name] = theirs.to(like.dtype)
        return theirs

    def pairing(self, source: str | os.PathLike, tensors: dict[str, tuple]) -> Pairing:
        """Partners in ``source`` for ``tensors`` (name -> shape, in model order)."""
        theirs = self.load(source)
        pairing = Pairing(str(source))
        for name, shape in tensors.items():
            other = theirs.get(name)
            if other is None:
                pairing.missing.append(name)
            elif tuple(other.shape) != tuple(shape):
                pairing.mismatched.append((name, tuple(shape), tuple(other.shape)))
            else:
                pairing.matched.append(name)
        return pairing

    def sha256(self, source: str | os.PathLike) -> str:
        self.load(source)
        return self._sha256[self.key(source)]

    def nbytes(self, source: str | os.PathLike | None = None) -> int:
        """Memory held by one source's tensors (all sources: None)."""
        keys = [self.key(source)] if source is not None else list(self._tensors)
        return sum(t.numel() * t.element_size() for k in keys for t in self._tensors.get(k, {}).values())

    def forget(self, source: str | os.PathLike) -> None:
        """Drop a source (a re-exported file is read again on next use); slots still using it reload."""
        key = self.key(source)
        with self._lock:
            self._tensors.pop(key, None)
            self._sha256.pop(key, None)
            self._warned = {w for w in self._warned if w[0] != key}

    def _warn(self, source: str, name: str, text: str) -> None:
        marker = (self.key(source), name)
        if marker not in self._warned:
            self._warned.add(marker)
            log.warning(text)


_shared = BlendSources()


def shared_sources() -> BlendSources:
    """The process-wide sources: every Rig (and every model a hot swap loads) shares them."""
    return _shared
