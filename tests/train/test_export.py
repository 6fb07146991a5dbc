"""nn~ export of the default model, loaded the way Performer loads any export."""

import copy
import math

import pytest
import torch

from performer.model.loader import load_model
from performer.train.export import export_model, script_model
from performer.train.layers import set_streaming
from performer.train.model import DefaultModel, ModelConfig
from performer.train.pitch import FrameFeatures

SR = 44100
HOP = 1024
TINY = ModelConfig(encoder_channels=(8, 8, 8, 8), decoder_channels=(8, 8, 8, 8), learned_latents=2, harmonics=8)
LATENT = TINY.latent_size



def audio(frames=8, batch=1, f0=262.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(frames * HOP, dtype=torch.float64) / SR
    x = 0.3 * torch.sin(2 * math.pi * f0 * t) + 0.1 * torch.sin(2 * math.pi * 2 * f0 * t)
    return (x.float().view(1, 1, -1) + 0.02 * torch.randn(batch, 1, frames * HOP, generator=g)).contiguous()


def blocks(fn, x, frames_per_block=(1, 2, 3)):
    out, i, j = [], 0, 0
    while i < x.shape[-1]:
        n = frames_per_block[j % len(frames_per_block)] * HOP
        out.append(fn(x[..., i:i + n]))
        i, j = i + n, j + 1
    return torch.cat(out, -1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(path of the export, an eager copy of the same weights in eval mode, not streaming)."""
    torch.manual_seed(0)
    model = DefaultModel(TINY)
    # trained-looking weights: the random init is fine, but give the output gain a non-unit value
    model.decoder.output_gain.fill_(0.7)
    eager = copy.deepcopy(model).eval()
    # a model that has streamed before export: its caches are dirty
    set_streaming(model, True)
    with torch.no_grad():
        model.eval()(audio(3, seed=9))
    assert any(b.abs().sum() > 0 for n, b in model.named_buffers() if n.endswith(".cache"))
    path = export_model(model, tmp_path_factory.mktemp("export") / "sub" / "m.ts")
    return path, eager


def test_nn_tilde_interface(exported):
    path, _ = exported
    assert path.name == "m.ts" and path.exists()
    model = load_model(path)
    info = model.describe()
    assert info["methods"] == {"encode": [1, 1, LATENT, HOP], "decode": [LATENT, HOP, 1, 1],
                               "forward": [1, 1, 1, 1]}
    assert info["sample_rate"] == SR and info["streaming"] is True
    assert info["latent_size"] == LATENT and info["block_multiple"] == HOP
    assert info["in_channels"] == info["out_channels"] == 1
    module = model.module
    assert list(module.get_methods()) == ["encode", "decode", "forward"]
    assert list(module.get_attributes()) == []
    assert module.get_sample_rate() == SR and module.sr == SR
    assert module.latent_size == LATENT
    assert list(module.encode_output_labels) == ["(signal) pitch", "(signal) periodicity", "(signal) loudness",
                                                 "(signal) timbre 1", "(signal) timbre 2"]
    assert list(module.decode_input_labels) == list(module.encode_output_labels)
    assert len(module.forward_output_labels) == 1


def test_written_caches_are_zeros(exported):
    path, _ = exported
    module = torch.jit.load(str(path))
    caches = {n: b for n, b in module.named_buffers() if n.endswith(".cache")}
    assert len(caches) > 20
    assert all(b.abs().sum() == 0 for b in caches.values())
    assert all(not p.requires_grad for p in module.parameters())


def test_block_wise_file_forward_equals_eager_whole_file(exported):
    path, eager = exported
    model = load_model(path)
    x = audio(10)
    with torch.no_grad():
        reference, _ = eager(x)
        for pattern in [(1,), (2, 3, 1), (4,)]:
            model.reset_caches()
            y = blocks(lambda b: model.run("forward", b), x, pattern)
            assert y.shape == x.shape
            assert (y - reference).abs().max() < 1e-5
    assert reference.abs().max() > 1e-3


def test_encode_matches_eager_features_and_mean_and_decode_composes_to_forward(exported):
    path, eager = exported
    model = load_model(path)
    x = audio(8)
    with torch.no_grad():
        z_eager, _ = eager.encode(x)
        z = blocks(lambda b: model.run("encode", b), x)
        assert z.shape == (1, LATENT, 8)
        torch.testing.assert_close(z, z_eager, rtol=0, atol=1e-5)
        model.reset_caches()
        via_latent = blocks(lambda b: model.run("decode", model.run("encode", b)), x)
        model.reset_caches()
        forward = blocks(lambda b: model.run("forward", b), x)
    torch.testing.assert_close(via_latent, forward, rtol=0, atol=1e-6)


def test_reset_caches_makes_a_render_reproducible(exported):
    path, _ = exported
    model = load_model(path)
    x = audio(4)
    with torch.no_grad():
        first = blocks(lambda b: model.run("forward", b), x, (1,))
        continued = blocks(lambda b: model.run("forward", b), x, (1,))
        model.reset_caches()
        torch.manual_seed(123)  # no fresh randomness: the global RNG does not matter
        again = blocks(lambda b: model.run("forward", b), x, (1,))
    assert torch.equal(first, again)
    assert not torch.allclose(first, continued)  # a stream that goes on is not a fresh stream


def test_batch_of_two(exported):
    path, _ = exported
    x = torch.cat([audio(3, seed=1), audio(3, f0=150.0, seed=2)])
    singles = []
    for i in range(2):
        model = load_model(path)
        with torch.no_grad():
            singles.append(model.run("forward", x[i:i + 1]))
    model = load_model(path)
    with torch.no_grad():
        y = model.run("forward", x)
        z = model.run("encode", x)
    assert y.shape == (2, 1, 3 * HOP) and z.shape == (2, LATENT, 3)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, torch.cat(singles), rtol=0, atol=1e-5)


def test_reset_caches_after_a_batch_size_change(exported):
    path, _ = exported
    model = load_model(path)
    x = torch.cat([audio(2, seed=1), audio(2, seed=2)])
    with torch.no_grad():
        first = model.run("forward", x)
        model.reset_caches()
        again = model.run("forward", x)
    torch.testing.assert_close(again, first, rtol=0, atol=1e-6)


def test_latent_zero_offset_transposes_the_file_by_an_octave(tmp_path):
    # decoder weights set so the output is the oscillator's first harmonic alone
    torch.manual_seed(3)
    model = DefaultModel(TINY)
    bands = TINY.bands
    with torch.no_grad():
        model.decoder.harmonic_head.weight.zero_()
        model.decoder.harmonic_head.bias.zero_()
        model.decoder.harmonic_head.bias[1] = 30.0
        model.decoder.band_head.weight.zero_()
        model.decoder.band_head.bias.zero_()
        model.decoder.band_head.bias[2 * bands:] = -100.0
    nn = load_model(export_model(model, tmp_path / "h.ts"))
    features = FrameFeatures(SR, HOP)
    x = audio(10, f0=196.0)
    with torch.no_grad():
        z = blocks(lambda b: nn.run("encode", b), x)
        nn.reset_caches()
        plain = blocks(lambda b: nn.run("decode", b), z)
        nn.reset_caches()
        bent = z.clone()
        bent[:, 0] += 1.0
        up = blocks(lambda b: nn.run("decode", b), bent)
    pitch_plain = features(plain)[0, 0, 3:].median().item()
    pitch_up = features(up)[0, 0, 3:].median().item()
    assert pitch_plain == pytest.approx(math.log2(196 / 220), abs=5 / 1200)
    assert pitch_up - pitch_plain == pytest.approx(1.0, abs=5 / 1200)


def test_weights_are_bendable_in_place(exported):
    # Performer bends the loaded module's parameters in place: they must be live tensors, not constants
    path, _ = exported
    model = load_model(path)
    x = audio(2)
    with torch.no_grad():
        plain = model.run("forward", x)
        params = dict(model.module.named_parameters())
        assert "decoder.band_head.weight" in params and "encoder.outlet.weight" in params
        params["decoder.band_head.weight"].mul_(-3.0)
        model.reset_caches()
        bent = model.run("forward", x)
    assert not torch.allclose(plain, bent)


def test_script_model_switches_the_model_to_eval_and_streaming_and_export_overwrites(tmp_path):
    torch.manual_seed(1)
    model = DefaultModel(TINY)
    scripted = script_model(model)
    assert not model.training
    assert all(m.streaming for m in model.modules() if hasattr(m, "streaming"))
    assert not any(p.requires_grad for p in model.parameters())
    assert scripted.forward(audio(1)).shape == (1, 1, HOP)
    path = tmp_path / "m.ts"
    export_model(model, path)
    first = path.read_bytes()
    torch.manual_seed(2)
    export_model(DefaultModel(TINY), path)
    assert path.read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ts"]  # atomic: no temporaries, no .prev
    assert load_model(path).describe()["streaming"]
