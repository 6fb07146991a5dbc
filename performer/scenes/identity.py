"""Which model a scene was made on: file hash, tensor signature, and the shapes it bends.

Two levels of sameness, because performers re-export and retrain models:
- the sha256 of the ``.ts`` file: the very same export;
- the tensor signature, a hash of the ordered (name, shape) list: an export with the same
  architecture (retrained weights, another nn~ version), on which every bend applies as it is.
The shapes of the tensors a state bends are kept too, so a scene recalled on another architecture
can apply the bends whose tensor still exists with the same shape (see compat.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

from performer.scenes.errors import SceneError

if TYPE_CHECKING:  # the store and the CLI never import torch
    from performer.model.loader import NNModel
    from performer.rig import Rig

log = logging.getLogger("performer.scenes")

_HEX = frozenset("0123456789abcdef")
_hash_lock = threading.Lock()
_by_stat: dict[tuple, str] = {}
_by_model: "weakref.WeakKeyDictionary[NNModel, str]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ModelIdentity:
    """A model as a scene remembers it. ``sha256`` is "" when the file could not be read."""

    file: str  # the export's file name, for people reading a scene
    sha256: str
    tensor_signature: str
    tensor_count: int
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # of the bent tensors only

    def to_dict(self) -> dict:
        return {"file": self.file, "sha256": self.sha256, "tensor_signature": self.tensor_signature,
                "tensor_count": self.tensor_count, "shapes": {n: list(s) for n, s in self.shapes.items()}}

    @classmethod
    def from_dict(cls, data: object, where: str = "model") -> "ModelIdentity":
        """Validate and build; errors name the field (``where`` prefixes it)."""
        if not isinstance(data, dict):
            raise SceneError(f"{where} must be an object, got {type(data).__name__}")
        file = data.get("file", "")
        if not isinstance(file, str):
            raise SceneError(f"{where}.file must be text, got {file!r}")
        digests = {}
        for key in ("sha256", "tensor_signature"):
            value = data.get(key)
            if not isinstance(value, str) or (value and (len(value) != 64 or not set(value) <= _HEX)):
                raise SceneError(f"{where}.{key} must be 64 lowercase hex digits, got {value!r}")
            digests[key] = value
        count = data.get("tensor_count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise SceneError(f"{where}.tensor_count must be an integer >= 0, got {count!r}")
        shapes = data.get("shapes", {})
        if not isinstance(shapes, dict):
            raise SceneError(f"{where}.shapes must be an object of tensor name -> shape list")
        parsed = {}
        for name, shape in shapes.items():
            if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                      for d in shape):
                raise SceneError(f"{where}.shapes[{name!r}] must be a list of sizes, got {shape!r}")
            parsed[name] = tuple(shape)
        return cls(file, digests["sha256"], digests["tensor_signature"], count, parsed)

    def same_file(self, other: "ModelIdentity") -> bool:
        return bool(self.sha256) and self.sha256 == other.sha256

    def same_tensors(self, other: "ModelIdentity") -> bool:
        return self.tensor_signature == other.tensor_signature and self.tensor_count == other.tensor_count


def tensor_signature(tensors: Iterable) -> tuple[str, int]:
    """(sha256 hex, count) of the ordered (name, shape) list; takes TensorInfo or (name, shape)."""
    pairs = [[t.name, list(t.shape)] if hasattr(t, "name") else [t[0], list(t[1])] for t in tensors]
    text = json.dumps(pairs, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest(), len(pairs)


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file, computed once per (file, size, mtime) and cached: exports are large
    (tens of MB) and a scene is saved many times per session."""
    path = Path(path)
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    with _hash_lock:
        cached = _by_stat.get(key)
    if cached:
        return cached
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    with _hash_lock:
        _by_stat[key] = digest.hexdigest()
    return digest.hexdigest()


def model_sha256(model: "NNModel") -> str:
    """The sha256 of the file ``model`` was loaded from, remembered per loaded model (the file may
    be replaced or deleted while the model plays); "" when it cannot be read."""
    with _hash_lock:
        cached = _by_model.get(model)
    if cached is not None:
        return cached
    try:
        digest = file_sha256(model.path)
    except OSError as exc:
        log.warning("cannot hash model file %s (%s); scenes will match it by tensor signature only",
                    model.path, exc)
        digest = ""
    with _hash_lock:
        _by_model[model] = digest
    return digest


def model_identity(rig: "Rig", state: dict | None = None) -> ModelIdentity:
    """The identity of the rig's model, with the shapes of the tensors ``state`` bends."""
    signature, count = tensor_signature(rig.tensors)
    shapes = {}
    if state is not None:
        by_name = {t.name: t.shape for t in rig.tensors}
        shapes = {n: tuple(by_name[n]) for n in state.get("tensors", {}) if n in by_name}
    return ModelIdentity(Path(rig.model.path).name, model_sha256(rig.model), signature, count, shapes)
