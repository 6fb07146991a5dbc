"""Where scenes and the autosave live by default: the user's data directory (XDG)."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/performer``, or ``~/.local/share/performer``.

    A relative XDG_DATA_HOME is ignored, as the XDG spec asks."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "performer"


def default_scenes_dir() -> Path:
    """The folder the scene store uses when none is given."""
    return default_data_dir() / "scenes"


def default_autosave_dir() -> Path:
    """The folder of autosaved live states, one file per model (see autosave.autosave_path)."""
    return default_data_dir() / "live-state"


def default_autosave_path() -> Path:
    """The single autosave file of earlier versions (every model's state in one file): read once
    to carry a session over when its model is the one starting, never written."""
    return default_data_dir() / "live-state.json"
