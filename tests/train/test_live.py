"""The live architecture: small hop, no look-ahead, exact streaming at its ratio."""

import torch

from performer.train.layers import set_streaming
from performer.train.model import LIVE, ModelConfig, build_model

TINY_LIVE = ModelConfig(sample_rate=48000, architecture="live", live_hop=128, live_channels=16,
                        learned_latents=2, harmonics=8, noise_bands=4)


def test_live_preset_is_a_128_hop_48k_model_with_no_delay():
    model = build_model(LIVE)
    assert LIVE.hop == 128 and LIVE.sample_rate == 48000 and model.delay == 0
    assert LIVE.latent_size == 3 + LIVE.learned_latents


def test_blocks_of_its_ratio_equal_the_whole_file():
    torch.manual_seed(0)
    model = build_model(TINY_LIVE).eval()
    x = 0.3 * torch.randn(1, 1, 128 * 48)
    with torch.no_grad():
        whole = model.decoder(model.encode(x)[0])
        set_streaming(model, True)
        blocks = torch.cat([model.decoder(model.encode(x[..., i:i + 128])[0]) for i in range(0, x.shape[-1], 128)], -1)
    assert torch.allclose(whole, blocks, atol=1e-5)


def test_no_look_ahead_the_past_does_not_depend_on_the_future():
    torch.manual_seed(1)
    model = build_model(TINY_LIVE).eval()
    x = 0.3 * torch.randn(1, 1, 128 * 32)
    changed = x.clone()
    changed[..., 128 * 20:] = 0.9 * torch.randn(1, 1, 128 * 12)  # a different future from block 20
    with torch.no_grad():
        a = model.decoder(model.encode(x)[0])
        b = model.decoder(model.encode(changed)[0])
    assert torch.equal(a[..., :128 * 20], b[..., :128 * 20])  # every sample before it is the same
    assert not torch.equal(a[..., 128 * 20:], b[..., 128 * 20:])
