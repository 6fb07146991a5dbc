"""Sensitivity maps cached per model identity, in the user's cache folder.

The key is the model file's sha256 (another export or a retrained model is another file, so it
gets a map of its own) and the settings; the tensor signature is checked on load. Files are
replaced atomically after each tensor, so a stopped run keeps what it measured and the next run
goes on from there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from performer.atomic import remove_stale_temp, write_atomic
from performer.sensitivity.profile import SensitivityMap
from performer.sensitivity.run import MEASURE_VERSION, Settings

log = logging.getLogger("performer.sensitivity")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/performer/sensitivity``, or ``~/.cache/performer/sensitivity``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "performer" / "sensitivity"


def model_info(model, tensors) -> dict:
    """What a map records of its model (``tensors``: the Rig's TensorInfo list)."""
    from performer.scenes.identity import model_sha256, tensor_signature

    signature, count = tensor_signature(tensors)
    return {"file": Path(str(model.path)).name, "sha256": model_sha256(model), "tensor_signature": signature,
            "tensor_count": count, "sample_rate": model.sample_rate}


def settings_key(settings: Settings) -> str:
    text = json.dumps(settings.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class MapCache:
    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder is not None else default_cache_dir()

    def path(self, info: dict, settings: Settings) -> Path:
        # an unreadable model file has no sha256: its tensor signature stands in (never shared with a file's)
        identity = info["sha256"] or "sig-" + info["tensor_signature"]
        return self.folder / f"{identity[:24]}-{settings_key(settings)}.json"

    def load(self, info: dict, settings: Settings) -> SensitivityMap | None:
        """The cached map (complete or partial) of this model and settings; None when there is
        none or it does not fit (damaged, another version, another tensor list)."""
        path = self.path(info, settings)
        try:
            data = json.loads(path.read_text())
            found = SensitivityMap.from_dict(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring the cached sensitivity map %s: %s", path, exc)
            return None
        if data.get("version") != MEASURE_VERSION or found.settings != settings or \
                found.model.get("tensor_signature") != info["tensor_signature"]:
            return None
        found.model = dict(info)
        return found

    def save(self, found: SensitivityMap) -> Path:
        path = self.path(found.model, found.settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temp(path.parent)
        data = json.dumps(found.to_json_data(), indent=None, separators=(",", ":"), allow_nan=False)
        write_atomic(path, data.encode(), keep_prev=False)
        return path
