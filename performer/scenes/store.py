"""The scene store: one JSON file per scene in a folder (default: the user's data directory).

Files are named after their scenes (names.py) and written atomically (atomic.py); each save
keeps the version it replaces as ``<file>.prev``. ``delete`` moves the file to
``<file>.deleted`` (replacing an older deleted copy of that name): rename it back to ``.json`` to
undo. Two names that differ only in case ("Drop", "drop") are refused, whatever the local
filesystem: scene folders travel (USB sticks, sync, macOS/Windows laptops) to filesystems where
they would be one file. A file that cannot be read never hides the others: ``list`` and
``load_all`` return what they could read plus one SceneError per bad file.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from performer.atomic import fsync_dir, prev_path, remove_stale_temp, write_atomic
from performer.scenes.errors import SceneError
from performer.scenes.names import SUFFIX, case_key, file_name, name_from_stem, validate_name
from performer.scenes.paths import default_scenes_dir
from performer.scenes.scene import Scene, parse_json

DELETED_SUFFIX = ".deleted"
STALE_TEMP_S = 3600.0  # temporary files older than this are orphans of a killed writer


@dataclass(frozen=True)
class SceneInfo:
    """What a listing shows of one scene."""

    name: str
    path: Path
    created: str
    modified: str
    model_file: str
    bent_tensors: int
    locks: tuple[str, ...]


@dataclass
class Listing:
    """The scenes that could be read, sorted by name, and one error per file that could not."""

    scenes: list[SceneInfo] = field(default_factory=list)
    errors: list[SceneError] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.scenes]


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def read_scene_file(path: str | os.PathLike) -> Scene:
    """A scene from any file (an export, a copy); SceneError naming the file when it is not one.
    A previous version next to it (``.prev``) is mentioned in the error."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SceneError(f"scene file not found: {path}", path) from None
    except IsADirectoryError:
        raise SceneError(f"{path} is a directory; give a scene file (.json)", path) from None
    except OSError as exc:
        raise SceneError(f"cannot read {path}: {_os_reason(exc)}", path) from None
    try:
        return Scene.from_json(data, origin=str(path))
    except SceneError as exc:
        prev = prev_path(path)
        hint = f"; its previous version is {prev}" if prev.exists() else ""
        raise SceneError(f"{exc}{hint}", path) from None


class SceneStore:
    """Scenes in ``directory`` (created on the first save). Thread-safe within a process; across
    processes every file is always complete, and the last writer of a name wins."""

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) if directory is not None else default_scenes_dir()
        self._lock = threading.RLock()
        self._swept = False

    # -- names and files ------------------------------------------------------------------------
    def path_for(self, name: str) -> Path:
        """The file of the scene called ``name`` (validates the name)."""
        return self.directory / file_name(name)

    def _files(self) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.directory)
                          if e.name.endswith(SUFFIX) and not e.name.startswith(".") and e.is_file())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SceneError(f"cannot list scene folder {self.directory}: {_os_reason(exc)}") from None

    def names(self) -> list[str]:
        """Scene names from the file names alone (no file is read), sorted."""
        names = (name_from_stem(f[: -len(SUFFIX)]) for f in self._files())
        return sorted((n for n in names if n is not None), key=lambda n: (case_key(n), n))

    def exists(self, name: str) -> bool:
        """True when the scene's file is there, spelled exactly (also on case-insensitive disks)."""
        return file_name(name) in self._files()

    def _check_case(self, name: str, ignore: str | None = None) -> None:
        for other in self.names():
            if other != name and other != ignore and case_key(other) == case_key(name):
                raise SceneError(f"scene {other!r} exists and {name!r} differs from it only in case; on macOS and "
                                 f"Windows they would be one file: choose another name or rename {other!r}")

    def _missing(self, name: str) -> SceneError:
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        return SceneError(f"no scene {name!r} in {self.directory}{hint}")

    # -- reading ----------------------------------------------------------------------------------
    def load(self, name: str) -> Scene:
        """The scene called ``name``; SceneError when missing or unreadable (naming the file)."""
        path = self.path_for(name)
        if not self.exists(name):
            raise self._missing(validate_name(name))
        scene = read_scene_file(path)
        if scene.name != validate_name(name):
            raise SceneError(f"{path} holds scene {scene.name!r}, not {name!r}; it was renamed by hand: "
                             f"import it with `performer scenes import`", path)
        return scene

    def load_all(self) -> tuple[list[Scene], list[SceneError]]:
        """Every readable scene (sorted by name) and one error per file that is not."""
        scenes, errors = [], []
        for fname in self._files():
            path = self.directory / fname
            try:
                scene = read_scene_file(path)
            except SceneError as exc:
                errors.append(exc)
                continue
            if file_name(scene.name) != fname:
                errors.append(SceneError(
                    f"{path} holds scene {scene.name!r}, whose file would be {file_name(scene.name)}: "
                    f"import it with `performer scenes import` (or rename the file)", path))
                continue
            scenes.append(scene)
        scenes.sort(key=lambda s: (case_key(s.name), s.name))
        return scenes, errors

    def list(self) -> Listing:
        """Information on every readable scene, sorted by name, plus one error per bad file."""
        scenes, errors = self.load_all()
        infos = [SceneInfo(s.name, self.path_for(s.name), s.created, s.modified, s.model.file,
                           len(s.state["tensors"]), s.locks) for s in scenes]
        return Listing(infos, errors)

    # -- writing ----------------------------------------------------------------------------------
    def _write(self, path: Path, scene: Scene) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if not self._swept:
                remove_stale_temp(self.directory, STALE_TEMP_S)
                self._swept = True
            write_atomic(path, scene.to_json())
        except OSError as exc:
            raise SceneError(f"cannot save scene {scene.name!r} to {path}: {_os_reason(exc)}", path) from None

    def save(self, scene: Scene, *, overwrite: bool = False) -> Path:
        """Write ``scene`` as its file; an existing scene of that name is replaced only with
        ``overwrite`` (its previous version kept as ``.prev``). Returns the file."""
        with self._lock:
            path = self.path_for(scene.name)
            if not overwrite and self.exists(scene.name):
                raise SceneError(f"scene {scene.name!r} already exists in {self.directory}; "
                                 f"overwrite it (--overwrite) or choose another name")
            self._check_case(scene.name)
            self._write(path, scene)
            return path

    def rename(self, old: str, new: str, *, overwrite: bool = False) -> Scene:
        """Rename a scene (its modified time becomes now); returns the renamed scene. The new file
        is complete before the old one goes, so a crash in between leaves both, never neither."""
        new = validate_name(new)
        with self._lock:
            scene = self.load(old)
            if new == scene.name:
                return scene
            if not overwrite and self.exists(new):
                raise SceneError(f"cannot rename {old!r}: scene {new!r} already exists; overwrite it or choose another")
            self._check_case(new, ignore=scene.name)
            renamed = scene.renamed(new)
            old_path, new_path = self.path_for(scene.name), self.path_for(new)
            self._write(new_path, renamed)
            # A case-only rename on a case-insensitive disk wrote the old file itself: keep it.
            if old_path.exists() and not os.path.samefile(old_path, new_path):
                for path in (old_path, prev_path(old_path)):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                fsync_dir(self.directory)
            return renamed

    def delete(self, name: str) -> Path:
        """Remove a scene; its last version is kept as ``<file>.deleted`` (returned)."""
        with self._lock:
            if not self.exists(name):
                raise self._missing(validate_name(name))
            path = self.path_for(name)
            deleted = path.with_name(path.name + DELETED_SUFFIX)
            try:
                os.replace(path, deleted)
            except OSError as exc:
                raise SceneError(f"cannot delete {path}: {_os_reason(exc)}", path) from None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(prev_path(path))
            fsync_dir(self.directory)
            return deleted

    # -- single files in and out ------------------------------------------------------------------
    def export(self, name: str, dest: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write one scene to ``dest`` (a file, or a folder to put ``<name>.json`` in)."""
        scene = self.load(name)
        dest = Path(dest)
        if dest.is_dir():
            dest = dest / file_name(scene.name)
        if not dest.parent.is_dir():
            raise SceneError(f"cannot export to {dest}: folder {dest.parent} does not exist")
        if dest.exists() and not overwrite:
            raise SceneError(f"{dest} exists; overwrite it (--overwrite) or choose another file")
        try:
            write_atomic(dest, scene.to_json(), keep_prev=False)
        except OSError as exc:
            raise SceneError(f"cannot export to {dest}: {_os_reason(exc)}", dest) from None
        return dest

    def import_file(self, src: str | os.PathLike, *, name: str | None = None, overwrite: bool = False) -> Scene:
        """Save the scene in ``src`` (an exported scene, or an autosave to recover) into the store,
        under ``name`` when given; returns the scene as saved (times kept)."""
        scene = _read_importable(Path(src))
        if name is not None:
            scene = replace(scene, name=name)
        self.save(scene, overwrite=overwrite)
        return scene


def _read_importable(path: Path) -> Scene:
    from performer.scenes.autosave import LIVE_STATE_KIND, LiveState

    try:
        data = parse_json(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return read_scene_file(path)  # it words the error
    if isinstance(data, dict) and data.get("kind") == LIVE_STATE_KIND:
        live = LiveState.from_dict(data, origin=str(path))
        return live.to_scene(f"recovered {live.time[:19].replace('T', ' ')}")
    return read_scene_file(path)

