"""What the live server knows about itself, for the status line, the dashboard and benches.

Counters are written by one thread each (device side in shared memory, model thread here) and
read by anyone; ``snapshot`` is a plain dict.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from performer.audio.engine import BlockEngine
from performer.live.retake import Retakes
from performer.live.schedule import LateStart, due_in
from performer.live.shared import (CALLBACK_GAP_MAX_NS, CALLBACK_MAX_NS, CALLBACKS, LATE_FRAMES, XRUNS,
                                   XRUNS_AFTER_WARMUP, SharedAudio)


@dataclass
class Latency:
    """Device frames from input to output, and what they are made of."""

    rate: int
    block: int          # gathering one model block (in device frames)
    headroom: int       # frames the output waits beyond the block, so the model can compute it
    period: int         # the device's callback size
    signal: float       # resamplers, the model's own delay, limiter look-ahead
    device_in: float    # seconds, as the device reports them
    device_out: float

    @property
    def ring_frames(self) -> int:
        """Output frame = input frame + this (the output ring is primed with it)."""
        return self.block + self.headroom

    @property
    def compute_window(self) -> int:
        """Frames of time between a block's last input callback and the callback that first
        plays its output: the model thread's budget per block (headroom is one period less,
        because a callback delivers input and takes output in the same period)."""
        return self.headroom + self.period

    @property
    def internal_frames(self) -> float:
        return self.ring_frames + self.signal

    @property
    def total_seconds(self) -> float:
        return self.internal_frames / self.rate + self.device_in + self.device_out

    def describe(self) -> str:
        ms = 1000.0 / self.rate
        return (f"{self.total_seconds * 1000:.1f} ms in to out: block {self.block * ms:.1f} + headroom "
                f"{self.headroom * ms:.1f} + model/resampling {self.signal * ms:.1f} + device "
                f"{1000 * (self.device_in + self.device_out):.1f}; the model has {self.compute_window * ms:.1f} ms "
                f"per block")


@dataclass
class Telemetry:
    shared: SharedAudio
    engine: BlockEngine
    latency: Latency
    device_state: str = "starting"
    device_message: str = ""
    device_restarts: int = 0
    input_dropped: int = 0
    late_written: int = 0
    recording: str = ""
    model_priority: str = "normal"  # the model thread's scheduling, as it got it
    schedule: LateStart | None = None  # when blocks start
    retakes: Retakes | None = None  # blocks computed again for late knob moves
    margin_min: float | None = None  # seconds: the least margin a block was written with
    entry_max: float = 0.0  # seconds: the longest a complete block waited for the model thread
    latency_grown: int = 0  # frames of output latency added after late blocks
    late_blocks: deque = field(default_factory=lambda: deque(maxlen=8))  # where late blocks' time went
    installs: deque = field(default_factory=lambda: deque(maxlen=4096))  # (perf time heard, blocks)
    started: float = field(default_factory=time.monotonic)

    def note_margin(self, queued: int, since_callback_s: float) -> None:
        """Model thread: a block was written with ``queued`` frames still to play before it,
        ``since_callback_s`` after the last callback. Its margin is the time until the callback that
        reads its first frame (negative: late). The least margin shows how near the show came to a
        dropout."""
        margin = due_in(queued, since_callback_s, self.latency.period, self.latency.rate)
        if self.margin_min is None or margin < self.margin_min:
            self.margin_min = margin

    def note_entry(self, waited_s: float) -> None:
        """Model thread: a block started ``waited_s`` after its input was complete."""
        if waited_s > self.entry_max:
            self.entry_max = waited_s

    def note_late_block(self, entry_s: float, take_s: float, after_s: float, late_frames: int) -> None:
        """Model thread: a block missed its deadline; where its time went (the last few are kept)."""
        self.late_blocks.append({"waited_ms": round(1000 * entry_s, 2), "take_ms": round(1000 * take_s, 2),
                                 "model_ms": round(self.engine.stats.last_model_ms, 2),
                                 "after_ms": round(1000 * after_s, 2),
                                 "late_ms": round(1000 * late_frames / self.latency.rate, 2)})

    def note_install(self, heard_at: float) -> None:
        """Model thread: a block with freshly installed tensors will be heard at ``heard_at``."""
        self.installs.append(heard_at)

    def snapshot(self) -> dict:
        h, stats = self.shared.header, self.engine.stats
        recent = np.array(stats.recent_ms, dtype=np.float64) if stats.recent_ms else np.zeros(1)
        block_ms = 1000.0 * self.engine.block_size / self.engine.model.sample_rate
        rate = self.latency.rate
        return {
            "state": self.device_state, "message": self.device_message, "model": self.engine.model.path.stem,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "device_rate": rate, "model_rate": self.engine.model.sample_rate,
            "block": self.engine.block_size, "block_ms": round(block_ms, 2),
            "latency_ms": round(self.latency.total_seconds * 1000, 1),
            "latency_grown_ms": round(1000.0 * self.latency_grown / rate, 1),
            "model_ms": {"last": round(float(stats.last_model_ms), 2), "mean": round(float(recent.mean()), 2),
                         "p95": round(float(np.percentile(recent, 95)), 2), "max": round(float(recent.max()), 2)},
            "realtime_factor": round(float(recent.mean()) / block_ms, 3),
            "model_priority": self.model_priority,
            "callbacks": int(h[CALLBACKS]), "xruns": int(h[XRUNS]), "xruns_after_warmup": int(h[XRUNS_AFTER_WARMUP]),
            "late_frames": int(h[LATE_FRAMES]), "input_dropped": self.input_dropped,
            "margin_ms_min": None if self.margin_min is None else round(1000.0 * self.margin_min, 2),
            "entry_ms_max": round(1000.0 * self.entry_max, 2),
            "late_blocks": list(self.late_blocks),
            "callback_us": {"max": round(int(h[CALLBACK_MAX_NS]) / 1000, 1),
                            "gap_max": round(int(h[CALLBACK_GAP_MAX_NS]) / 1000, 1)},
            "ring_fill": {"input": self.shared.input.unread(), "output": self.shared.output.unread(),
                          "output_target": self.latency.ring_frames},
            "blocks": stats.blocks, "guard_events": stats.guard_events, "model_errors": stats.model_errors,
            "last_error": stats.last_error, "tensors_installed": stats.tensors_installed,
            "device_restarts": self.device_restarts, "recording": self.recording,
            "late_start": None if self.schedule is None else self.schedule.snapshot(),
            "retakes": None if self.retakes is None else self.retakes.snapshot(),
        }

    def status_line(self, snapshot: dict | None = None) -> str:
        """One line for the console; of ``snapshot`` when given (the stop summary's, so the last
        line printed and the summary agree)."""
        s = snapshot if snapshot is not None else self.snapshot()
        fill = s["ring_fill"]
        parts = [s["state"], f"{s['model']}: {s['model_ms']['mean']:.1f}/{s['model_ms']['max']:.1f} ms",
                 f"latency {s['latency_ms']:.1f} ms",
                 f"RTF {s['realtime_factor']:.2f}", f"xruns {s['xruns_after_warmup']}",
                 f"late {s['late_frames']}", f"out ring {100 * fill['output'] / max(1, fill['output_target']):.0f}%",
                 f"margin {'-' if s['margin_ms_min'] is None else format(s['margin_ms_min'], '.1f')} ms",
                 f"guard {s['guard_events']}", f"errors {s['model_errors']}"]
        retakes = s["retakes"]
        if retakes and retakes["done"]:
            parts.append(f"retakes {retakes['kept'] + retakes['spliced']}/{retakes['done']}")
        if s["input_dropped"]:
            parts.append(f"dropped {s['input_dropped']}")
        if s["latency_grown_ms"]:
            parts.append(f"latency +{s['latency_grown_ms']:.1f} ms")
        if s["device_restarts"]:
            parts.append(f"restarts {s['device_restarts']}")
        if s["recording"]:
            parts.append(f"REC {s['recording']}")
        return " | ".join(parts)
