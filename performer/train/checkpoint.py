"""Training checkpoints: everything needed to resume exactly, written atomically."""

from __future__ import annotations

import io
import re
from pathlib import Path

import torch

from performer.atomic import write_atomic
from performer.errors import TrainingError

PATTERN = re.compile(r"^step-(\d{7})\.pt$")


def checkpoint_path(run: Path, step: int) -> Path:
    return run / f"step-{step:07d}.pt"


def list_checkpoints(run: Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint in ``run``, oldest first."""
    found = []
    for path in run.glob("step-*.pt"):
        match = PATTERN.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def save_checkpoint(path: Path, state: dict) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomic(path, buffer.getvalue(), keep_prev=False)


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint; a damaged file says which one and what to do."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises several types for truncated files
        raise TrainingError(f"cannot read checkpoint {path} ({type(exc).__name__}: {exc}); delete it "
                         f"to resume from the one before") from None
