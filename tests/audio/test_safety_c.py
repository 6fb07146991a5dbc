"""The safety stage's C block pass (performer/audio/_safety.c) against its numpy twin."""

from __future__ import annotations

import numpy as np
import pytest

import performer.audio.safety as safety_module
from performer.audio.safety import SafetyStage
from tests.conftest import _unavailable

RATE = 44100


@pytest.fixture(autouse=True)
def built():
    if safety_module._safety is None:
        _unavailable("the safety stage's C pass was not built: install a C compiler and the Python headers "
                     "(apt install gcc python3-dev), then pip install -e . again")


def test_c_and_numpy_give_identical_samples_and_guards():
    """The C pass mirrors the numpy one step for step: quiet, limited, released and guarded
    blocks, mono and stereo, every block length the engine uses."""
    rng = np.random.default_rng(11)
    levels = [0.1, 0.5, 3.0, 0.2, 0.05, 0.8, *[0.05] * 60, 0.1, np.nan, 0.3, 2e3, np.inf, 0.2,
              *rng.uniform(0.0, 2.0, 40)]
    for channels in (1, 2):
        for n in (32, 512, 2048, 4096):
            c = SafetyStage(channels, RATE, native=True)
            py = SafetyStage(channels, RATE, native=False)
            assert c.native and not py.native
            for level in levels:
                block = (rng.standard_normal((channels, n)) * (level if np.isfinite(level) else 0.3))
                block = block.astype(np.float32)
                if not np.isfinite(level):
                    block[-1, n // 2] = level
                (a, guard_a), (b, guard_b) = c.process(block), py.process(block)
                assert guard_a == guard_b
                assert np.array_equal(a, b), (channels, n, level, np.abs(a - b).max())
            assert c.guard_events == py.guard_events == 3  # NaN, 2e3, inf


def test_float64_and_strided_input_are_converted_not_misread():
    block = (0.2 * np.random.default_rng(2).standard_normal((2, 4096))).astype(np.float64)
    strided = block[:, ::2]  # 2048 samples, not contiguous
    c, py = SafetyStage(2, RATE, native=True), SafetyStage(2, RATE, native=False)
    for x in (block[:, :2048], strided):
        assert np.array_equal(c.process(x)[0], py.process(x)[0])


def test_the_c_call_refuses_mismatched_buffers():
    stage = SafetyStage(2, RATE, native=True)
    x = np.zeros((2, 64), dtype=np.float32)
    with pytest.raises(ValueError, match="mismatched"):
        safety_module._safety.block(x, np.zeros((2, 32), np.float32), np.zeros((2, 64), np.float32),
                                    stage._dc_state, stage._delay, stage._params)
    with pytest.raises(TypeError, match="float32"):
        safety_module._safety.block(x.astype(np.float64), np.zeros((2, 64), np.float32),
                                    np.zeros((2, 64), np.float32), stage._dc_state, stage._delay, stage._params)
    with pytest.raises(TypeError, match="6 arguments"):
        safety_module._safety.block(x)
