import numpy as np
import pytest

from performer.audio.delay import DelayLine, measure_model_delay, model_delay
from performer.model import load_model
from performer.render import render_array
from performer.rig import Rig
from tests.conftest import tone


def test_delay_line_is_exact_over_any_block_sizes():
    line = DelayLine(1, 5)
    x = np.arange(1, 40, dtype=np.float32)[None]
    out = np.concatenate([line.process(x[:, a:b]) for a, b in ((0, 3), (3, 4), (4, 20), (20, 39))], axis=1)
    assert np.array_equal(out[0, 5:], x[0, :-5]) and not out[0, :5].any()


@pytest.mark.fixtures
def test_streaming_model_delay_is_measured_and_non_streaming_is_zero(rave_export):
    streaming = load_model(rave_export("v2_small_c8"))
    assert 0 < measure_model_delay(streaming, 2048) < 2048
    assert measure_model_delay(load_model(rave_export("v2_small_c8_nonstream")), 2048) == 0


@pytest.mark.fixtures
def test_mix_zero_renders_the_input_aligned(small_model):
    """The dry path is delayed to match the model; render trims it, so dry comes out in place."""
    rig = Rig(small_model)
    rig.set("mix", 0)
    audio = tone(1.0, small_model.sample_rate)
    out, engine = render_array(rig, audio)
    assert engine.dry_delay.delay == model_delay(small_model, engine.block_size) > 0
    body = slice(4410, -4410)
    a, b = out[0, body], audio[0, body]
    errors = {lag: np.abs(np.roll(a, lag) - b).mean() for lag in range(-40, 41)}
    assert abs(min(errors, key=errors.get)) <= 2  # the DC blocker leads a 220 Hz tone by ~1.4 samples
    assert np.abs(a - b).max() < 0.05  # what is left is the 10 Hz DC blocker's phase shift


@pytest.mark.parametrize("delay", [0, 5, 100, 3000])
def test_push_advances_the_delay_like_process(delay):
    rng = np.random.default_rng(delay)
    read, pushed = DelayLine(2, delay), DelayLine(2, delay)
    for n in (64, 2048, 7, 4096, 1):
        x = rng.standard_normal((2, n)).astype(np.float32)
        read.process(x)
        pushed.push(x)
    x = rng.standard_normal((2, 300)).astype(np.float32)
    assert np.array_equal(read.process(x), pushed.process(x))
