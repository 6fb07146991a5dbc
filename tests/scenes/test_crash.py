"""Crash safety: a process saving scenes (or autosaving) in a tight loop is killed with SIGKILL at
random moments, several times over the same folder. Afterwards no scene may be missing or torn:
every file parses, each scene is the last version its writer reported or the one it was writing,
and load_last returns a complete state from the autosave file itself.

The random moments come from a seed printed with any failure (PERFORMER_CRASH_SEED replays one);
PERFORMER_CRASH_KILLS sets how many kills per test (a stress run: 200).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from performer.scenes import SceneStore, load_last, read_scene_file
from performer.atomic import prev_path

from tests.scenes.scene_data import version_of

REPO = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("PERFORMER_CRASH_KILLS", 8))  # more for a stress run
NAMES = ("夜", "Ébauche 2", "a:b", "plain", "🔥 fire")
# ~50 kB per scene, so a write takes long enough to be interrupted in the middle now and then.
SIZE = "tensors=40, slots=8"

SAVE_LOOP = f"""
import sys
from performer.scenes import SceneStore
from tests.scenes.scene_data import make_scene
store, version, names = SceneStore(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
while True:
    for name in names:
        store.save(make_scene(name, version, {SIZE}), overwrite=True)
        print(version, name, flush=True)  # reported only once the save has returned
    version += 1
"""

AUTOSAVE_LOOP = f"""
import sys
from performer.scenes import Autosave
from tests.scenes.scene_data import make_state
version = [int(sys.argv[2])]
autosave = Autosave(sys.argv[1], lambda: make_state(version[0], {SIZE}), delay_s=0.001)
reported = 0
while True:
    version[0] += 1
    autosave.note_change()
    if autosave.writes != reported:
        reported = autosave.writes
        print(reported, flush=True)
"""


@pytest.fixture(scope="module")
def rng():
    seed = int(os.environ.get("PERFORMER_CRASH_SEED", random.randrange(1 << 32)))
    generator = random.Random(seed)
    generator.seed_value = seed
    return generator


def run_and_kill(code: str, args: list[str], ready, rng: random.Random) -> list[str]:
    """Run ``code`` until ``ready(lines)`` says it is in its loop, wait a random moment, SIGKILL
    it; return every line it printed."""
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONIOENCODING="utf-8")
    proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, encoding="utf-8")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.rstrip("\n") for line in proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 15
    while not ready(lines):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"writer exited or stalled before its loop:\n{proc.stderr.read()}")
        time.sleep(0.002)
    time.sleep(rng.uniform(0, 0.04))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reader.join(5)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    proc.stderr.close()
    return lines


def leftovers(directory: Path) -> list[str]:
    """Temporary files a killed writer left (proof that some kills landed inside a write)."""
    return [p.name for p in directory.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


def test_killed_save_loop_leaves_every_scene_whole(tmp_path, rng):
    folder = tmp_path / "scenes"
    store = SceneStore(folder)
    version = 0
    for kill in range(KILLS):
        context = f"seed {rng.seed_value}, kill {kill}"
        lines = run_and_kill(SAVE_LOOP, [str(folder), str(version), *NAMES],
                             lambda lines: len(lines) >= len(NAMES), rng)
        reported = {}
        for line in lines:
            v, _, name = line.partition(" ")
            reported[name] = int(v)
        listing = store.list()
        assert listing.errors == [], f"{context}: {listing.errors}"
        assert sorted(listing.names) == sorted(NAMES), context
        for name in NAMES:
            on_disk = version_of(store.load(name).state)
            # the last save it reported, or the next one, complete, if the kill came after the rename
            assert on_disk in (reported[name], reported[name] + 1), f"{context}: {name} {on_disk} {reported[name]}"
            prev = prev_path(store.path_for(name))
            if prev.exists():
                assert version_of(read_scene_file(prev).state) <= on_disk, context
            version = max(version, on_disk + 1)
        stray = [p.name for p in folder.iterdir()
                 if not p.name.endswith((".json", ".json.prev")) and p.name not in leftovers(folder)]
        assert stray == [], context
    print(f"\n{KILLS} kills of the save loop ({context}); temporary files left by kills mid-write: "
          f"{len(leftovers(folder))}")


def test_killed_autosave_always_leaves_a_complete_state(tmp_path, rng):
    path = tmp_path / "live-state.json"
    version = 0
    for kill in range(KILLS):
        context = f"seed {rng.seed_value}, kill {kill}"
        run_and_kill(AUTOSAVE_LOOP, [str(path), str(version)], lambda lines: len(lines) >= 2, rng)
        live = load_last(path)
        assert live is not None, context
        assert live.path == path, f"{context}: the autosave itself must be whole, not only its .prev"
        saved = version_of(live.state)
        assert saved > version, f"{context}: no progress ({saved} after starting at {version})"
        previous = load_last(prev_path(path))
        assert previous is not None and version_of(previous.state) <= saved, context
        version = saved
    print(f"\n{KILLS} kills of the autosave loop ({context}); last version {version}; "
          f"temporary files left by kills mid-write: {len(leftovers(tmp_path))}")
