"""The probe: fixed, seeded, varied material at the model's own rate."""

from __future__ import annotations

import numpy as np
import pytest

from performer.sensitivity.probe import make_probe


def test_same_seed_same_samples_other_seed_other_samples():
    a, b, c = make_probe(44100, 1.0, 0), make_probe(44100, 1.0, 0), make_probe(44100, 1.0, 1)
    assert np.array_equal(a.audio, b.audio)
    assert not np.array_equal(a.audio, c.audio)


@pytest.mark.parametrize("rate", [44100, 48000])
def test_parts_length_and_level(rate):
    probe = make_probe(rate, 2.0, 0)
    assert probe.audio.dtype == np.float32 and probe.rate == rate
    assert probe.seconds == pytest.approx(2.0, abs=0.01)
    assert [name for name, _, _ in probe.parts] == ["pitched", "noise", "percussive"]
    for _, start, stop in probe.parts:
        part = probe.audio[start:stop]
        assert 0.45 <= np.abs(part).max() <= 0.5  # every part drives the model
    assert np.abs(probe.audio).max() <= 0.5


def test_too_short_is_an_error():
    with pytest.raises(ValueError, match="at least 0.5"):
        make_probe(44100, 0.2)
