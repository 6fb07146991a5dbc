import numpy as np
import pytest

from performer.audio.resampler import StreamingResampler


def sine(freq, rate, seconds=1.0, amp=0.5):
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None]


@pytest.mark.parametrize("rates", [(48000, 44100), (44100, 48000), (96000, 44100), (22050, 44100)])
def test_chunked_equals_whole_so_block_edges_never_click(rates):
    x = sine(1000, rates[0])
    whole = StreamingResampler(*rates, 1).process(x)
    r = StreamingResampler(*rates, 1)
    rng = np.random.default_rng(1)
    pieces, i = [], 0
    while i < x.shape[1]:
        n = int(rng.integers(1, 900))
        pieces.append(r.process(x[:, i:i + n]))
        i += n
    assert np.array_equal(np.concatenate(pieces, axis=1), whole)
    assert abs(whole.shape[1] - x.shape[1] * rates[1] / rates[0]) <= 32


@pytest.mark.parametrize("rates", [(48000, 44100), (44100, 48000)])
def test_a_sine_keeps_its_level_and_the_reported_delay(rates):
    r = StreamingResampler(*rates, 1)
    y = r.process(sine(1000, rates[0]))[0]
    k = np.arange(y.size)[4000:-4000]
    ideal = 0.5 * np.sin(2 * np.pi * 1000 * (k - r.delay_out) / rates[1])
    assert np.abs(y[4000:-4000] - ideal).max() < 1e-4  # about -80 dB


def test_removes_content_above_the_new_nyquist():
    y = StreamingResampler(96000, 44100, 1).process(sine(30000, 96000))[0]
    assert np.abs(y[2000:-2000]).max() < 0.01


def test_equal_rates_pass_through():
    r = StreamingResampler(44100, 44100, 2)
    x = np.random.default_rng(0).standard_normal((2, 100)).astype(np.float32)
    assert r.process(x) is x and r.delay_out == 0
