"""One random synthetic instrument playing a random melody: the generator behind train.data.

Each call draws a new "player": a pitch range, articulation (glide, vibrato, ADSR, legato),
a timbre (spectral tilt that brightens with loudness, moving formants, odd/even balance,
slight inharmonicity) and a breath-noise character, then plays a melody with it. Partials
are summed additively, band-limited below ``min(19 kHz, 0.45 * sr)`` so nothing aliases.

Speed (about 0.02 s of CPU per second of audio): timbre is computed at a control rate, each
block's phase is taken relative to its start so float32 sines are exact enough, and the
amplitude interpolation folds into a batched matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

F0_LIMITS = (70.0, 1000.0)  # note pitches are clipped to this range
HOP = 128  # timbre is computed every HOP samples and interpolated; envelopes stay per-sample
CHUNK_BLOCKS = 32  # blocks summed at once: at most 4096 samples x ~300 partials of float32 (5 MB)
PERCUSSION_P = 0.4  # share of segments with drum hits


def loguniform(rng: np.random.Generator, lo: float, hi: float, size=None):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def _bandpass(lo: float, hi: float, sr: int) -> np.ndarray:
    """Order-2 Butterworth band, squeezed under Nyquist for low sample rates."""
    lo = min(lo, 0.2 * sr)
    return signal.butter(2, [lo, min(max(hi, 1.5 * lo), 0.45 * sr)], "bandpass", fs=sr, output="sos")


def partial_limit(sample_rate: int) -> float:
    """No partial may reach this frequency (Hz)."""
    return min(19000.0, 0.45 * sample_rate)


@dataclass
class Instrument:
    centre: float  # Hz; melodies stay within an octave of it
    glide: float  # s, one-pole time constant on log-f0 (portamento)
    vib_rate: float  # Hz
    vib_cents: float  # peak vibrato depth
    vib_mod: float  # Hz, rate at which the vibrato depth breathes in and out
    jitter_cents: float
    attack: float  # s
    decay: float  # s
    sustain: float  # fraction of the note's peak
    release: float  # s
    legato: float  # probability that a note slurs into the next
    tilt: float  # dB per octave of partial number at full loudness
    tilt_loud: float  # extra dB/octave darkening per 24 dB quieter
    formants: np.ndarray  # rows: centre Hz, width (octaves), gain dB, drift (octaves), drift Hz, phase
    even_db: float  # gain of even partials (clarinet-like hollowness when negative)
    inharm: float  # stiff-string coefficient B; 0 for most instruments
    breath: float  # breath noise level relative to the tone
    breath_band: tuple[float, float]
    chiff: float  # attack-noise level relative to the note
    swell_db: float  # phrase swell depth
    swell_hz: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "Instrument":
        nf = int(rng.integers(1, 4))
        formants = np.column_stack([
            loguniform(rng, 300, 4000, nf), rng.uniform(0.15, 0.6, nf), rng.uniform(3, 18, nf),
            rng.uniform(0, 0.5, nf), loguniform(rng, 0.1, 2.0, nf), rng.uniform(0, 2 * np.pi, nf)])
        lo = loguniform(rng, 400, 5000)
        return cls(
            centre=float(loguniform(rng, 110, 600)), glide=float(loguniform(rng, 0.002, 0.06)),
            vib_rate=rng.uniform(4, 7), vib_cents=rng.uniform(0, 40), vib_mod=rng.uniform(0.1, 0.5),
            jitter_cents=rng.uniform(0.5, 5), attack=float(loguniform(rng, 0.004, 0.08)),
            decay=float(loguniform(rng, 0.05, 0.6)), sustain=rng.uniform(0.3, 1.0),
            release=float(loguniform(rng, 0.02, 0.25)), legato=rng.uniform(0, 0.8),
            tilt=rng.uniform(-12, -2), tilt_loud=rng.uniform(1, 8), formants=formants,
            even_db=rng.uniform(-15, 0) if rng.random() < 0.3 else 0.0,
            inharm=float(loguniform(rng, 1e-5, 2e-4)) if rng.random() < 0.25 else 0.0,
            breath=float(loguniform(rng, 0.002, 0.6)), breath_band=(lo, min(lo * rng.uniform(2, 6), 18000.0)),
            chiff=float(loguniform(rng, 0.01, 0.5)), swell_db=rng.uniform(0, 8),
            swell_hz=rng.uniform(0.15, 0.6))


@dataclass
class _Note:
    start: int
    gate: int  # sample where the key is released
    pitch: float  # log2 Hz
    peak: float  # linear velocity
    legato: bool  # slurs into the next note


def _melody(rng: np.random.Generator, ins: Instrument, n: int, sr: int) -> list[_Note]:
    notes, t = [], 0
    while t < n:
        if rng.random() < 0.12:  # a rest
            t += int(rng.uniform(0.05, 0.8) * sr)
            continue
        dur = int(loguniform(rng, 0.08, 0.7) * sr)
        f = np.clip(ins.centre * 2.0 ** rng.uniform(-1, 1), *F0_LIMITS)
        legato = bool(rng.random() < ins.legato)
        gate = t + (dur if legato else int(dur * rng.uniform(0.45, 0.95)))
        notes.append(_Note(t, gate, float(np.log2(f)), 10 ** (rng.uniform(-24, 0) / 20), legato))
        t += dur
    if not notes:  # a very short segment that drew only a rest
        notes.append(_Note(0, n, float(np.log2(ins.centre)), 1.0, False))
    return notes


def _perform(notes: list[_Note], ins: Instrument, n: int, sr: int):
    """Per-sample envelope, key-down mask, target log-pitch and articulated-onset mask."""
    env, gate, onset = np.zeros(n), np.zeros(n, bool), np.zeros(n, bool)
    target = np.full(n, np.nan)
    level = 0.0  # envelope level handed from one note to the next
    for i, nt in enumerate(notes):
        nxt = min(notes[i + 1].start if i + 1 < len(notes) else n, n)
        slurred = i > 0 and notes[i - 1].legato and notes[i - 1].gate == nt.start
        a = ins.attack * (0.3 if slurred else 1.0)  # a slur speaks faster than a fresh attack
        t = np.arange(nxt - nt.start + 1) / sr
        rise = level + (nt.peak - level) * (1 - (1 - np.clip(t / a, 0, 1)) ** 2)
        sus = nt.peak * ins.sustain
        ad = np.where(t < a, rise, sus + (nt.peak - sus) * np.exp(-np.maximum(t - a, 0) / ins.decay))
        tg = (nt.gate - nt.start) / sr
        at_gate = np.interp(tg, t, ad)  # beyond t: the key is still down at the handover
        r = np.clip((t - tg) / ins.release, 0, 1)
        # exponential release that lands exactly on zero, so rests are true silence
        curve = np.where(t < tg, ad, at_gate * (np.exp(-5 * r) - np.exp(-5)) / (1 - np.exp(-5)))
        env[nt.start:nxt], level = curve[:-1], float(curve[-1])
        gate[nt.start:min(nt.gate, n)] = True
        onset[nt.start] = not slurred
        sounding = min(nxt, nt.gate + int(ins.release * sr) + 1)
        target[nt.start:sounding] = nt.pitch
    # rests take the next note's pitch so a note after a rest starts in tune, not gliding
    valid = ~np.isnan(target)
    nxt_idx = np.minimum.accumulate(np.where(valid, np.arange(n), n)[::-1])[::-1]
    filled = np.where(nxt_idx < n, target[np.minimum(nxt_idx, n - 1)], np.nan)
    prev_idx = np.maximum.accumulate(np.where(valid, np.arange(n), 0))
    target = np.where(np.isnan(filled), target[prev_idx], filled)
    return env, gate, target, onset


def _pitch(rng, ins: Instrument, target, onset, n: int, sr: int) -> np.ndarray:
    """f0 in Hz: glide on log-f0, then vibrato whose depth grows into each note, then jitter."""
    k = 1 - np.exp(-1 / (ins.glide * sr))
    logf, _ = signal.lfilter([k], [1, k - 1], target, zi=[(1 - k) * target[0]])
    t = np.arange(n) / sr
    last_onset = np.maximum.accumulate(np.where(onset, np.arange(n), 0)) / sr
    depth = ins.vib_cents * (1 - np.exp(-(t - last_onset) / 0.25))
    depth *= 0.6 + 0.4 * np.sin(2 * np.pi * ins.vib_mod * t + rng.uniform(0, 2 * np.pi))
    cents = depth * np.sin(2 * np.pi * ins.vib_rate * t + rng.uniform(0, 2 * np.pi))
    # jitter: low-passed noise at control rate (~8 Hz wide), interpolated
    m = n // HOP + 2
    kj = 1 - np.exp(-2 * np.pi * 8 * HOP / sr)
    jit = signal.lfilter([kj], [1, kj - 1], rng.standard_normal(m))
    jit *= ins.jitter_cents / (jit.std() + 1e-12)
    cents += np.interp(np.arange(n), np.arange(m) * HOP, jit)
    return 2.0 ** (logf + cents / 1200)


def _partials(ins: Instrument, f0, loud_db, rng, sr: int) -> np.ndarray:
    """Band-limited additive tone with unit-power spectrum per frame; envelope applied later."""
    n, limit = f0.size, partial_limit(sr)
    nb = -(-n // HOP)
    f0p = np.concatenate([f0, np.full(nb * HOP + 1 - n, f0[-1])])
    # phase from the cumulative sum of instantaneous frequency, in float64
    phi = np.concatenate([[0.0], np.cumsum(f0p[:-1] * (2 * np.pi / sr))]) + rng.uniform(0, 2 * np.pi)
    kmax = int(limit / (0.9 * F0_LIMITS[0])) + 1
    k = np.arange(1, kmax + 1, dtype=np.float64)
    mult = k * np.sqrt((1 + ins.inharm * k**2) / (1 + ins.inharm))  # partial 1 sits exactly on f0
    # a control point's amplitudes are interpolated over the blocks either side of it, so a partial
    # is silenced there if it would cross the limit anywhere in those two blocks
    bmax = f0p[: nb * HOP].reshape(nb, HOP).max(1)
    cmax = np.maximum(np.concatenate([bmax[:1], bmax]), np.concatenate([bmax, bmax[-1:]]))
    bmin = f0p[: nb * HOP].reshape(nb, HOP).min(1)
    tc = np.arange(nb + 1) * HOP / sr
    fc = f0p[np.arange(nb + 1) * HOP]
    fm = ins.formants
    fcent = fm[:, 0] * 2.0 ** (fm[:, 3] * np.sin(2 * np.pi * fm[:, 4] * tc[:, None] + fm[:, 5]))
    tilt = ins.tilt + ins.tilt_loud * np.clip(loud_db, -48, 6) / 24  # brighter when louder
    even = np.where(k % 2 == 0, ins.even_db, 0.0)
    w = (np.arange(HOP) / HOP).astype(np.float32)
    out = np.empty(nb * HOP, np.float32)
    b0 = 0
    while b0 < nb:
        b1 = min(nb, b0 + CHUNK_BLOCKS)
        # only the partials that the lowest f0 of this stretch can fit under the limit
        K = max(1, int(np.searchsorted(mult, limit / bmin[b0:b1].min())))
        c = slice(b0, b1 + 1)
        freq = mult[:K] * fc[c, None]
        db = tilt[c, None] * np.log2(mult[:K]) + even[:K]
        db = db + (fm[:, 2] * np.exp(-0.5 * (np.log2(freq[:, :, None] / fcent[c, None, :]) / fm[:, 1]) ** 2)).sum(-1)
        amp = 10 ** (db / 20) * (0.5 + 0.5 * np.cos(np.pi * np.clip((freq / limit - 0.9) / 0.1, 0, 1)))
        amp[mult[:K] * cmax[c, None] >= limit] = 0.0
        amp /= np.sqrt((amp**2).sum(1, keepdims=True)) + 1e-12
        # per block: local phase (small, so float32 is exact enough) plus each partial's offset
        ph = phi[b0 * HOP:b1 * HOP].reshape(b1 - b0, HOP)
        off = np.mod(ph[:, :1] * mult[:K], 2 * np.pi).astype(np.float32)
        s = (ph - ph[:, :1]).astype(np.float32)[:, :, None] * mult[:K].astype(np.float32)
        s += off[:, None, :]
        np.sin(s, out=s)
        # linear interpolation between control points folds into two matrix products
        a = amp.astype(np.float32)
        r = np.matmul(s, np.stack([a[:-1], a[1:] - a[:-1]], -1))
        out[b0 * HOP:b1 * HOP] = (r[..., 0] + w * r[..., 1]).ravel()
        b0 = b1
    return out[:n]


def _percussion(rng, n: int, sr: int) -> np.ndarray:
    """Decaying band-passed noise bursts and pitch-dropping sine kicks on a loose grid."""
    out = np.zeros(n)
    voices = []
    for _ in range(int(rng.integers(1, 3))):
        if rng.random() < 0.6:
            lo = loguniform(rng, 150, 6000)
            sos = _bandpass(lo, lo * rng.uniform(1.5, 4), sr)
            voices.append(("noise", signal.sosfilt(sos, rng.standard_normal(n)), loguniform(rng, 0.02, 0.3)))
        else:
            voices.append(("kick", (rng.uniform(120, 250), rng.uniform(40, 70), rng.uniform(0.02, 0.08)),
                           rng.uniform(0.08, 0.4)))
    step, p = rng.uniform(0.12, 0.5), rng.uniform(0.3, 0.9)
    for start in (np.arange(rng.uniform(0, step), n / sr, step) * sr).astype(int):
        if rng.random() > p:
            continue
        kind, src, decay = voices[int(rng.integers(len(voices)))]
        m = min(n - start, int(5 * decay * sr))
        t = np.arange(m) / sr
        env = np.exp(-t / decay) * np.minimum(t / 0.001, 1) * 10 ** (rng.uniform(-12, 0) / 20)
        if kind == "noise":
            hit = src[start:start + m] / (src.std() + 1e-12)
        else:
            f_hi, f_lo, tau = src
            hit = np.sin(2 * np.pi * np.cumsum(f_lo + (f_hi - f_lo) * np.exp(-t / tau)) / sr)
        out[start:start + m] += env * hit
    return out


def synthesize(rng: np.random.Generator, seconds: float, sample_rate: int,
               percussion: bool = True, noise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One segment and its ground-truth f0 (0 where no key is down).

    ``percussion`` allows drum hits (drawn for PERCUSSION_P of segments); ``noise=False`` leaves
    out breath and attack noise, for checking the harmonic part alone. Peak is normalised to a
    random -24..-1 dBFS.
    """
    n, sr = int(round(seconds * sample_rate)), sample_rate
    if n < 1:
        raise ValueError(f"a segment needs at least one sample, got {seconds} s")
    ins = Instrument.draw(rng)
    env, gate, target, onset = _perform(_melody(rng, ins, n, sr), ins, n, sr)
    t = np.arange(n) / sr
    env *= 10 ** (ins.swell_db * np.sin(2 * np.pi * ins.swell_hz * t + rng.uniform(0, 2 * np.pi)) / 20)
    f0 = _pitch(rng, ins, target, onset, n, sr)
    loud = 20 * np.log10(np.maximum(env[np.minimum(np.arange(-(-n // HOP) + 1) * HOP, n - 1)], 1e-3))
    y = _partials(ins, f0, loud, rng, sr) * env
    if noise:
        breath = signal.sosfilt(_bandpass(*ins.breath_band, sr), rng.standard_normal(n))
        y += ins.breath * env * breath / (breath.std() + 1e-12)
        # chiff: a few ms of band-passed noise on every articulated onset, with a ~1 ms rise
        # (an instant step would be a broadband click)
        strike = np.zeros(n)
        strike[onset] = env[np.minimum(np.flatnonzero(onset) + int(ins.attack * sr), n - 1)]
        chiff = signal.lfilter([1], [1, -np.exp(-1 / (loguniform(rng, 0.003, 0.025) * sr))], strike)
        k = 1 - np.exp(-1 / (0.001 * sr))
        chiff = signal.lfilter([k], [1, k - 1], chiff)
        lo = loguniform(rng, 1000, 6000)
        burst = signal.sosfilt(_bandpass(lo, lo * rng.uniform(2, 4), sr), rng.standard_normal(n))
        y += ins.chiff * chiff * burst / (burst.std() + 1e-12)
    if percussion and rng.random() < PERCUSSION_P:
        y += _percussion(rng, n, sr) * 10 ** (rng.uniform(-18, 0) / 20) * max(np.abs(y).max(), 1e-3)
    # pools concatenate segments: short fades keep the joins from clicking
    for edge, m in ((slice(None, None), int(0.005 * sr)), (slice(None, None, -1), int(0.02 * sr))):
        m = min(m, n)
        y[edge][:m] *= np.sin(0.5 * np.pi * np.arange(m) / m) ** 2
    peak = np.abs(y).max()
    if peak > 0:
        y *= 10 ** (rng.uniform(-24, -1) / 20) / peak
    return y.astype(np.float32), np.where(gate, f0, 0.0).astype(np.float32)
