"""Shared fixtures: genuine RAVE exports built by ../shared/tools/rave-fixtures, cached.

The exports are built once per machine into $PERFORMER_FIXTURES (default
~/.cache/performer/fixtures). Without the tool the tests that need them are skipped with the
reason; CI sets PERFORMER_REQUIRE_FIXTURES=1 so a missing tool fails instead.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.host_cpu import cpu_ticks, steal_since

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PERFORMER_SHARED", REPO.parent / "shared"))
FIXTURE_TOOL = SHARED / "tools" / "rave-fixtures"
FIXTURE_DIR = Path(os.environ.get("PERFORMER_FIXTURES", Path.home() / ".cache" / "performer" / "fixtures"))
FIXTURE_VENV = Path(os.environ.get("RAVE_FIXTURES_VENV", Path.home() / ".cache" / "rave-fixtures-venv"))

PRESETS = ("v2_small_c8", "v2_c16", "raspberry")
# Exports beyond the presets: other architectures, non-streaming, stereo, nn-tilde 1.5.
CUSTOM = {
    "v1_c8": ["--config", "v1.gin", "--bind", "CAPACITY=8", "--streaming"],
    "discrete_c8": ["--config", "discrete.gin", "--bind", "CAPACITY=8", "--streaming"],
    "v2_small_c8_nonstream": ["--config", "v2_small.gin", "--bind", "CAPACITY=8"],
    "v2_small_c8_stereo": ["--config", "v2_small.gin", "--bind", "CAPACITY=8", "--streaming", "--channels", "2"],
    "v2_small_c8_nt15": ["--config", "v2_small.gin", "--bind", "CAPACITY=8", "--streaming"],
}
ALL_EXPORTS = PRESETS + tuple(CUSTOM)
# Second "trainings": an architecture of ALL_EXPORTS with other weights (blend tests).
PARTNERS = {
    "v2_small_c8_seed1": ["--config", "v2_small.gin", "--bind", "CAPACITY=8", "--streaming", "--seed", "1"],
}
NN_TILDE_15 = "nn-tilde==1.5.6"


def _unavailable(reason: str):
    if os.environ.get("PERFORMER_REQUIRE_FIXTURES"):
        pytest.fail(reason)
    pytest.skip(reason)


def _build(name: str) -> Path:
    out = FIXTURE_DIR / f"{name}.ts"
    if out.exists() and out.stat().st_size > 0:
        return out
    if not FIXTURE_TOOL.exists():
        _unavailable(f"genuine RAVE exports need {FIXTURE_TOOL} (check out shared/ beside this repository)")
    FIXTURE_DIR.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers (and other test runs) may want the same export at once: one builds it
    # (and the fixture tool's venv), the others wait and find it built.
    with open(FIXTURE_DIR / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if out.exists() and out.stat().st_size > 0:
            return out
        return _build_locked(name, out)


def _build_locked(name: str, out: Path) -> Path:
    env = dict(os.environ)
    if name in PRESETS:
        cmd = [str(FIXTURE_TOOL), str(FIXTURE_DIR), name]
    else:
        if name.endswith("_nt15"):  # nn-tilde 1.5 exports: no get_sample_rate(), only `sr`
            base = FIXTURE_DIR / f"{PRESETS[0]}.ts"
            if not (base.exists() and base.stat().st_size > 0):  # makes sure the fixture venv exists
                _build_locked(PRESETS[0], base)  # (the lock is held: _build would wait on itself)
            target = FIXTURE_DIR / "nn_tilde_15"
            if not (target / "nn_tilde").exists():
                subprocess.run([str(FIXTURE_VENV / "bin" / "pip"), "install", "-q", "--no-deps", "--target",
                                str(target), NN_TILDE_15], check=True, capture_output=True)
            env["PYTHONPATH"] = str(target)
        cmd = [str(FIXTURE_TOOL), "--custom", str(out), "--", *{**CUSTOM, **PARTNERS}[name]]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0 or not out.exists():
        pytest.fail(f"building fixture {name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return out


@pytest.fixture(scope="session")
def rave_export():
    """rave_export(name) -> path of a genuine export (built and cached on first use)."""
    return _build


@pytest.fixture(scope="session")
def small_model_path(rave_export) -> Path:
    return rave_export("v2_small_c8")


@pytest.fixture
def small_model(small_model_path):
    """A fresh load per test: bends and caches never leak between tests."""
    from performer.model import load_model

    return load_model(small_model_path)


@pytest.fixture
def models_folder(tmp_path, small_model_path):
    """A folder for `--models`: the small export again (a link: the same file) and a file that is
    no model."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "small.ts").symlink_to(small_model_path)
    (models / "broken.ts").write_bytes(b"not a TorchScript archive")
    return models


def tone(seconds: float = 1.0, rate: int = 44100, freq: float = 220.0, channels: int = 1) -> np.ndarray:
    """A test signal: a gliding tone with a swell, float32 [channels, frames]."""
    t = np.arange(int(seconds * rate)) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t * (1 + 0.05 * np.sin(2 * np.pi * 1.5 * t))) * np.minimum(1.0, 4 * t)
    return np.repeat(x[None].astype(np.float32), channels, axis=0)


@pytest.fixture(scope="session")
def jack_server():
    """A JACK dummy server at the fixtures' rate (44.1 kHz, period 256) for the whole session;
    this process's JACK clients (and the device processes it starts) use it."""
    from tests.jack_server import JackServer

    missing = JackServer.available()
    if missing:
        _unavailable(f"real JACK streams: {missing}")
    server = JackServer(rate=44100, period=256).start()
    saved = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    yield server
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True, scope="session")
def _private_user_dirs(tmp_path_factory):
    """Scenes, autosaves, bending logs and learned mappings of test runs never touch the user's."""
    base = tmp_path_factory.mktemp("user")
    saved = {k: os.environ.get(k) for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    os.environ["XDG_DATA_HOME"] = str(base / "data")
    os.environ["XDG_CONFIG_HOME"] = str(base / "config")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def pytest_configure(config):
    """One torch thread per test process. Its intra-op threads spin while they wait, so with more
    runnable threads than cores (xdist workers, JACK servers, a training run beside the tests) a
    0.3 s render of the small model took 6 to 27 s on a 2-core host; the live server's own
    processes set their threads themselves; the CLI's (render, layers, export) take one from here."""
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


REALTIME_RERUNS = 2
_STEAL_FROM = pytest.StashKey[tuple[int, int]]()


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``-n``, in pyproject's addopts) the realtime tests (marked ``jack`` or
    ``timing``, and the live engine's in tests/live) form one group, run one at a time on one
    worker: each worker has its own JACK server (names are unique per process), but two tests
    measuring late blocks or retake deadlines at once would each count the other's load as the
    machine's. They meet deadlines of a few ms, which a VM's host can take away (it stole 15-40 %
    of the CPU in some runs): a failed one runs again, up to REALTIME_RERUNS times, and its report
    says how much CPU the host took meanwhile."""
    for item in items:
        if item.get_closest_marker("jack") or item.get_closest_marker("timing") or item.path.parent.name == "live":
            item.add_marker(pytest.mark.xdist_group("realtime"))
            item.add_marker(pytest.mark.flaky(reruns=REALTIME_RERUNS, reruns_delay=1))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed realtime test's report names the CPU the host stole while it ran."""
    if call.when == "setup":
        item.stash[_STEAL_FROM] = cpu_ticks()
    report = yield
    if report.failed and call.when == "call" and item.get_closest_marker("flaky") and _STEAL_FROM in item.stash:
        stolen = steal_since(item.stash[_STEAL_FROM])
        if stolen is not None:
            report.sections.append(("host", f"the host stole {stolen:.1%} of the CPU during this test (/proc/stat)"))
    return report
