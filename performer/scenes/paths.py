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


def default_autosave_path() -> Path:
    """The file the live state is autosaved to when none is given."""
    return default_data_dir() / "live-state.json"
