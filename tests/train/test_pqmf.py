"""PQMF bank: near-perfect reconstruction with a fixed delay, band selectivity, exact streaming."""

import math

import numpy as np
import pytest
import torch

from performer.train.layers import set_streaming
from performer.train.pqmf import PQMFAnalysis, PQMFSynthesis, filter_bank

SR = 44100



def snr_db(reference, estimate):
    return 10 * math.log10(float(reference.pow(2).sum() / (estimate - reference).pow(2).sum()))


def test_shapes_and_delay():
    analysis, synthesis = PQMFAnalysis(16, 128), PQMFSynthesis(16, 128)
    assert analysis.delay == synthesis.delay == 112
    bands = analysis(torch.randn(3, 1, 16 * 40))
    assert bands.shape == (3, 16, 40)
    assert synthesis(bands).shape == (3, 1, 16 * 40)
    assert not any(p.requires_grad for p in [*analysis.parameters(), *synthesis.parameters()])


@pytest.mark.parametrize("bands,taps", [(16, 128), (8, 64), (4, 64)])
def test_analysis_then_synthesis_reconstructs_white_noise_delayed(bands, taps):
    torch.manual_seed(0)
    x = torch.randn(2, 1, 8192)
    y = PQMFSynthesis(bands, taps)(PQMFAnalysis(bands, taps)(x))
    delay = taps - bands
    assert snr_db(x[..., :-delay], y[..., delay:]) > 40
    # one sample off is far worse: the delay is exactly taps - bands
    assert snr_db(x[..., :-delay - 1], y[..., delay + 1:]) < 10
    assert snr_db(x[..., 1:-delay + 1], y[..., delay:]) < 10


@pytest.mark.parametrize("k", [0, 1, 5, 8, 14, 15])
def test_a_sine_at_the_centre_of_band_k_lands_in_band_k(k):
    bands = 16
    f = (k + 0.5) * SR / (2 * bands)
    t = torch.arange(16 * 512) / SR
    out = PQMFAnalysis(bands)(torch.sin(2 * math.pi * f * t).view(1, 1, -1))[..., 16:]  # past the onset
    energy = out.pow(2).sum(-1)[0]
    assert int(energy.argmax()) == k
    assert energy[k] / energy.sum() > 0.95


def test_taps_not_a_multiple_of_bands_is_rejected():
    with pytest.raises(ValueError, match="multiple"):
        PQMFAnalysis(16, 100)
    with pytest.raises(ValueError, match="multiple"):
        PQMFSynthesis(16, 120)
    with pytest.raises(ValueError):
        filter_bank(8, 60)


def test_filter_bank_is_cosine_modulated_and_mirrored():
    analysis, synthesis = filter_bank(16, 128)
    assert analysis.shape == synthesis.shape == (16, 128)
    # synthesis filters are the time-reversed analysis filters (a paraunitary-like pair)
    np.testing.assert_allclose(synthesis, analysis[:, ::-1], atol=1e-12)


@pytest.mark.parametrize("block_frames", [(1,), (3,), (5, 2, 7)])
def test_streaming_equals_whole_signal(block_frames):
    torch.manual_seed(1)
    analysis, synthesis = PQMFAnalysis(), PQMFSynthesis()
    x = torch.randn(1, 1, 16 * 64)
    with torch.no_grad():
        whole_bands = analysis(x)
        whole = synthesis(whole_bands)
        set_streaming(analysis, True)
        set_streaming(synthesis, True)
        bands_out, audio_out, i, j = [], [], 0, 0
        while i < x.shape[-1]:
            n = block_frames[j % len(block_frames)] * 16
            b = analysis(x[..., i:i + n])
            bands_out.append(b)
            audio_out.append(synthesis(b))
            i += n
            j += 1
    torch.testing.assert_close(torch.cat(bands_out, -1), whole_bands, rtol=0, atol=1e-5)
    torch.testing.assert_close(torch.cat(audio_out, -1), whole, rtol=0, atol=1e-5)
