"""The one error the scenes package raises: what is wrong, with which scene or file, what to do."""

from __future__ import annotations

from pathlib import Path

from performer.errors import PerformerError


class SceneError(PerformerError):
    """A scene name, file or content is invalid, missing or unreadable.

    ``path`` is the file concerned, when there is one (listings report errors per file)."""

    def __init__(self, message: str, path: Path | None = None):
        super().__init__(message)
        self.path = path
