"""Seeded synthetic training audio for a small RAVE-style autoencoder (44.1 kHz mono float32).

The default model is trained on this instead of a recorded corpus: it needs no download and
no licence, it is reproducible bit for bit from a seed, and it is expressive instrument
material (melodies with glides, vibrato, articulation, breath, swells, rests and occasional
drums) rather than static tones, so the model learns what a performer bends. Every 4-s
segment is a new random instrument (see instruments.py).

``make_pool`` renders a pool once; ``ExcerptSampler`` draws training batches from it with
a resumable RNG; ``pitched_segments`` gives held-out drum-free material with its true f0.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from performer.train.instruments import synthesize

SAMPLE_RATE = 44100
SEGMENT_SECONDS = 4.0


def render_segment(rng: np.random.Generator, seconds: float = SEGMENT_SECONDS,
                   sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """One random instrument playing for ``seconds``; float32, peak at -24..-1 dBFS."""
    return synthesize(rng, seconds, sample_rate)[0]


def _segment(args) -> np.ndarray:
    seq, sample_rate = args
    return render_segment(np.random.default_rng(seq), SEGMENT_SECONDS, sample_rate)


def make_pool(seed: int, seconds: float, sample_rate: int = SAMPLE_RATE, workers: int = 1) -> np.ndarray:
    """``seconds`` of audio: segments seeded from SeedSequence(seed).spawn, so the result is the
    same whatever ``workers`` is (the last segment is cut to length). ``workers > 1`` renders
    in spawned processes, so a calling script needs the usual ``__main__`` guard."""
    n = int(round(seconds * sample_rate))
    per = int(round(SEGMENT_SECONDS * sample_rate))
    jobs = [(s, sample_rate) for s in np.random.SeedSequence(seed).spawn(-(-n // per))]
    out = np.empty(len(jobs) * per, np.float32)
    if workers > 1 and len(jobs) > 1:
        # spawn, not fork: the caller may already run torch threads, which do not survive a fork
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx) as ex:
            for i, seg in enumerate(ex.map(_segment, jobs)):
                out[i * per:(i + 1) * per] = seg
    else:
        for i, job in enumerate(jobs):
            out[i * per:(i + 1) * per] = _segment(job)
    return out[:n]


class ExcerptSampler:
    """Random ``length``-sample excerpts of a pool, each at a random gain of -12..+6 dB.

    The gain spread teaches the model levels beyond the pool's own; clipping at ±0.99 keeps the
    hot ones legal. ``state``/``set_state`` carry the RNG so a resumed run draws the same batches.
    """

    GAIN_DB = (-12.0, 6.0)
    CLIP = 0.99

    def __init__(self, pool: np.ndarray, length: int, seed: int):
        pool = np.asarray(pool, np.float32)
        if pool.ndim != 1 or length < 1 or pool.size < length:
            raise ValueError(f"need a 1-D pool of at least {length} samples, got shape {pool.shape}")
        self.pool, self.length = pool, int(length)
        self._windows = np.lib.stride_tricks.sliding_window_view(pool, self.length)
        self._rng = np.random.default_rng(seed)

    def batch(self, size: int) -> np.ndarray:
        starts = self._rng.integers(0, self._windows.shape[0], size)
        gains = 10 ** (self._rng.uniform(*self.GAIN_DB, size) / 20)
        out = self._windows[starts] * gains[:, None].astype(np.float32)
        return np.clip(out, -self.CLIP, self.CLIP, out=out)

    def state(self) -> dict:
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self._rng.bit_generator.state = state


def pitched_segments(seed: int, count: int, seconds: float = SEGMENT_SECONDS,
                     sample_rate: int = SAMPLE_RATE) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` drum-free segments with the f0 (Hz per sample) the synth played, 0 where no key
    is down (rests, release tails). Drawn from a stream separate from ``make_pool(seed, ...)``."""
    seqs = np.random.SeedSequence([seed, 1]).spawn(count)
    return [synthesize(np.random.default_rng(s), seconds, sample_rate, percussion=False) for s in seqs]
