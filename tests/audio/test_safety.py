"""SafetyStage: guard, DC blocker and look-ahead limiter on every output block."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import lfilter

import performer.audio.safety as safety_module
from performer.audio.safety import SafetyStage
from tests.conftest import _unavailable

RATE = 44100
CEILING = 10 ** (-1 / 20)
LOOKAHEAD = 32
SECOND = 22 * 2048  # about one second, whole blocks of 32, 512 and 2048


def sine(n: int, freq: float = 1000.0, amp: float = 0.1, channels: int = 1, rate: int = RATE,
         phase: float = 0.0) -> np.ndarray:
    t = np.arange(n) / rate
    x = amp * np.sin(2 * np.pi * freq * t + phase)
    return np.repeat(x[None].astype(np.float32), channels, axis=0)


def run_blocks(stage: SafetyStage, signal: np.ndarray, block: int) -> tuple[np.ndarray, list[bool]]:
    assert signal.shape[1] % block == 0
    outs, guards = [], []
    for start in range(0, signal.shape[1], block):
        out, guarded = stage.process(signal[:, start:start + block])
        assert out.dtype == np.float32 and out.shape == signal[:, start:start + block].shape
        outs.append(out)
        guards.append(guarded)
    return np.concatenate(outs, axis=1), guards


def dc_blocked(signal: np.ndarray, cutoff: float = 10.0, rate: int = RATE) -> np.ndarray:
    pole = math.exp(-2 * math.pi * cutoff / rate)
    return lfilter([1.0, -1.0], [1.0, -pole], signal.astype(np.float64), axis=1)


def delayed(signal: np.ndarray, samples: int) -> np.ndarray:
    return np.concatenate([np.zeros((signal.shape[0], samples)), signal[:, :-samples]], axis=1)


@pytest.fixture(autouse=True, scope="module", params=["C", "numpy"])
def implementation(request):
    """Every test here runs against the C block pass and against its numpy twin."""
    if request.param == "C" and safety_module._safety is None:
        _unavailable("the safety stage's C pass was not built: install a C compiler and the Python headers "
                     "(apt install gcc python3-dev), then pip install -e . again")
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "numpy":
            patch.setattr(safety_module, "_safety", None)
        yield request.param


def test_the_stage_runs_the_implementation_under_test(implementation):
    assert SafetyStage(1, RATE).native == (implementation == "C")


# -- construction ---------------------------------------------------------------------------

def test_defaults():
    stage = SafetyStage(2, RATE)
    assert stage.ceiling == pytest.approx(CEILING)
    assert stage.latency == LOOKAHEAD
    assert stage.guard_events == 0


@pytest.mark.parametrize("db", [0.1, 1.0, 6.0])
def test_positive_ceiling_rejected(db):
    with pytest.raises(ValueError, match="ceiling"):
        SafetyStage(1, RATE, ceiling_db=db)


def test_zero_db_ceiling_allowed():
    assert SafetyStage(1, RATE, ceiling_db=0.0).ceiling == 1.0


@pytest.mark.parametrize("n", [1, 31, 33, 100, 2047, 2049])
def test_block_length_must_be_a_multiple_of_the_lookahead(n):
    stage = SafetyStage(1, RATE)
    with pytest.raises(ValueError, match="multiple of 32"):
        stage.process(np.zeros((1, n), dtype=np.float32))


@pytest.mark.parametrize("n", [32, 64, 512, 2048])
def test_valid_block_lengths(n):
    out, guarded = SafetyStage(2, RATE).process(np.zeros((2, n), dtype=np.float32))
    assert out.shape == (2, n) and not guarded and not out.any()


# -- guard ----------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 2e3, -5e3, 1e30])
def test_guard_mutes_the_block_and_counts(bad):
    stage = SafetyStage(2, RATE)
    block = sine(512, amp=0.5, channels=2)
    block[1, 100] = bad
    out, guarded = stage.process(block)
    assert guarded
    assert stage.guard_events == 1
    assert np.all(out == 0.0)
    # The next clean block is finite, unguarded and within the ceiling.
    out, guarded = stage.process(sine(512, amp=0.5, channels=2))
    assert not guarded and stage.guard_events == 1
    assert np.isfinite(out).all() and np.abs(out).max() <= CEILING
    assert np.abs(out).max() > 0.1


def test_guard_after_clean_audio_outputs_only_finite_values_and_recovers():
    stage = SafetyStage(1, RATE)
    clean = sine(2048, amp=0.3)
    run_blocks(stage, clean, 512)
    bad = clean[:, :512].copy()
    bad[0, ::7] = np.nan
    out, guarded = stage.process(bad)
    assert guarded and stage.guard_events == 1
    assert np.isfinite(out).all()
    # Only the look-ahead tail of the last clean block can still come out; the rest is silence.
    assert np.all(out[:, LOOKAHEAD:] == 0.0)
    assert np.abs(out).max() <= CEILING
    for _ in range(3):
        out, guarded = stage.process(sine(512, amp=0.3))
        assert not guarded and np.isfinite(out).all()
    assert stage.guard_events == 1


def test_value_just_below_blowup_is_limited_not_guarded():
    stage = SafetyStage(1, RATE, blowup=1e3)
    block = sine(512, amp=999.0)
    out, guarded = stage.process(block)
    assert not guarded and stage.guard_events == 0
    assert np.abs(out).max() <= CEILING


def test_guard_events_accumulate():
    stage = SafetyStage(1, RATE)
    for i in range(5):
        stage.process(np.full((1, 64), np.nan, dtype=np.float32))
        stage.process(np.zeros((1, 64), dtype=np.float32))
    assert stage.guard_events == 5


# -- limiter --------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(amps=st.lists(st.floats(0.0, 1e2, allow_nan=False), min_size=1, max_size=5),
       block=st.sampled_from([512, 2048]),
       channels=st.sampled_from([1, 2]),
       seed=st.integers(0, 2**32 - 1),
       kind=st.sampled_from(["noise", "sine", "impulses", "dc"]))
def test_output_never_exceeds_the_ceiling(amps, block, channels, seed, kind):
    rng = np.random.default_rng(seed)
    stage = SafetyStage(channels, RATE)
    for amp in amps:
        if kind == "noise":
            x = rng.standard_normal((channels, block))
        elif kind == "sine":
            x = sine(block, freq=float(rng.uniform(20, 15000)), amp=1.0, channels=channels,
                     phase=float(rng.uniform(0, 6.3)))
        elif kind == "impulses":
            x = np.zeros((channels, block))
            x[:, rng.integers(0, block, size=5)] = rng.choice([-1.0, 1.0], size=(channels, 5))
        else:
            x = np.ones((channels, block))
        out, guarded = stage.process((amp * x).astype(np.float32))
        assert not guarded
        assert out.dtype == np.float32 and out.shape == (channels, block)
        assert np.isfinite(out).all()
        assert np.abs(out).max() <= CEILING


@pytest.mark.parametrize("block", [512, 2048])
def test_loud_signal_is_limited_not_just_clipped(block):
    """A steady loud tone comes out as the same tone at a steady lower gain, not a square wave."""
    stage = SafetyStage(1, RATE)
    x = sine(8 * block, freq=440.0, amp=20.0)
    out, _ = run_blocks(stage, x, block)
    assert np.abs(out).max() <= CEILING
    reference = delayed(dc_blocked(x), LOOKAHEAD)
    settled = slice(4 * block, None)
    loud = np.abs(reference[:, settled]) > 2.0
    gain = out[:, settled][loud] / reference[:, settled][loud]
    assert np.abs(out[:, settled]).max() > 0.9 * CEILING  # still loud, not muted
    assert gain.max() <= CEILING / 20.0 * 1.02
    assert gain.std() / gain.mean() < 0.01, "the gain varies within a period: the tone is clipped"


def test_stereo_is_linked():
    stage = SafetyStage(2, RATE)
    x = np.concatenate([sine(4096, amp=10.0), sine(4096, amp=0.1)], axis=0)
    out, _ = run_blocks(stage, x, 512)
    # The quiet channel is turned down with the loud one: same gain on both.
    ratio = out[1, 2048:] / np.where(np.abs(out[0, 2048:]) > 1e-3, out[0, 2048:], np.nan)
    assert np.nanmax(np.abs(ratio)) < 0.02


def test_release_brings_the_gain_back():
    stage = SafetyStage(1, RATE, release_s=0.05)
    run_blocks(stage, sine(4096, amp=50.0), 512)
    out, _ = run_blocks(stage, sine(SECOND, amp=0.1), 512)  # one second of a quiet tone
    tail = out[:, -4096:]
    assert np.abs(tail).max() == pytest.approx(0.1, rel=0.02)


# -- quiet signals and the DC blocker ----------------------------------------------------------

@pytest.mark.parametrize("block", [32, 512, 2048])
@pytest.mark.parametrize("channels", [1, 2])
def test_quiet_signal_is_dc_blocked_and_delayed_only(block, channels):
    rng = np.random.default_rng(1)
    n = 8 * 2048
    x = np.clip(rng.standard_normal((channels, n)) * 0.03, -0.1, 0.1).astype(np.float32)
    x[:, 1000] = 0.1
    stage = SafetyStage(channels, RATE)
    out, guards = run_blocks(stage, x, block)
    assert not any(guards)
    expected = delayed(dc_blocked(x), LOOKAHEAD)
    np.testing.assert_allclose(out, expected, rtol=0, atol=2e-6)


def test_quiet_sine_gain_within_a_tenth_of_a_db():
    stage = SafetyStage(1, RATE)
    x = sine(SECOND, freq=1000.0, amp=0.1)
    out, _ = run_blocks(stage, x, 512)
    settled = out[0, SECOND // 2:]
    gain_db = 20 * np.log10(np.sqrt(np.mean(settled.astype(np.float64) ** 2)) / (0.1 / math.sqrt(2)))
    assert abs(gain_db) < 0.1
    # And it is the input delayed by the look-ahead.
    np.testing.assert_allclose(out[0, SECOND // 2:], x[0, SECOND // 2 - LOOKAHEAD:-LOOKAHEAD], atol=2e-3)


@pytest.mark.parametrize("offset", [0.05, -0.3])
def test_dc_offset_decays_toward_zero(offset):
    stage = SafetyStage(1, RATE)
    out, _ = run_blocks(stage, np.full((1, SECOND), offset, dtype=np.float32), 512)
    start = np.abs(out[0, LOOKAHEAD:LOOKAHEAD + 64]).max()
    assert start > 0.5 * abs(offset)
    assert np.abs(out[0, SECOND // 4:]).max() < 0.01 * abs(offset)  # 10 Hz cutoff: tau ~ 16 ms
    envelope = np.abs(out[0, LOOKAHEAD::2048])
    assert np.all(np.diff(envelope) <= 1e-9), "the offset must only decay"


def test_dc_plus_tone_keeps_the_tone():
    stage = SafetyStage(1, RATE)
    x = sine(SECOND, freq=500.0, amp=0.1) + np.float32(0.2)
    out, _ = run_blocks(stage, x, 2048)
    settled = out[0, SECOND // 2:]
    assert abs(float(settled.mean())) < 1e-3
    assert np.abs(settled).max() == pytest.approx(0.1, rel=0.02)


def test_reset_clears_the_state():
    stage = SafetyStage(1, RATE)
    run_blocks(stage, sine(2048, amp=30.0) + np.float32(0.5), 512)
    stage.reset()
    x = sine(4096, amp=0.1)
    out, _ = run_blocks(stage, x, 512)
    fresh, _ = run_blocks(SafetyStage(1, RATE), x, 512)
    np.testing.assert_array_equal(out, fresh)


def test_input_block_is_not_modified():
    stage = SafetyStage(2, RATE)
    for block in (sine(512, amp=30.0, channels=2), np.full((2, 512), np.nan, dtype=np.float32),
                  sine(512, amp=0.1, channels=2) + np.float32(0.3)):
        before = block.copy()
        stage.process(block)
        np.testing.assert_array_equal(block, before)


def test_zero_length_block_is_returned_empty():
    out, guarded = SafetyStage(2, 44100).process(np.zeros((2, 0), np.float32))
    assert out.shape == (2, 0) and not guarded


def test_quiet_blocks_skip_the_gain_pass_with_identical_output():
    """The fast path for blocks under the ceiling (gain 1) gives the limiter's exact samples."""
    rng = np.random.default_rng(5)
    fast, slow = SafetyStage(2, 44100, native=False), SafetyStage(2, 44100, native=False)
    slow._limit_fast_path = False
    # under, over (limiting), the release, then quiet long enough for the gain to be back at 1
    for level in (0.1, 0.5, 3.0, 0.2, 0.05, 0.8, *[0.05] * 100, 0.1):
        block = (level * rng.standard_normal((2, 2048))).astype(np.float32)
        a, _ = fast.process(block)
        b, _ = slow.process(block)
        assert np.array_equal(a, b)
        assert np.abs(a).max() <= fast.ceiling
    assert fast._gain == 1.0 and fast._next_target == 1.0  # the fast path ran again at the end


def test_the_direct_c_filter_gives_lfilters_exact_samples(monkeypatch):
    """The DC blocker calls lfilter's C routine directly (no Python checks after a model call);
    with it gone (a SciPy that moved it) the public lfilter must give the same samples."""
    import performer.audio.safety as safety

    assert safety._linear_filter is not None, "scipy.signal._sigtools._linear_filter moved: the fallback runs"
    rng = np.random.default_rng(9)
    blocks = [(level * rng.standard_normal((2, 512)) + 0.2).astype(np.float32) for level in (0.1, 2.0, 0.3)]
    direct = SafetyStage(2, 44100, native=False)
    outs = [direct.process(b)[0] for b in blocks]
    monkeypatch.setattr(safety, "_linear_filter", None)
    public = SafetyStage(2, 44100, native=False)
    for block, out in zip(blocks, outs):
        assert np.array_equal(public.process(block)[0], out)
