"""On the default model, whose latents we know, the map ranks the tensors that feed the
oscillator highest in pitch and loudness. Which tensors those are is read from the loaded model,
not hard-coded numbers, so the test keeps holding when models/default.ts is retrained or replaced:

- the oscillator's amplitudes (overall level and harmonic distribution) come out of the decoder's
  ``harmonic_head``; the latents (pitch, periodicity, loudness, then learned) enter through the
  decoder's ``inlet``: these two feed the oscillator's amplitude;
- the oscillator's frequency is latent 0 itself (YIN on the input, no tensor in between), so no
  bend can retune it: what moves the heard pitch is which harmonics sound, i.e. the harmonic head.
  The encoder's tensors reach only the learned latents, never the pitch.

One noise bend (1 σ on every value) on a 1.5 s probe: the cheapest map that still tells them apart.
"""

from __future__ import annotations

import pytest

from performer.sensitivity.build import build_map
from performer.sensitivity.run import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_map():
    from performer.model import load_model

    model = load_model(None)
    return model, build_map(model, Settings(bends=("noise@100",), seconds=1.5), cache=None)


def modules(found, *suffixes: str) -> set[str]:
    names = {n for n in found.order if n.rsplit(".", 1)[0].endswith(suffixes)}
    if not names:
        pytest.skip(f"the default model has no {' or '.join(suffixes)} (not an oscillator model)")
    return names


def test_the_oscillator_s_feeders_rank_highest_in_pitch_and_loudness(default_map):
    model, found = default_map
    assert found.complete
    if model.latent_labels[:1] != ["pitch"]:
        pytest.skip(f"the default model names no pitch latent (its latents: {model.latent_labels[:3]})")
    head = modules(found, "decoder.harmonic_head")
    amplitude = head | modules(found, "decoder.inlet")
    encoder = {n for n in found.order if n.startswith("encoder.")}

    pitch = found.ranking("pitch")
    assert pitch[0] in head, pitch[:5]
    top = found.tensors[pitch[0]].scores["pitch"]
    assert all(found.tensors[n].scores["pitch"] < top / 3 for n in encoder), pitch[:5]

    loudness = found.ranking("loudness")
    assert set(loudness[:2]) <= amplitude, loudness[:5]
    assert found.tensors[loudness[0]].summary != "almost inaudible"
