"""Audio files in and out (WAV, FLAC, and anything libsndfile reads), resampling, channel fitting.

Writes are atomic (``performer.atomic``): a crash or a full disk never leaves a half-written
bounce under the requested name.
"""

from __future__ import annotations

import os
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from performer.atomic import atomic_file
from performer.errors import AudioFileError, ChannelMismatchError

WRITE_FORMATS = {".wav": ("WAV", "PCM_24"), ".flac": ("FLAC", "PCM_24")}


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a file as float32 [channels, frames] and its sample rate."""
    path = Path(path)
    if not path.exists():
        raise AudioFileError(f"audio file not found: {path}")
    if path.is_dir():
        raise AudioFileError(f"{path} is a directory; give an audio file (WAV, FLAC, OGG, AIFF)")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioFileError(f"cannot read {path} as audio ({exc}); use WAV, FLAC, OGG or AIFF") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{path} holds no audio frames")
    if not np.isfinite(data).all():
        raise AudioFileError(f"{path} holds NaN or infinite samples; re-export it as PCM")
    return np.ascontiguousarray(data.T), int(rate)


def check_writable(path: str | os.PathLike) -> tuple[str, str]:
    """The (format, subtype) for ``path``; raise before any work if it cannot be written."""
    path = Path(path)
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise AudioFileError(f"cannot write {path}: output must end in {' or '.join(WRITE_FORMATS)}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise AudioFileError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise AudioFileError(f"cannot write {path}: directory {parent} is not writable")
    return fmt


def write_audio(path: str | os.PathLike, audio: np.ndarray, rate: int) -> None:
    """Write float [channels, frames] atomically."""
    path = Path(path)
    fmt, subtype = check_writable(path)
    with atomic_file(path) as f:
        sf.write(f, np.ascontiguousarray(audio.T), rate, format=fmt, subtype=subtype)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling of a whole signal [channels, frames]."""
    if rate_in == rate_out:
        return audio
    g = gcd(rate_in, rate_out)
    return resample_poly(audio, rate_out // g, rate_in // g, axis=1).astype(np.float32)


def fit_channels(audio: np.ndarray, channels: int, what: str = "audio") -> np.ndarray:
    """Mono to N channels by copying, N to mono by averaging; other counts are an error."""
    have = audio.shape[0]
    if have == channels:
        return audio
    if have == 1:
        return np.repeat(audio, channels, axis=0)
    if channels == 1:
        return audio.mean(axis=0, keepdims=True)
    raise ChannelMismatchError(
        f"{what} has {have} channels but the model takes {channels}; only mono<->N is converted "
        f"automatically: mix the file down or choose a {have}-channel model")
