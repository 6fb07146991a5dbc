"""Locate (or build) the genuine RAVE exports benchmarks run on."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOOL = Path(os.environ.get("PERFORMER_SHARED", REPO.parent / "shared")) / "tools" / "rave-fixtures"
CACHE = Path(os.environ.get("PERFORMER_FIXTURES", Path.home() / ".cache" / "performer" / "fixtures"))


def full_v2() -> Path:
    """A full-size RAVE v2 export (31.5 M parameters, random weights), built once and cached."""
    path = CACHE / "v2.ts"
    if not path.exists():
        if not TOOL.exists():
            raise SystemExit(f"need {TOOL} to build a full-size v2 export, or pass --model PATH")
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"building {path} with {TOOL} (about a minute the first time)...", flush=True)
        subprocess.run([str(TOOL), "--custom", str(path), "--", "--config", "v2.gin", "--streaming"], check=True,
                       stdout=subprocess.DEVNULL)
    return path
