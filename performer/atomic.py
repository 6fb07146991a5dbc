"""Crash-safe file replacement: at every instant the target is either the old or the new file.

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


def write_atomic(path: str | os.PathLike, data: bytes, *, keep_prev: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically and durably; with ``keep_prev`` the version it
    replaces becomes ``<path>.prev``. On any error the target is untouched and no temporary file
    is left behind; the OSError propagates."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), 0o666 & ~_UMASK)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if keep_prev:
            _keep_previous(path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


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
