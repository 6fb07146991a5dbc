"""Crash-safe file replacement: at every instant the target is either the old or the new file.

The one atomic writer: scenes, autosaves, mappings, exports, checkpoints, audio files and
dashboard uploads all write through it.

The new content goes to a temporary file in the target's directory (same filesystem, so the
rename is atomic), is fsynced, then renamed over the target; the directory is fsynced so the
rename itself survives a power cut. Before the rename, the old version is hard-linked to
``<file>.prev``: the target never disappears, and a file damaged by something outside our control
(a disk error, a hand edit) still has a complete predecessor to fall back to.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Iterator

TMP_SUFFIX = ".tmp"
PREV_SUFFIX = ".prev"
# mkstemp makes 0600 files; a scene or export should get the usual mode (0644 under umask 022).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def prev_path(path: Path) -> Path:
    """Where the version before the last write of ``path`` is kept."""
    return path.with_name(path.name + PREV_SUFFIX)


def fsync_dir(directory: Path) -> None:
    """Make renames in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temp_name(path: Path) -> str:
    # Starts with "." so listings skip it; ends in .tmp so remove_stale_temp can sweep orphans.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    return tmp


def _keep_previous(path: Path) -> None:
    prev = prev_path(path)
    tmp = _temp_name(path)
    try:
        os.unlink(tmp)  # os.link wants a free name
        try:
            os.link(path, tmp)
        except FileNotFoundError:
            return  # nothing to keep (first write, or a concurrent delete)
        except OSError:  # filesystems without hard links (FAT, some shares): copy instead
            try:
                shutil.copyfile(path, tmp)
            except FileNotFoundError:
                return
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, prev)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


class AtomicWriter:
    """A temporary file beside its target, renamed over the target in one step once complete.

    For writers that stream (audio files, uploads) or that pick the final name only once the
    content is checked (``commit(target)``). Use it as a context manager: leaving without a
    commit, or on an error, removes the temporary file."""

    def __init__(self, directory: str | os.PathLike, name: str) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=TMP_SUFFIX, dir=directory)
        self.path = Path(tmp)  # readable while writing (e.g. to check an upload is audio)
        self.file = os.fdopen(fd, "wb")
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~_UMASK)
        self.committed = False

    def commit(self, target: str | os.PathLike, *, keep_prev: bool = False) -> None:
        """Make the content durable and rename it over ``target`` (in the same directory); with
        ``keep_prev`` the version it replaces becomes ``<target>.prev``."""
        target = Path(target)
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        if keep_prev:
            _keep_previous(target)
        os.replace(self.path, target)
        self.committed = True
        fsync_dir(target.parent)

    def discard(self) -> None:
        self.file.close()
        if not self.committed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def __enter__(self) -> "AtomicWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.discard()


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, *, keep_prev: bool = False) -> Iterator[BinaryIO]:
    """``with atomic_file(path) as f:`` write to ``f``; ``path`` is replaced when the block ends
    without an error, and untouched (no temporary file left) when it raises."""
    path = Path(path)
    with AtomicWriter(path.parent, path.name) as writer:
        yield writer.file
        writer.commit(path, keep_prev=keep_prev)


def write_atomic(path: str | os.PathLike, data: bytes, *, keep_prev: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically and durably; with ``keep_prev`` the version it
    replaces becomes ``<path>.prev``. On any error the target is untouched and no temporary file
    is left behind; the OSError propagates."""
    with atomic_file(path, keep_prev=keep_prev) as f:
        f.write(data)


def remove_stale_temp(directory: str | os.PathLike, older_than_s: float = 3600.0) -> int:
    """Delete temporary files orphaned by a killed writer (older than ``older_than_s``, so a
    write in progress in another process is never touched). Returns how many."""
    removed = 0
    cutoff = time.time() - older_than_s
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(directory):
            if entry.name.startswith(".") and entry.name.endswith(TMP_SUFFIX) and entry.is_file():
                with contextlib.suppress(FileNotFoundError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
    return removed
