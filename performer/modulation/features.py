"""Audio features of the input, for modulators: loudness, envelope, spectral flux, onsets, pitch.

Two threads, no lock between them:

- ``push(block)``: the model thread, once per block, with the input it is about to process. It
  only copies the block into a preallocated ring and then advances one integer (a single store:
  the reader never sees a half-advanced count). O(block), no allocation of sample memory, a few
  microseconds. Not for the audio callback (it is not realtime-safe to call Python there anyway).
- ``analyse()``: the modulation thread, once per control tick. It copies the newest samples out
  (checking afterwards that the writer did not lap them) and computes every feature a modulator
  asked for from that copy. Its FFTs never run on the model thread.

Each feature is a value in 0..1 (``value(kind)``):
  loudness  RMS of the samples since the last tick, -60..0 dBFS mapped to 0..1
  envelope  peak of the same samples, same mapping (the modulator's attack/release shape it)
  flux      positive spectral flux between successive 1024-sample windows, over its running peak
  onset     1 at the tick an onset is detected (flux over an adaptive threshold), else 0
  pitch     the fundamental (autocorrelation, 50..1000 Hz) as MIDI note 24..96 mapped to 0..1;
            held while the input is unvoiced
"""

from __future__ import annotations

import math

import numpy as np

FLOOR_DB = -60.0
FFT_SIZE = 1024
PITCH_SIZE = 2048
PITCH_RANGE_HZ = (50.0, 1000.0)
NOTE_RANGE = (24.0, 96.0)
VOICED = 0.5  # normalised autocorrelation above which a frame has a pitch
ONSET_REFRACTORY_S = 0.05


def db_to_unit(db: float) -> float:
    return min(max((db - FLOOR_DB) / -FLOOR_DB, 0.0), 1.0)


class Features:
    """The input's features at control rate, fed by the model thread (see the module doc)."""

    def __init__(self, sample_rate: float, ring_size: int = 1 << 15):
        if ring_size < 2 * PITCH_SIZE:
            raise ValueError(f"ring_size must be at least {2 * PITCH_SIZE}, got {ring_size}")
        self.sample_rate = float(sample_rate)
        self._ring = np.zeros(ring_size, dtype=np.float32)
        self._size = ring_size
        self.written = 0  # samples pushed so far; the model thread's only published value
        self._read = 0  # samples the analyser has consumed (modulation thread)
        self._window = np.hanning(FFT_SIZE).astype(np.float32)
        self._prev_mag: np.ndarray | None = None
        self._flux_peak = 1e-9
        self._flux_mean = 0.0
        self._last_onset = -1.0
        self._pitch_unit = 0.0
        self.torn = 0  # analyses discarded because the writer lapped the copy (should stay 0)
        self.values = {"loudness": 0.0, "envelope": 0.0, "flux": 0.0, "onset": 0.0, "pitch": 0.0}
        self.pitch_hz = 0.0
        self.level_db = FLOOR_DB

    # -- model thread ---------------------------------------------------------------------------
    def push(self, block: np.ndarray) -> None:
        """Copy the input block (float32 [frames] or [channels, frames]; channel 0 is used) in.
        Model thread only; one writer."""
        x = block[0] if block.ndim == 2 else block
        n = x.shape[0]
        if n > self._size:
            x, n = x[n - self._size:], self._size
        start = self.written % self._size
        first = min(n, self._size - start)
        self._ring[start:start + first] = x[:first]
        if first < n:
            self._ring[:n - first] = x[first:]
        self.written += n  # published last: what it counts is already in the ring

    # -- modulation thread ----------------------------------------------------------------------
    def value(self, kind: str) -> float:
        return self.values[kind]

    def latest(self, n: int) -> np.ndarray | None:
        """A copy of the newest ``n`` samples, or None when fewer were pushed or the writer lapped
        the copy while it was taken."""
        end = self.written
        if end < n:
            return None
        start = (end - n) % self._size
        if start + n <= self._size:
            out = self._ring[start:start + n].copy()
        else:
            out = np.concatenate((self._ring[start:], self._ring[:n - (self._size - start)]))
        if self.written - end > self._size - n:  # overwritten during the copy
            self.torn += 1
            return None
        return out

    def analyse(self, needs: set[str], now: float) -> dict[str, float]:
        """Update the features in ``needs`` from what was pushed since the last call."""
        end = self.written
        fresh = min(end - self._read, self._size // 2)
        self._read = end
        if fresh > 0 and needs & {"loudness", "envelope"}:
            x = self.latest(fresh)
            if x is not None:
                rms = math.sqrt(float(np.dot(x, x)) / fresh)
                peak = float(np.max(np.abs(x)))
                self.level_db = 20.0 * math.log10(max(rms, 1e-9))
                self.values["loudness"] = db_to_unit(self.level_db)
                self.values["envelope"] = db_to_unit(20.0 * math.log10(max(peak, 1e-9)))
        elif fresh == 0 and end == 0:
            self.values["loudness"] = self.values["envelope"] = 0.0
        if fresh > 0 and needs & {"flux", "onset"}:
            self._flux(now)
        elif "onset" in needs:
            self.values["onset"] = 0.0
        if fresh > 0 and "pitch" in needs:
            self._pitch()
        return self.values

    def _flux(self, now: float) -> None:
        x = self.latest(FFT_SIZE)
        if x is None:
            return
        mag = np.abs(np.fft.rfft(x * self._window))
        if self._prev_mag is None:
            self._prev_mag = mag
            return
        flux = float(np.sum(np.maximum(mag - self._prev_mag, 0.0)))
        self._prev_mag = mag
        self._flux_peak = max(flux, self._flux_peak * 0.999)  # a running peak that forgets slowly
        self.values["flux"] = flux / self._flux_peak if self._flux_peak > 1e-6 else 0.0
        threshold = 1.5 * self._flux_mean + 0.05 * self._flux_peak
        onset = flux > threshold and now - self._last_onset > ONSET_REFRACTORY_S
        if onset:
            self._last_onset = now
        self.values["onset"] = 1.0 if onset else 0.0
        self._flux_mean += 0.1 * (flux - self._flux_mean)

    def _pitch(self) -> None:
        x = self.latest(PITCH_SIZE)
        if x is None:
            return
        x = x - float(np.mean(x))
        spectrum = np.fft.rfft(x, 2 * PITCH_SIZE)
        acf = np.fft.irfft(spectrum * np.conj(spectrum))[:PITCH_SIZE]
        if acf[0] <= 1e-9:
            return
        lo = int(self.sample_rate / PITCH_RANGE_HZ[1])
        hi = min(int(self.sample_rate / PITCH_RANGE_HZ[0]), PITCH_SIZE // 2)
        # unbiased normalisation: the overlap shrinks with the lag
        norm = acf[lo:hi] / acf[0] * (PITCH_SIZE / (PITCH_SIZE - np.arange(lo, hi)))
        best = float(np.max(norm))
        if best < VOICED:
            return  # unvoiced: hold the last pitch
        # the shortest lag near the best: multiples of the period score as high (octave errors)
        k = int(np.argmax(norm >= 0.9 * best))
        while k + 1 < len(norm) and norm[k + 1] > norm[k]:
            k += 1
        lag = float(lo + k)
        if 0 < k < len(norm) - 1:  # parabolic interpolation of the peak
            a, b, c = norm[k - 1], norm[k], norm[k + 1]
            denom = a - 2 * b + c
            if denom != 0:
                lag += 0.5 * (a - c) / denom
        self.pitch_hz = self.sample_rate / lag
        note = 69.0 + 12.0 * math.log2(self.pitch_hz / 440.0)
        self.values["pitch"] = min(max((note - NOTE_RANGE[0]) / (NOTE_RANGE[1] - NOTE_RANGE[0]), 0.0), 1.0)


class SilentFeatures(Features):
    """No input (a show without audio, unit tests): every feature stays 0."""

    def __init__(self):
        super().__init__(48000.0, 2 * PITCH_SIZE)

    def analyse(self, needs: set[str], now: float) -> dict[str, float]:
        return self.values
