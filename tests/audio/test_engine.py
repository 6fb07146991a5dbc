"""The block engine: chunk-size independence, bends at block boundaries, faults contained."""

import numpy as np
import pytest
import torch

from performer.audio.delay import model_delay
from performer.audio.engine import BlockEngine, ChunkAdapter, default_block_size
from performer.model import load_model
from performer.render import render_array
from performer.rig import Rig
from tests.conftest import tone


def test_default_block_size_is_a_multiple_of_the_ratio():
    assert default_block_size(512) == 2048
    assert default_block_size(128) == 128  # a model built for small blocks runs at its ratio
    assert default_block_size(256) == 256 and default_block_size(257) == 2056
    assert default_block_size(2048) == 2048
    assert default_block_size(3000) == 3000
    assert default_block_size(1024, 100) == 1024


@pytest.mark.fixtures
@pytest.mark.parametrize("name", ["v2_small_c8", "raspberry", "v2_small_c8_stereo"])
def test_render_equals_processing_in_odd_sized_chunks(rave_export, name):
    model = load_model(rave_export(name))
    audio = tone(1.0, model.sample_rate, channels=model.in_channels)
    rig = Rig(model)
    rig.set("#4/0/transform", "scale")
    rig.set("#4/0/factor", 1.7)
    rendered, _ = render_array(rig, audio, seed=3)

    delay = model_delay(model, BlockEngine(rig).block_size)
    engine = BlockEngine(rig, dry_delay=delay)
    engine.reset(3)
    adapter = ChunkAdapter(engine)
    latency = adapter.latency + delay
    sizes = [1, 7, 333, 1000, 4097, 129, 2048, 5]
    padded = np.concatenate([audio, np.zeros((audio.shape[0], latency), np.float32)], axis=1)
    pieces, start, i = [], 0, 0
    while start < padded.shape[1]:
        size = sizes[i % len(sizes)]
        pieces.append(adapter.process(padded[:, start:start + size]))
        start, i = start + size, i + 1
    chunked = np.concatenate(pieces, axis=1)[:, latency:latency + audio.shape[1]]
    assert rendered.shape == chunked.shape == (model.out_channels, audio.shape[1])
    assert np.array_equal(rendered, chunked)


@pytest.mark.fixtures
def test_same_seed_renders_are_bitwise_equal_and_seeds_differ(small_model):
    rig = Rig(small_model)
    audio = tone(0.5, small_model.sample_rate)
    a, _ = render_array(rig, audio, seed=1)
    b, _ = render_array(rig, audio, seed=1)
    c, _ = render_array(rig, audio, seed=2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.fixtures
def test_bend_lands_exactly_at_a_block_boundary(small_model):
    audio = tone(1.0, small_model.sample_rate)
    rig = Rig(small_model)
    engine = BlockEngine(rig)
    n = engine.block_size
    blocks = [audio[:, i:i + n] for i in range(0, audio.shape[1] - n + 1, n)]

    engine.reset(0)
    plain = [engine.process_block(b) for b in blocks]
    engine.reset(0)
    bent = []
    for i, b in enumerate(blocks):
        if i == 5:
            rig.set("decoder.net.2.weight/0/transform", "invert")
        bent.append(engine.process_block(b))
    assert all(np.array_equal(p, q) for p, q in zip(plain[:5], bent[:5]))
    assert not np.array_equal(plain[5], bent[5])
    assert engine.stats.tensors_installed == 1


@pytest.mark.fixtures
def test_latent_bend_runs_encode_bend_decode(small_model):
    rig = Rig(small_model)
    audio = tone(0.5, small_model.sample_rate)
    plain, _ = render_array(rig, audio, seed=0)
    rig.set("latent/0/offset", 3.0)
    bent, _ = render_array(rig, audio, seed=0)
    assert not np.array_equal(plain, bent)
    rig.set("latent/0/offset", 0.0)
    again, _ = render_array(rig, audio, seed=0)
    assert np.array_equal(plain, again)


@pytest.mark.fixtures
def test_mix_zero_passes_the_dry_signal(small_model):
    rig = Rig(small_model)
    rig.set("mix", 0.0)
    audio = tone(0.5, small_model.sample_rate) * 0.2
    out, engine = render_array(rig, audio, seed=0)
    # the DC blocker at 10 Hz barely touches a 220 Hz tone
    settled = slice(4096, audio.shape[1])
    assert np.max(np.abs(out[:, settled] - audio[:, settled])) < 0.01


@pytest.mark.fixtures
def test_output_never_exceeds_the_ceiling_even_when_bent_hard(small_model):
    rig = Rig(small_model)
    for i in range(0, len(rig.tensors), 3):
        rig.set(f"#{i}/0/transform", "scale")
        rig.set(f"#{i}/0/factor", 8)
    out, _ = render_array(rig, tone(0.5, small_model.sample_rate), seed=0)
    assert np.isfinite(out).all()
    assert np.abs(out).max() <= 10 ** (-1 / 20) + 1e-6


@pytest.mark.fixtures
def test_block_size_must_be_a_multiple_of_the_ratio(small_model):
    with pytest.raises(ValueError, match="multiple of the model's ratio 512.*try 1024"):
        BlockEngine(Rig(small_model), block_size=700)


class Faulty(torch.nn.Module):
    """An nn~-shaped model that fails or returns NaN on cue (input level), to test containment."""

    def __init__(self):
        super().__init__()
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))
        self.register_buffer("state", torch.zeros(1))
        self.weight = torch.nn.Parameter(torch.ones(1))
        self.sr = 44100

    @torch.jit.export
    def get_methods(self):
        return ["forward"]

    def forward(self, x):
        peak = x.abs().max()
        if peak > 0.85:
            raise RuntimeError("boom")
        if peak > 0.75:
            return x * float("nan")
        return x * self.weight


@pytest.fixture
def faulty_model(tmp_path):
    path = tmp_path / "faulty.ts"
    torch.jit.script(Faulty()).save(str(path))
    return load_model(path)


def test_model_exception_silences_one_block_and_the_show_goes_on(faulty_model):
    engine = BlockEngine(Rig(faulty_model), block_size=2048)
    quiet = np.full((1, 2048), 0.1, np.float32) * np.sin(np.arange(2048) / 10, dtype=np.float32)
    loud = quiet / 0.1 * 0.9
    engine.process_block(quiet)
    out = engine.process_block(loud)
    assert engine.stats.model_errors == 1 and "boom" in engine.stats.last_error
    assert np.isfinite(out).all()
    after = [engine.process_block(quiet) for _ in range(3)]
    assert np.abs(after[-1]).max() > 0.05  # sound is back


def test_nan_output_is_muted_counted_and_caches_reset(faulty_model, monkeypatch):
    engine = BlockEngine(Rig(faulty_model), block_size=2048)
    resets = []
    monkeypatch.setattr(faulty_model, "reset_caches", lambda: resets.append(1))
    nan_cue = np.full((1, 2048), 0.8, np.float32)
    out = engine.process_block(nan_cue)
    assert engine.stats.guard_events == 1 and resets == [1]
    assert np.isfinite(out).all()
