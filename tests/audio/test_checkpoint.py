"""Saving and restoring the streaming state: a retake must equal having had its bends from that block on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import performer.model.loader as loader_module
from performer.audio.checkpoint import PackedCaches, checkpoint_rows, live_caches, pack_for_retakes, restores_exactly
from performer.audio.engine import BlockEngine
from performer.live.pipeline import LivePipeline
from performer.model import load_model
from performer.rig import Rig

pytestmark = pytest.mark.fixtures
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "default.ts"


def engine_for(model) -> BlockEngine:
    return BlockEngine(Rig(model), compute_bends=False)


def test_genuine_exports_keep_all_their_streaming_state_in_the_batch_rows_they_run(small_model, rave_export):
    assert checkpoint_rows(engine_for(small_model)) == 1
    assert checkpoint_rows(engine_for(load_model(DEFAULT_MODEL))) == 1
    # this export folds its two channels into the batch
    assert checkpoint_rows(engine_for(load_model(rave_export("v2_small_c8_stereo")))) == 2
    stereo = engine_for(load_model(rave_export("v2_small_c8_stereo")))
    assert not restores_exactly(stereo, live_caches(stereo.model, rows=1))


def test_the_check_fails_when_the_caches_are_not_restored(small_model, monkeypatch):
    monkeypatch.setattr(loader_module, "CACHE_SUFFIXES", (".no-such-buffer",))
    assert checkpoint_rows(engine_for(small_model)) is False


def test_packed_caches_sound_the_same_and_save_as_one_tensor(small_model):
    engine = engine_for(small_model)
    inputs = [b.T.copy() for b in blocks(engine, 4)]

    def run() -> np.ndarray:  # one engine throughout: TorchScript's optimised graph is the same for all runs
        engine.reset(0)
        out = []
        for i, x in enumerate(inputs):
            torch.manual_seed(i)
            out.append(engine.process_block(x))
        return np.concatenate(out, axis=1)

    whole_caches = sum(b.numel() for b in live_caches(small_model))
    plain = run()
    caches, packed = pack_for_retakes(engine)
    assert isinstance(packed, PackedCaches) and caches == packed.flats and len(caches) == 1
    assert caches[0].numel() * 32 < whole_caches  # one batch row of 64
    np.testing.assert_array_equal(run(), plain)
    packed.unpack()
    assert sum(b.numel() for b in live_caches(small_model)) == whole_caches
    np.testing.assert_array_equal(run(), plain)


def test_the_default_model_packs_its_float64_phase_apart():
    engine = engine_for(load_model(DEFAULT_MODEL))
    caches, packed = pack_for_retakes(engine)
    assert packed is not None and {c.dtype for c in caches} == {torch.float32, torch.float64}
    packed.unpack()


def blocks(engine: BlockEngine, count: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(0.3 * rng.standard_normal((engine.block_size, 1))).astype(np.float32) for _ in range(count)]


def run(rate: int, model, bend_before: int | None, retake: int | None = None, keep_first: bool = False):
    """Four blocks through a live pipeline at ``rate``, the bend (and an output gain) set before
    block ``bend_before``, or after block ``retake`` was computed, followed by a retake of it. The
    model's randomness is seeded per call, alike for a block and its retake."""
    rig = Rig(model)
    engine = BlockEngine(rig, compute_bends=True)
    engine.reset(0)
    pipeline = LivePipeline(engine, rate, 1, 1, retakes=True, caches=live_caches(model, 1))
    frames_in = [np.ascontiguousarray(np.interp(np.arange(round(engine.block_size * rate / model.sample_rate)),
                                                np.arange(engine.block_size), b[:, 0]))[:, None].astype(np.float32)
                 for b in blocks(engine, 4)]
    conv = max((t for t in rig.tensors if t.kind == "conv"), key=lambda t: t.size)
    out = []
    for i, frames in enumerate(frames_in):
        if i == bend_before:
            rig.set(f"#{conv.index}/0/transform", "invert")
            rig.set("output/gain", -6.0)
        torch.manual_seed(100 + i)
        out.append(pipeline.process(frames))
        if i == retake:
            assert pipeline.can_retake
            rig.set(f"#{conv.index}/0/transform", "invert")
            rig.set("output/gain", -6.0)
            rig.compute_pending()
            torch.manual_seed(100 + i)
            again = pipeline.retake()
            assert again.shape == out[-1].shape and not np.array_equal(again, out[-1])
            if keep_first:
                pipeline.keep_first()
            else:
                out[-1] = again
    return np.concatenate(out)


@pytest.mark.parametrize("rate", [44100, 48000])  # 48 kHz: the output resampler's state is restored too
def test_a_retake_equals_the_bend_landing_on_that_block(small_model_path, rate):
    reference = run(rate, load_model(small_model_path), bend_before=1)
    retaken = run(rate, load_model(small_model_path), bend_before=None, retake=1)
    assert reference.shape == retaken.shape
    np.testing.assert_array_equal(retaken, reference)


def test_a_dropped_retake_leaves_the_stream_as_if_the_bend_came_a_block_later(small_model_path):
    reference = run(44100, load_model(small_model_path), bend_before=2)
    dropped = run(44100, load_model(small_model_path), bend_before=None, retake=1, keep_first=True)
    np.testing.assert_array_equal(dropped, reference)
