"""The default model: latent layout, block-wise streaming equals whole-file, latent 0 is the pitch."""

import math

import pytest
import torch

from performer.train.layers import set_streaming
from performer.train.model import FEATURES, DefaultModel, ModelConfig, mod_sigmoid
from performer.train.pitch import FrameFeatures

SR = 44100
TINY = ModelConfig(encoder_channels=(8, 8, 8, 8), decoder_channels=(8, 8, 8, 8), learned_latents=2, harmonics=8)



def tone(f0, frames, hop=1024, level=0.3, batch=1):
    t = torch.arange(frames * hop, dtype=torch.float64) / SR
    x = sum((level / k) * torch.sin(2 * math.pi * f0 * k * t) for k in range(1, 4))
    return x.float().view(1, 1, -1).expand(batch, -1, -1).contiguous()


def zero_caches(model):
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith(".cache"):
                buffer.zero_()


def stream(model, x, frames_per_block, hop):
    out, i, j = [], 0, 0
    while i < x.shape[-1]:
        n = frames_per_block[j % len(frames_per_block)] * hop
        out.append(model(x[..., i:i + n])[0])
        i, j = i + n, j + 1
    return torch.cat(out, -1)


def test_config_figures():
    config = ModelConfig()
    assert config.hop == 16 * 4 * 4 * 4 == 1024
    assert config.latent_size == 3 + 8
    assert TINY.latent_size == 5 and TINY.hop == 1024
    assert config.to_dict()["ratios"] == (4, 4, 4)
    assert FEATURES == ("pitch", "periodicity", "loudness")


def test_mod_sigmoid_range():
    y = mod_sigmoid(torch.linspace(-50, 50, 101))
    assert y.min() > 0 and y.max() <= 2 and (y.diff() >= 0).all()
    assert mod_sigmoid(torch.tensor(-50.0)) < 1e-6


def test_encode_layout_and_pitch_channel():
    torch.manual_seed(0)
    model = DefaultModel(TINY).eval()
    x = torch.cat([tone(330, 8), tone(110, 8)])
    with torch.no_grad():
        z, kl = model.encode(x)
    assert z.shape == (2, 3 + 2, 8)
    assert kl.shape == () and torch.isfinite(kl)
    torch.testing.assert_close(z[0, 0, 2:], torch.full((6,), math.log2(330 / 220)), rtol=0, atol=5 / 1200)
    torch.testing.assert_close(z[1, 0, 2:], torch.full((6,), math.log2(110 / 220)), rtol=0, atol=5 / 1200)
    assert (z[:, 1, 2:] > 0.9).all()  # periodicity
    # the features channels are exactly FrameFeatures of the input
    torch.testing.assert_close(z[:, :3], FrameFeatures(SR, 1024)(x))


def test_encode_samples_only_when_asked():
    torch.manual_seed(0)
    model = DefaultModel(TINY)
    x = tone(220, 4)
    a, _ = model.encode(x)
    b, _ = model.encode(x)
    assert torch.equal(a, b)
    c, _ = model.encode(x, sample=True)
    assert torch.equal(c[:, :3], a[:, :3])  # measured features are never sampled
    assert not torch.equal(c[:, 3:], a[:, 3:])


def test_training_forward_shapes_and_every_trainable_parameter_gets_a_gradient():
    torch.manual_seed(1)
    model = DefaultModel(TINY)
    x = tone(196, 4, batch=2) + 0.01 * torch.randn(2, 1, 4096)
    y, kl = model(x)
    assert y.shape == x.shape
    (y.square().mean() + kl).backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    missing = [n for n, p in trainable if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {"encoder.pqmf.conv.weight", "decoder.pqmf.conv.weight"}


@pytest.mark.parametrize("config", [TINY, ModelConfig()], ids=["tiny", "default"])
def test_block_wise_streaming_equals_whole_file(config):
    torch.manual_seed(2)
    model = DefaultModel(config).eval()
    frames = 10
    x = tone(247, frames) * torch.linspace(0.2, 1, frames * 1024) + 0.02 * torch.randn(1, 1, frames * 1024)
    with torch.no_grad():
        whole = model(x)[0]
        set_streaming(model, True)
        for pattern in [(1,), (2, 3, 1)]:
            zero_caches(model)
            blocks = stream(model, x, pattern, config.hop)
            assert (blocks - whole).abs().max() < 1e-5
    assert whole.abs().max() > 0


def test_streaming_caches_carry_state_and_zeroing_restarts():
    torch.manual_seed(3)
    model = DefaultModel(TINY).eval()
    set_streaming(model, True)
    x = tone(300, 3) + 0.05 * torch.randn(1, 1, 3072)
    with torch.no_grad():
        first = model(x)[0]
        second = model(x)[0]
        zero_caches(model)
        again = model(x)[0]
    assert not torch.allclose(first, second)
    assert torch.equal(first, again)


def pure_harmonic_decoder(model):
    """Decoder weights set so its output is the oscillator's first harmonic alone."""
    decoder = model.decoder
    harmonics = model.config.harmonics
    bands = model.config.bands
    with torch.no_grad():
        decoder.harmonic_head.weight.zero_()
        decoder.harmonic_head.bias.zero_()
        decoder.harmonic_head.bias[1] = 30.0  # softmax: all on harmonic 1
        decoder.band_head.weight.zero_()
        decoder.band_head.bias.zero_()  # tanh(0) = 0: no band waveform
        decoder.band_head.bias[2 * bands:] = -100.0  # no noise
    assert decoder.harmonic_head.bias.shape == (harmonics + 1,)
    return decoder


def measured_pitch(audio):
    return FrameFeatures(SR, 1024)(audio)[0, 0, 3:].median().item()


def test_latent_zero_plus_one_transposes_an_octave():
    torch.manual_seed(4)
    model = DefaultModel(TINY).eval()
    decoder = pure_harmonic_decoder(model)
    with torch.no_grad():
        z, _ = model.encode(tone(330, 12))
        plain = decoder(z)
        z_up = z.clone()
        z_up[:, 0] += 1.0
        up = decoder(z_up)
    assert measured_pitch(plain) == pytest.approx(math.log2(330 / 220), abs=5 / 1200)
    assert measured_pitch(up) == pytest.approx(math.log2(660 / 220), abs=5 / 1200)
    # the harmonic branch alone: a sine of amplitude mod_sigmoid(0), late by the PQMF delay
    assert plain[..., :112].abs().max() < 1e-5  # only the 1e-7 floor of the noise amplitude
    expected_peak = float(mod_sigmoid(torch.tensor(0.0)))
    assert plain[..., 4096:].abs().max() == pytest.approx(expected_peak, rel=1e-3)


def test_decoder_pitch_follows_latent_zero_exactly():
    torch.manual_seed(5)
    model = DefaultModel(TINY).eval()
    decoder = pure_harmonic_decoder(model)
    for octaves in (-1.0, 0.0, 0.5, 1.5):
        z = torch.zeros(1, TINY.latent_size, 10)
        z[:, 0] = octaves
        with torch.no_grad():
            y = decoder(z)
        assert measured_pitch(y) == pytest.approx(octaves, abs=5 / 1200)


def test_decoder_f0_is_clamped_to_the_audible_range():
    torch.manual_seed(6)
    model = DefaultModel(TINY).eval()
    decoder = pure_harmonic_decoder(model)
    z = torch.zeros(1, TINY.latent_size, 6)
    z[:, 0] = 12.0  # 220 * 4096 Hz: clamped to Nyquist, and every harmonic is masked as inaudible
    with torch.no_grad():
        y = decoder(z)
    assert torch.isfinite(y).all()
    assert y.abs().max() < 1e-3
