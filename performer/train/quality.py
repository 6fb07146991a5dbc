"""How good is a model? Loudness, level, spectrum, pitch, periodicity and speed, measured.

Pure numpy/scipy measurements of a model's output against its input (a model that resynthesises
its input should keep its loudness contour, level, spectrum, pitch and harmonicity), plus the
streaming runner and real-time factor, and ``evaluate``, which applies the bar of the model's
architecture (``BARS``; the studio model's below, the live model's in ``LIVE_BAR``):

=========  ===========================================================================
loudness   Pearson r of the 20 ms dB envelopes >= 0.9 on every signal
level      overall RMS of the output within +-3 dB of the input's on every signal
mss        multi-scale STFT distance on held-out audio <= 0.15 x that of a random-weights
           model of the same architecture (only when one is given)
pitch      on held-out pitched material, f0 within 50 cents on >= 80 % of the frames the
           input has voiced
hnr        on the same material, output HNR within 6 dB of the input's (same frames)
rtf        one thread, the model's own blocks (2048 samples for the studio model, its 128-sample
           ratio for the live one): median block time <= 0.1 x the block's duration
=========  ===========================================================================

All comparisons are made after aligning the output to the input (the model has a delay):
see ``align``. Signals are mono float arrays at ``sr`` (44100 Hz unless said).
"""

from __future__ import annotations

import math
import statistics
import time
from contextlib import contextmanager
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy.signal import correlate

EPS = 1e-12
SILENCE_DB = -50.0  # loudness correlation uses the frames where the input is above this
BAR = {"loudness_r": 0.9, "level_db": 3.0, "mss_ratio": 0.15, "pitch_fraction": 0.8, "pitch_cents": 50.0,
       "hnr_db": 6.0, "rtf": 0.1}
# The live model (issue 17) trades spectral detail for 10 ms: no waveform branch, so a looser
# MSS ratio; and at 128-sample blocks a call's fixed cost is most of its time, so RTF 0.3.
LIVE_BAR = {**BAR, "mss_ratio": 0.2, "rtf": 0.3}
BARS = {"studio": BAR, "live": LIVE_BAR}
MSS_SCALES = (2048, 1024, 512, 256, 128)


# -- loudness and level ---------------------------------------------------------------------
def loudness_envelope(x: np.ndarray, sr: int, frame_ms: float = 20.0, hop_ms: float | None = None,
                      floor_db: float = -120.0) -> np.ndarray:
    """RMS level in dBFS (a full-scale sine reads -3 dB) of consecutive ``frame_ms`` frames
    (hop ``hop_ms``, default = frame, i.e. no overlap), floored at ``floor_db``."""
    x = np.asarray(x, dtype=np.float64)
    frame = max(1, int(round(sr * frame_ms / 1000)))
    hop = max(1, int(round(sr * (hop_ms if hop_ms is not None else frame_ms) / 1000)))
    if len(x) < frame:
        return np.zeros(0)
    power = np.concatenate([[0.0], np.cumsum(x * x)])
    starts = np.arange(0, len(x) - frame + 1, hop)
    ms = (power[starts + frame] - power[starts]) / frame
    return np.maximum(10.0 * np.log10(np.maximum(ms, EPS)), floor_db)


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 3:
        return None
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / den if den > 0 else None


def loudness_correlation(inp: np.ndarray, out: np.ndarray, sr: int, frame_ms: float = 20.0,
                         gate_db: float = SILENCE_DB) -> float | None:
    """Pearson r between the ``frame_ms`` dB envelopes of input and (aligned) output, over the
    frames where the input is above ``gate_db`` dBFS. None with fewer than 3 such frames or a
    constant envelope (an output that is silent throughout)."""
    a = loudness_envelope(inp, sr, frame_ms)
    b = loudness_envelope(out, sr, frame_ms)
    n = min(len(a), len(b))
    keep = a[:n] > gate_db
    return _pearson(a[:n][keep], b[:n][keep])


def rms(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


def level_difference_db(inp: np.ndarray, out: np.ndarray) -> float:
    """Overall RMS level of ``out`` minus that of ``inp``, in dB (0.5 x input reads -6.02)."""
    return 20.0 * math.log10(max(rms(out), EPS) / max(rms(inp), EPS))


# -- spectrum -------------------------------------------------------------------------------
def stft_magnitude(x: np.ndarray, n_fft: int, hop: int | None = None) -> np.ndarray:
    """|STFT| [frames, n_fft/2+1]: Hann window of ``n_fft``, hop n_fft/4, centred frames
    (reflect padding), scaled by 1/sqrt(n_fft) as torch.stft(normalized=True) in RAVE's loss."""
    x = np.asarray(x, dtype=np.float64)
    hop = hop or n_fft // 4
    pad = n_fft // 2
    x = np.pad(x, pad, mode="reflect" if len(x) > pad else "constant")
    count = 1 + (len(x) - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(x, (count, n_fft), (x.strides[0] * hop, x.strides[0]),
                                             writeable=False)
    window = np.hanning(n_fft + 1)[:-1]  # periodic Hann
    return np.abs(np.fft.rfft(frames * window, axis=1)) / math.sqrt(n_fft)


def mss_distance(target: np.ndarray, output: np.ndarray, sr: int = 44100,
                 scales: Sequence[int] = MSS_SCALES, log_eps: float = 1e-4) -> float:
    """Multi-scale STFT distance (the reconstruction term of RAVE/DDSP losses), summed over
    ``scales``: per scale n (Hann, hop n/4, see ``stft_magnitude``) with X = |STFT(target)|,
    Y = |STFT(output)|:  ||X - Y||_F / ||X||_F  +  mean |log(X + eps) - log(Y + eps)|.
    0 for identical signals; the signals are cut to the shorter. ``sr`` is unused (the scales are
    in samples) and kept for a uniform signature."""
    n = min(len(target), len(output))
    total = 0.0
    for scale in scales:
        X = stft_magnitude(target[:n], scale)
        Y = stft_magnitude(output[:n], scale)
        total += float(np.linalg.norm(X - Y) / max(np.linalg.norm(X), EPS))
        total += float(np.mean(np.abs(np.log(X + log_eps) - np.log(Y + log_eps))))
    return total


# -- pitch ----------------------------------------------------------------------------------
def _frames(x: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """[count, frame] views of ``x``: frame i starts at i*hop (centre i*hop + frame/2)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    if len(x) < frame:
        return np.zeros((0, frame))
    count = 1 + (len(x) - frame) // hop
    return np.lib.stride_tricks.as_strided(x, (count, frame), (x.strides[0] * hop, x.strides[0]), writeable=False)


def frame_count(n: int, frame: int = 2048, hop: int = 512) -> int:
    """How many analysis frames ``yin_f0`` and ``hnr_frames`` give for ``n`` samples."""
    return 0 if n < frame else 1 + (n - frame) // hop


def yin_f0(x: np.ndarray, sr: int, frame: int = 2048, hop: int = 512, fmin: float = 50.0, fmax: float = 1500.0,
           threshold: float = 0.15, silence_db: float = -60.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """YIN (de Cheveigne & Kawahara 2002) per frame: ``(f0_hz, voiced, aperiodicity)``.

    Frame i covers samples [i*hop, i*hop + frame). The difference function over an integration
    window W = frame - ceil(sr/fmin), d(tau) = sum_j (x_j - x_{j+tau})^2, is computed for all lags
    at once from energies and an FFT cross-correlation; then the cumulative mean normalised
    difference d'(tau) = d(tau) tau / sum_{k<=tau} d(k); the first lag in [sr/fmax, sr/fmin]
    where d' dips below ``threshold`` (followed down to its local minimum) is the period, else the
    global minimum of d' (and the frame is unvoiced); the period is refined by parabolic
    interpolation of d around that lag. ``aperiodicity`` is d' at the chosen lag (0 = periodic).
    Frames quieter than ``silence_db`` dBFS RMS are unvoiced. f0 is reported for every frame
    (meaningful where voiced)."""
    tau_min = max(2, int(math.floor(sr / fmax)))
    tau_max = int(math.ceil(sr / fmin))
    if tau_max + 2 >= frame:
        raise ValueError(f"frame {frame} too short for fmin {fmin} Hz at {sr} Hz (need > {tau_max + 2} samples)")
    W = frame - tau_max - 1
    frames = _frames(x, frame, hop)
    count = len(frames)
    f0 = np.zeros(count)
    voiced = np.zeros(count, dtype=bool)
    aperiodicity = np.ones(count)
    nfft = 1 << int(math.ceil(math.log2(frame + W)))
    lags = np.arange(tau_max + 2)
    for start in range(0, count, 256):
        block = frames[start:start + 256]
        spec_full = np.fft.rfft(block, nfft, axis=1)
        spec_head = np.fft.rfft(block[:, :W], nfft, axis=1)
        r = np.fft.irfft(spec_full * np.conj(spec_head), nfft, axis=1)[:, :tau_max + 2]  # sum x_j x_{j+tau}
        sq = np.concatenate([np.zeros((len(block), 1)), np.cumsum(block * block, axis=1)], axis=1)
        e0 = sq[:, W:W + 1]
        e_tau = sq[:, lags + W] - sq[:, lags]
        d = np.maximum(e0 + e_tau - 2.0 * r, 0.0)
        d[:, 0] = 0.0
        cum = np.cumsum(d[:, 1:], axis=1)
        dn = np.ones_like(d)
        dn[:, 1:] = d[:, 1:] * lags[1:] / np.maximum(cum, EPS)
        level_db = 10 * np.log10(np.maximum(e0[:, 0] / W, EPS))
        for i in range(len(block)):
            k = start + i
            curve = dn[i]
            below = np.flatnonzero(curve[tau_min:tau_max + 1] < threshold)
            if below.size:
                tau = tau_min + int(below[0])
                while tau + 1 <= tau_max and curve[tau + 1] < curve[tau]:
                    tau += 1
                is_voiced = level_db[i] > silence_db
            else:
                tau = tau_min + int(np.argmin(curve[tau_min:tau_max + 1]))
                is_voiced = False
            shift = 0.0
            if 1 <= tau < tau_max + 1:
                a, b, c = d[i, tau - 1], d[i, tau], d[i, tau + 1]
                den = a - 2 * b + c
                if den > 0:
                    shift = float(np.clip(0.5 * (a - c) / den, -1.0, 1.0))
            f0[k] = sr / (tau + shift)
            voiced[k] = is_voiced
            aperiodicity[k] = float(curve[tau])
    return f0, voiced, aperiodicity


def cents(f_out: np.ndarray, f_ref: np.ndarray) -> np.ndarray:
    return 1200.0 * np.log2(np.maximum(f_out, EPS) / np.maximum(f_ref, EPS))


def pitch_agreement(inp: np.ndarray, out: np.ndarray, sr: int, tolerance_cents: float = 50.0,
                    **yin_args) -> dict:
    """How well the output keeps the input's pitch, on the frames YIN finds voiced in the input.

    ``fraction``: share of those frames where the output is voiced too and within
    ``tolerance_cents`` of the input's f0 (an unvoiced output frame is a miss; None when the
    input has no voiced frame); ``median_cents``: median |cents| error over those frames where
    the output is voiced (None when none is); ``voiced_frames``: how many frames the input has
    voiced; ``output_voiced``: the share of them the output has voiced."""
    f_in, v_in, _ = yin_f0(inp, sr, **yin_args)
    f_out, v_out, _ = yin_f0(out, sr, **yin_args)
    n = min(len(f_in), len(f_out))
    f_in, v_in, f_out, v_out = f_in[:n], v_in[:n], f_out[:n], v_out[:n]
    count = int(v_in.sum())
    if count == 0:
        return {"fraction": None, "median_cents": None, "voiced_frames": 0, "output_voiced": None}
    both = v_in & v_out
    err = np.abs(cents(f_out[both], f_in[both]))
    hits = int((err <= tolerance_cents).sum())
    return {"fraction": hits / count, "median_cents": float(np.median(err)) if err.size else None,
            "voiced_frames": count, "output_voiced": float(both.sum()) / count}


# -- harmonicity ----------------------------------------------------------------------------
def hnr_frames(x: np.ndarray, sr: int, frame: int = 2048, hop: int = 512, fmin: float = 60.0, fmax: float = 1500.0,
               frames: np.ndarray | None = None, max_r: float = 1.0 - 1e-5) -> np.ndarray:
    """Per-frame harmonic-to-noise ratio in dB (Boersma 1993), NaN for frames left out.

    Each frame (the same framing as ``yin_f0``) is mean-removed and Hann-windowed; its
    autocorrelation, normalised at lag 0, is divided by the window's normalised autocorrelation
    (Boersma's correction), giving r(tau). The highest r over lags [sr/fmax, min(sr/fmin,
    frame/3)] (a Hann window needs three periods), refined between samples with the
    band-limited (DFT) interpolation of both autocorrelations, is the frame's r; HNR =
    10 log10(r / (1 - r)), r clipped to [1e-6, ``max_r``] (50 dB at most). ``frames``: boolean
    mask of the frames to measure (default: those ``yin_f0`` finds voiced in ``x``)."""
    count = frame_count(len(x), frame, hop)
    if frames is None:
        frames = yin_f0(x, sr, frame=frame, hop=hop, fmin=max(fmin, 50.0), fmax=fmax)[1]
    frames = np.asarray(frames, dtype=bool)[:count]
    out = np.full(count, np.nan)
    idx = np.flatnonzero(frames)
    if not idx.size:
        return out
    lo = max(2, int(math.floor(sr / fmax)))
    hi = min(int(math.ceil(sr / fmin)), frame // 3)
    window = np.hanning(frame + 2)[1:-1]
    nfft = 2 * frame
    w_pow = np.abs(np.fft.rfft(window, nfft)) ** 2
    w_ac = np.fft.irfft(w_pow, nfft)
    k = np.arange(len(w_pow))
    weights = np.where((k == 0) | (k == nfft // 2), 1.0, 2.0) / nfft  # irfft as a cosine sum
    fine = np.linspace(-1.0, 1.0, 33)
    all_frames = _frames(x, frame, hop)
    for start in range(0, len(idx), 256):
        sel = idx[start:start + 256]
        block = all_frames[sel]
        block = (block - block.mean(axis=1, keepdims=True)) * window
        power = np.abs(np.fft.rfft(block, nfft, axis=1)) ** 2
        ac = np.fft.irfft(power, nfft, axis=1)
        r = (ac[:, lo:hi + 1] / np.maximum(ac[:, :1], EPS)) / (w_ac[lo:hi + 1] / w_ac[0])
        best = lo + np.argmax(r, axis=1)
        for i, tau in enumerate(best):
            taus = tau + fine
            basis = np.cos(2 * np.pi * np.outer(taus, k) / nfft) * weights  # [fine, bins]
            ac_f = basis @ power[i]
            w_f = basis @ w_pow
            rr = (ac_f / max(ac[i, 0], EPS)) / (w_f / w_ac[0])
            value = float(np.clip(np.max(rr), 1e-6, max_r))
            out[sel[i]] = 10.0 * math.log10(value / (1.0 - value))
    return out


def hnr_db(x: np.ndarray, sr: int, frame: int = 2048, hop: int = 512, fmin: float = 60.0, fmax: float = 1500.0,
           frames: np.ndarray | None = None) -> float | None:
    """Mean per-frame HNR in dB (``hnr_frames``) over ``frames`` (a boolean mask in ``yin_f0``'s
    framing; default the frames ``yin_f0`` finds voiced in ``x``). Give the input's mask when
    measuring an output, so both are measured on the same frames. None when no frame is measured."""
    values = hnr_frames(x, sr, frame, hop, fmin, fmax, frames)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else None


# -- alignment ------------------------------------------------------------------------------
def estimate_lag(inp: np.ndarray, out: np.ndarray, sr: int = 44100, max_lag: int = 8192, min_lag: int = 0,
                 frame_ms: float = 20.0, hop_ms: float = 2.0) -> int:
    """The delay of ``out`` behind ``inp`` in samples, in [min_lag, max_lag].

    Coarse: the lag (in steps of ``hop_ms``) maximising the Pearson correlation of the two
    ``frame_ms`` dB envelopes (floored at -80 dB so silence does not dominate). Fine: within one
    coarse step either side, the integer lag maximising the correlation of the signals'
    absolute values, mean removed (over the same samples for every lag). Returns ``min_lag``
    when nothing correlates (e.g. silence)."""
    inp = np.asarray(inp, dtype=np.float64)
    out = np.asarray(out, dtype=np.float64)
    max_lag = int(min(max_lag, max(0, len(out) - sr // 10)))
    if max_lag <= min_lag:
        return int(min_lag)
    hop = max(1, int(round(sr * hop_ms / 1000)))
    env_in = loudness_envelope(inp, sr, frame_ms, hop_ms, floor_db=-80.0)
    env_out = loudness_envelope(out, sr, frame_ms, hop_ms, floor_db=-80.0)
    best, best_r = int(min_lag), -np.inf
    for step in range(int(math.ceil(min_lag / hop)), max_lag // hop + 1):
        n = min(len(env_in), len(env_out) - step)
        if n < 3:
            break
        r = _pearson(env_in[:n], env_out[step:step + n])
        if r is not None and r > best_r:
            best, best_r = step * hop, r
    if best_r == -np.inf:
        return int(min_lag)
    lo, hi = max(min_lag, best - hop), min(max_lag, best + hop)
    n = min(len(inp), len(out) - hi)
    if n < 3:
        return int(best)
    a = np.abs(inp[:n])
    b = np.abs(out[lo:hi + n])
    # sum_i a_i b_{i+lag} for every lag in [lo, hi] at once; one n for all lags, so unnormalised
    scores = correlate(b - b.mean(), a - a.mean(), mode="valid", method="fft")
    best_fine = lo + int(np.argmax(scores))
    return int(best_fine)


def align(inp: np.ndarray, out: np.ndarray, max_lag: int = 8192, *, delay: int | None = None, min_lag: int = 0,
          sr: int = 44100) -> tuple[np.ndarray, np.ndarray, int]:
    """Cut ``out`` so that it lines up with ``inp``: returns ``(inp[:n], out[lag:lag+n], lag)``
    with n as long as both allow. ``delay``: a known lag (no search); otherwise
    ``estimate_lag`` searches [min_lag, max_lag]."""
    lag = int(delay) if delay is not None else estimate_lag(inp, out, sr, max_lag=max_lag, min_lag=min_lag)
    n = max(0, min(len(inp), len(out) - lag))
    return np.asarray(inp[:n]), np.asarray(out[lag:lag + n]), lag


# -- running a model ------------------------------------------------------------------------
@contextmanager
def torch_threads(threads: int | None):
    """Run the block with ``threads`` torch threads (None: leave as is), restoring the count after.
    One thread is how the live engine runs a model, and small models stream fastest on one."""
    import torch

    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _forward(model) -> Callable:
    if "forward" in model.methods:
        return model.module.forward
    return lambda x: model.module.decode(model.module.encode(x))


def _check_block(model, block: int) -> None:
    if block <= 0 or block % model.block_multiple:
        raise ValueError(f"block {block} is not a multiple of the model's ratio {model.block_multiple}")


def run_streaming(model, audio: np.ndarray, block: int = 2048, seed: int | None = 0,
                  threads: int | None = 1) -> np.ndarray:
    """Stream mono ``audio`` (at the model's rate) through ``model.module.forward`` (or encode
    then decode) in ``block``-sample calls from fresh caches, as the live engine does; the end is
    zero-padded to a whole block. Returns the raw output (model delay included, channels
    averaged), float32, as long as ``audio``. RAVE decoders draw noise: ``seed`` seeds torch's
    RNG for the run (the global RNG is left as it was; None: unseeded). ``threads``: torch
    threads for the run (see ``torch_threads``)."""
    import torch

    _check_block(model, block)
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    n = len(audio)
    padded = np.zeros(-(-n // block) * block, dtype=np.float32)
    padded[:n] = audio
    forward = _forward(model)
    channels = model.in_channels
    pieces = []
    model.reset_caches()
    with torch.random.fork_rng(), torch.inference_mode(), torch_threads(threads):
        if seed is not None:
            torch.manual_seed(seed)
        for start in range(0, len(padded), block):
            x = torch.from_numpy(padded[start:start + block]).view(1, 1, -1).expand(1, channels, -1).contiguous()
            y = forward(x)
            pieces.append(y[0].mean(dim=0).numpy().astype(np.float32, copy=True))
    model.reset_caches()
    return np.concatenate(pieces)[:n] if pieces else np.zeros(0, dtype=np.float32)


def real_time_factor(model, block: int = 2048, seconds: float = 5.0, warmup: int = 4, threads: int = 1) -> float:
    """Median wall time of one ``block``-sample call divided by the block's duration, on
    ``threads`` torch threads (restored afterwards), after ``warmup`` calls, over ``seconds`` of
    noise at -20 dBFS RMS. Below 1 keeps up with real time; ``BARS`` says how far below."""
    import torch

    _check_block(model, block)
    forward = _forward(model)
    rng = np.random.default_rng(0)
    blocks = max(3, int(round(seconds * model.sample_rate / block)))
    times = []
    try:
        model.reset_caches()
        with torch_threads(threads), torch.inference_mode():
            for i in range(warmup + blocks):
                x = torch.from_numpy((0.1 * rng.standard_normal((1, model.in_channels, block))).astype(np.float32))
                t0 = time.perf_counter()
                forward(x)
                if i >= warmup:
                    times.append(time.perf_counter() - t0)
    finally:
        model.reset_caches()
    return statistics.median(times) / (block / model.sample_rate)


# -- evaluation -----------------------------------------------------------------------------
def bar_for(model) -> dict:
    """The bar of a loaded model's architecture (performer.train.origin): the live model's, or
    the studio model's for it and for models Performer did not train."""
    from performer.train.origin import architecture

    return dict(BARS.get(architecture(model) or "studio", BAR))


def model_block(model) -> int:
    """The block a model runs at live: its ratio when small, else 2048 or more (the engine's)."""
    from performer.audio.engine import default_block_size

    return default_block_size(model.block_multiple)


def _as_pitched(pitched, sr: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Held-out pitched material as one signal (segments joined by 0.25 s of silence) and its
    f0 per sample when given (``pitched_segments`` gives (audio, f0_hz_per_sample) pairs)."""
    if pitched is None:
        return None, None
    if isinstance(pitched, np.ndarray):
        return np.asarray(pitched, dtype=np.float32).reshape(-1), None
    audio, f0 = [], []
    for item in pitched:
        a, f = (item if isinstance(item, tuple) else (item, None))
        a = np.asarray(a, dtype=np.float32).reshape(-1)
        gap = np.zeros(sr // 4, dtype=np.float32)
        audio += [a, gap]
        f0 += [np.zeros(len(a)) if f is None else np.asarray(f, dtype=float).reshape(-1)[:len(a)], np.zeros(len(gap))]
    if not audio:
        return None, None
    return np.concatenate(audio), np.concatenate(f0)


def _truth_agreement(audio: np.ndarray, f0_truth: np.ndarray, sr: int) -> float | None:
    """Share of frames with a true f0 (> 0 at the frame's centre) where YIN on the input is
    voiced and within 50 cents of it: how far the pitch figures can be trusted."""
    f, v, _ = yin_f0(audio, sr)
    centres = np.arange(len(f)) * 512 + 1024
    truth = f0_truth[np.minimum(centres, len(f0_truth) - 1)]
    has = truth > 0
    if not has.any():
        return None
    ok = v[has] & (np.abs(cents(f[has], truth[has])) <= BAR["pitch_cents"])
    return float(ok.mean())


def measure_pair(inp: np.ndarray, out: np.ndarray, sr: int) -> dict:
    """Every per-signal figure for an aligned (input, output) pair."""
    pitch = pitch_agreement(inp, out, sr, tolerance_cents=BAR["pitch_cents"])
    voiced = yin_f0(inp, sr)[1]
    hnr_in = hnr_db(inp, sr, frames=voiced)
    hnr_out = hnr_db(out, sr, frames=voiced)
    return {
        "seconds": len(inp) / sr,
        "loudness_r": loudness_correlation(inp, out, sr),
        "level_db": level_difference_db(inp, out),
        "mss": mss_distance(inp, out, sr),
        "pitch_fraction": pitch["fraction"],
        "median_cents": pitch["median_cents"],
        "voiced_frames": pitch["voiced_frames"],
        "output_voiced": pitch["output_voiced"],
        "hnr_in": hnr_in,
        "hnr_out": hnr_out,
        "hnr_diff": None if hnr_in is None or hnr_out is None else hnr_out - hnr_in,
    }


def evaluate(model, heldout_audio: np.ndarray | None = None, pitched=None, random_model=None, *,
             probes: Mapping[str, np.ndarray] | None = None, sr: int | None = None, block: int | None = None,
             rig=None, max_lag: int = 8192, rtf_seconds: float = 5.0, threads: int | None = 1,
             outputs: dict | None = None, bar: Mapping[str, float] | None = None) -> dict:
    """Measure ``model`` against ``bar`` (default: its architecture's, ``bar_for``).

    Signals: the probes (``probes``: name -> audio at the probes' 44.1 kHz; default every
    ``PROBES`` signal at 6 s), ``heldout_audio`` (training-distribution audio the model has not
    seen, at ``sr``: default the model's rate) as "heldout", and ``pitched`` (an array, or
    ``pitched_segments``' list of (audio, f0_per_sample) pairs, joined with short silences; at
    ``sr`` too) as "pitched"; all are resampled to the model's rate where they differ. Each is
    streamed through the model in ``block``-sample calls (default ``model_block``: its own) (``run_streaming``; with ``rig``, through the rig's block engine with its bends, as
    ``performer render`` does), the output aligned to the input (``estimate_lag`` from the
    model's measured first-response delay up to ``max_lag`` more samples) and measured
    (``measure_pair``). ``random_model``: a random-weights model of the same architecture; its
    MSS on the held-out audio is the reference for the MSS bar. ``outputs``: a dict to receive
    ``name -> (input, aligned output)`` (for plots). ``threads``: torch threads while the
    models run (the RTF is always measured on one).

    Returns ``{"model", "sample_rate", "block", "signals": {name: figures}, "mss_heldout",
    "mss_random", "mss_ratio", "rtf", "yin_truth_agreement", "passes": {...}, "notes": [...]}``.
    Undefined figures are None. ``passes`` holds a boolean per criterion (None when it could not be
    measured: no held-out, pitched or random material) and ``all``, True only when every
    criterion was measured and passed."""
    with torch_threads(threads):
        return _evaluate(model, heldout_audio, pitched, random_model, probes, sr or model.sample_rate,
                         block or model_block(model), rig, max_lag, rtf_seconds, outputs,
                         dict(bar) if bar is not None else bar_for(model))


def _evaluate(model, heldout_audio, pitched, random_model, probes, sr, block, rig, max_lag, rtf_seconds,
              outputs, bar) -> dict:
    from performer.audio.delay import model_delay
    from performer.audio.files import resample

    from performer.train.probes import PROBES
    from performer.train.probes import SR as PROBE_RATE

    rate = model.sample_rate
    if probes is None:
        probes = {name: fn() for name, fn in PROBES.items()}

    def at_rate(audio, source_rate: int) -> np.ndarray:
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        return audio if source_rate == rate else resample(audio[None], source_rate, rate)[0]
    signals: dict[str, np.ndarray] = {name: at_rate(a, PROBE_RATE) for name, a in probes.items()}
    if heldout_audio is not None:
        signals["heldout"] = at_rate(heldout_audio, sr)
    pitched_audio, pitched_f0 = _as_pitched(pitched, sr)
    if pitched_audio is not None:
        signals["pitched"] = at_rate(pitched_audio, sr)
    notes: list[str] = []

    if rig is None:
        first = model_delay(model, block)

        def process(audio: np.ndarray) -> np.ndarray:
            return run_streaming(model, np.concatenate([audio, np.zeros(first + max_lag, np.float32)]), block,
                                 threads=None)
    else:
        from performer.render import render_array

        first = 0  # the engine already compensates the model's measured delay

        def process(audio: np.ndarray) -> np.ndarray:
            padded = np.concatenate([audio, np.zeros(max_lag, np.float32)])[None]
            padded = np.repeat(padded, model.in_channels, axis=0)
            out, _ = render_array(rig, padded, seed=0, block_size=block)
            return out.mean(axis=0)

    results: dict[str, dict] = {}
    for name, audio in signals.items():
        raw = process(audio)
        inp, out, lag = align(audio, raw, max_lag=first + max_lag, min_lag=first, sr=rate)
        figures = measure_pair(inp, out, rate)
        figures["lag"] = lag
        results[name] = figures
        if outputs is not None:
            outputs[name] = (inp, out)

    mss_heldout = results["heldout"]["mss"] if "heldout" in results else None
    mss_random = None
    if random_model is not None and "heldout" in signals:
        audio = signals["heldout"]
        delay = model_delay(random_model, block)
        raw = run_streaming(random_model, np.concatenate([audio, np.zeros(delay, np.float32)]), block,
                            threads=None)
        inp, out, _ = align(audio, raw, delay=delay)  # random output has no envelope to align on
        mss_random = mss_distance(inp, out, rate)
    elif random_model is None:
        notes.append("no random-weights model given: MSS reported raw, its bar not judged")
    mss_ratio = mss_heldout / mss_random if mss_heldout is not None and mss_random else None
    rtf = real_time_factor(model, block, seconds=rtf_seconds)
    truth = _truth_agreement(pitched_audio, pitched_f0, sr) if pitched_f0 is not None else None

    def every(key: str, ok: Callable[[float], bool]) -> bool:
        return all(r[key] is not None and ok(r[key]) for r in results.values())

    pitched_fig = results.get("pitched")
    passes = {
        "loudness": every("loudness_r", lambda v: v >= bar["loudness_r"]),
        "level": every("level_db", lambda v: abs(v) <= bar["level_db"]),
        "mss": None if mss_ratio is None else mss_ratio <= bar["mss_ratio"],
        "pitch": None if pitched_fig is None else (pitched_fig["pitch_fraction"] or 0.0) >= bar["pitch_fraction"],
        "hnr": None if pitched_fig is None else (pitched_fig["hnr_diff"] is not None
                                                 and abs(pitched_fig["hnr_diff"]) <= bar["hnr_db"]),
        "rtf": rtf <= bar["rtf"],
    }
    if heldout_audio is None:
        notes.append("no held-out audio: MSS bar not judged")
    if pitched_fig is None:
        notes.append("no held-out pitched material: pitch and HNR bars not judged")
    passes["all"] = all(v is True for v in passes.values())
    return {
        "model": str(getattr(model, "path", "")),
        "sample_rate": rate,
        "block": block,
        "first_response_delay": first if rig is None else None,
        "signals": results,
        "mss_heldout": mss_heldout,
        "mss_random": mss_random,
        "mss_ratio": mss_ratio,
        "rtf": rtf,
        "yin_truth_agreement": truth,
        "bar": bar,
        "passes": passes,
        "notes": notes,
    }


def finite_or_none(value):
    """JSON-safe copy: NaN/inf floats become None, numpy scalars Python numbers."""
    if isinstance(value, dict):
        return {str(k): finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


__all__ = [
    "BAR", "BARS", "LIVE_BAR", "align", "bar_for", "cents", "estimate_lag", "evaluate", "finite_or_none",
    "frame_count", "hnr_db", "hnr_frames", "level_difference_db", "loudness_correlation", "loudness_envelope",
    "measure_pair", "model_block", "mss_distance", "pitch_agreement", "real_time_factor", "rms", "run_streaming",
    "stft_magnitude", "torch_threads", "yin_f0",
]
