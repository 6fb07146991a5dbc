"""Hot swap on the model thread (live/swap.py): two real models' pipelines, lined up and crossfaded.

With ``mix`` at 0 each model's output is its input delayed by that model's own delay (the dry
path is delayed to match the model), so a swap that lines the two up sample for sample gives the
input delayed by one constant amount through the whole crossfade, only scaled by cos + sin.
"""

import numpy as np
import pytest

from performer.audio.delay import model_delay
from performer.audio.engine import BlockEngine
from performer.live.pipeline import LivePipeline
from performer.live.swap import Crossfade, pad_for
from performer.model import load_model
from performer.rig import Rig

RATE = 44100
CHUNK = 256  # a device period


def pipeline(rig, model):
    bank = rig.prepare_model(model)
    engine = BlockEngine(rig, block_size=2048, compute_bends=False, model=model, bank=bank,
                         dry_delay=model_delay(model, 2048))
    return LivePipeline(engine, RATE, 1, 1)


def run(source, first, second, swap_at, fade):
    """Play ``first``, swap to ``second`` at chunk ``swap_at``; the output stream and the pad."""
    out, current, pad = [], first, None
    for i, start in enumerate(range(0, source.shape[0] - CHUNK + 1, CHUNK)):
        if i == swap_at:
            pad, grew = pad_for(first, second, window=0, budget=1 << 20)
            second.pad = pad
            current = Crossfade(first, second, pad, fade)
        out.append(current.process(source[start:start + CHUNK]))
        if isinstance(current, Crossfade) and current.done:
            current = second
    return np.concatenate(out)[:, 0], grew


@pytest.fixture(scope="module")
def models(small_model_path):
    return load_model(None), load_model(small_model_path)


@pytest.fixture
def source():
    """Noise: its lag is unambiguous (a tone's repeats every period)."""
    return (0.1 * np.random.default_rng(3).standard_normal((RATE * 2, 1))).astype(np.float32)


def lag(out, source, span, search=3000):
    """The delay (samples) at which ``out[span]`` matches ``source`` best."""
    window = out[span]
    n = np.arange(span.start, span.stop)
    errors = np.array([np.mean(np.abs(window - source[n - k, 0])) for k in range(search)])
    best = int(np.argmin(errors))
    # a clear match: a sample off is far worse (the safety stage's DC filter keeps it from 0)
    return best, float(errors[best] / min(errors[best - 1], errors[best + 1]))


def test_a_shorter_model_is_padded_so_the_crossfade_lines_up_sample_for_sample(models, source):
    studio, small = models  # the small RAVE export's delay is the longer one
    rig = Rig(small)
    rig.set("mix", 0.0)
    outgoing, incoming = pipeline(rig, small), pipeline(rig, studio)
    out, grew = run(source, outgoing, incoming, swap_at=40, fade=4410)
    assert grew == 0  # the latency held
    fade_start = 40 * CHUNK - round(outgoing.pending_device_frames) + round(incoming.signal_delay)
    before, error_before = lag(out, source, slice(30 * CHUNK, 38 * CHUNK))
    during, error_during = lag(out, source, slice(fade_start + 1000, fade_start + 3000))
    after, error_after = lag(out, source, slice(fade_start + 6000, fade_start + 8000))
    assert before == during == after == round(outgoing.signal_delay)
    # in the fade both models play the same samples: cos + sin of them (+3 dB at the middle)
    middle = slice(fade_start + 2205 - 200, fade_start + 2205 + 200)
    n = np.arange(middle.start, middle.stop)
    assert np.std(out[middle]) / np.std(source[n - before, 0]) == pytest.approx(np.sqrt(2), rel=0.05)
    assert max(error_before, error_during, error_after) < 0.5


def test_a_longer_model_moves_the_output_later_once_by_what_it_needs(models, source):
    studio, small = models
    rig = Rig(studio)
    rig.set("mix", 0.0)
    outgoing, incoming = pipeline(rig, studio), pipeline(rig, small)
    out, grew = run(source, outgoing, incoming, swap_at=40, fade=441)
    assert grew > 0
    before, _ = lag(out, source, slice(30 * CHUNK, 38 * CHUNK))
    after, error = lag(out, source, slice(60 * CHUNK, 70 * CHUNK))
    assert before == round(outgoing.signal_delay)
    assert after == round(outgoing.signal_delay + grew) and error < 0.5


def test_a_swapped_in_model_can_take_a_block_again_with_a_knob_moved_after_it_was_computed(small_model, tmp_path):
    """Retakes go on with the model swapped in: while it warms up its caches are packed and
    checked (they restore exactly), so its pipeline can compute a block again from the state it
    started from, with the bends of now; the show keeps retakes on after the swap. (When a retake
    is in time for the device is the server's business, tested on the first model in
    test_retake.py: it is the same code for every model.)"""
    import time

    import soundfile as sf
    import torch

    from performer.live.server import LiveServer, ServeOptions
    from tests.conftest import tone

    sf.write(tmp_path / "in.wav", tone(3.0, RATE)[0], RATE)
    rig = Rig(load_model(None))
    server = LiveServer(rig, ServeOptions(input_file=tmp_path / "in.wav", output_file=tmp_path / "out.wav",
                                          report=lambda message: None))
    with server:
        assert server.retakes.enabled
        bank = rig.prepare_model(small_model)
        incoming = server.prepare_swap(small_model, bank, "small", time.perf_counter())
        assert incoming.packed is not None and incoming.pipeline.keeps_retake_state
        rig.switch_model(small_model, "test")  # from here addresses mean the small model's tensors

        # the incoming pipeline, not playing yet: a block, then the same block again
        pipeline, block = incoming.pipeline, incoming.pipeline.block_device_frames
        source = tone(1.0, RATE)[0][:, None]
        for k in range(3):  # past the model's delay: sound, not its first silence
            pipeline.process(source[k * block:(k + 1) * block])
        torch.manual_seed(1)
        first = pipeline.process(source[3 * block:4 * block])
        assert pipeline.can_retake
        torch.manual_seed(1)
        same = pipeline.retake()
        np.testing.assert_array_equal(same, first)  # its state was put back exactly
        conv = max((t for t in rig.tensors if t.kind == "conv"), key=lambda t: t.size)
        rig.set(f"#{conv.index}/0/transform", "invert")
        rig.compute_pending()
        torch.manual_seed(1)
        bent = pipeline.retake()
        assert np.abs(bent - first).max() > 0.01  # the knob moved after the block is heard in it
        pipeline.keep_first()
        pipeline.reset()

        assert server.swap(incoming, 0.02).wait(10)
        server.release_outgoing()
        assert server.pipeline is pipeline and server.retakes.enabled, server.retakes.describe()
        time.sleep(0.3)
        assert server.engine.stats.model_errors == 0
