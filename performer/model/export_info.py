"""What Performer records inside a model file it exported (``performer export``).

The record is a JSON extra file in the TorchScript archive (``<archive>/extra/performer.json``):
``torch.jit.load`` and nn~ ignore it. Read straight from the zip, so no model load is needed.
"""

from __future__ import annotations

import json
import os
import zipfile

EXPORT_INFO_FILE = "performer.json"


def read_export_info(path: str | os.PathLike | None) -> dict | None:
    """The record of an exported file; None for a file Performer did not export (or unreadable)."""
    if path is None:
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name == f"extra/{EXPORT_INFO_FILE}" or name.endswith(f"/extra/{EXPORT_INFO_FILE}"):
                    info = json.loads(archive.read(name))
                    return info if isinstance(info, dict) else None
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    return None


def recorded_delay(path: str | os.PathLike | None, block_size: int) -> int | None:
    """The delay the unbent original measured at ``block_size``, if the export recorded it: bends
    do not change a model's structural delay, but can fool its measurement (a silenced layer)."""
    delays = (read_export_info(path) or {}).get("delays", {})
    value = delays.get(str(block_size)) if isinstance(delays, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
