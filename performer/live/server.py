"""The live server: device process, model thread, bend worker, supervisor.

  device callback --input ring--> model thread (pipeline: resample, blocks, engine) --output ring--> device
                                        ^ installs bent tensors between blocks
  control threads -> Rig.set -> bend worker computes -> published for the model thread

The output ring is primed with ``latency.ring_frames`` of silence, and output frame numbers are
tied to input frame numbers, so latency is constant for the whole show; only a block that misses
its deadline moves the output later, by its lateness, up to MAX_GROWTH_PERIODS periods in all.
A block is computed as soon as its input is in, and again just before it is due if a knob moved
meanwhile (a retake: live/retake.py).
"""

from __future__ import annotations

import gc
import logging
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from performer.audio.checkpoint import PackedCaches, pack_for_retakes
from performer.audio.delay import model_delay
from performer.audio.engine import BlockEngine, EngineStats, default_block_size
from performer.audio.files import fit_channels, read_audio, resample
from performer.errors import PerformerError
from performer.model.loader import NNModel
from performer.live.clock import ClockHost
from performer.live.device_link import DeviceConfig, DeviceError, DeviceLink
from performer.live.fades import Fades
from performer.live.inputs import LoopedFileInput, RingInput
from performer.live.monitor import Monitor
from performer.live.pipeline import LivePipeline
from performer.live.recording import Recording
from performer.live.retake import Retakes, splice
from performer.live.schedule import LateStart
from performer.live.swap import Crossfade, Incoming, pad_for
from performer.live.shared import CALLBACKS, HEARTBEAT_NS, OUT_READ, Layout, SharedAudio
from performer.live.telemetry import Latency, Telemetry
from performer.rig import Change, Rig

log = logging.getLogger("performer.live")

RING_CAPACITY = 1 << 18
WARMUP_BLOCKS = 6
THREAD_WARMUP_BLOCKS = 3  # more, on the model thread itself (see _model_loop)
MODEL_THREAD_NICE = -10  # ahead of control threads and other programs, behind the device callback's FIFO
MAX_GROWTH_PERIODS = 4  # a late block adds a period of latency, up to this many (see _make_room)
# Blocks this small (the live model's 128) are a few ms: a late one costs itself (its head is
# dropped), never a lasting growth of the latency, which would double a 10 ms path.
SMALL_BLOCK_MS = 10.0
SMALL_WAKE_S = 0.001  # beside 2x the measured block time: the model thread's wake-up on a busy machine
SPLICE_FROM_BLOCK = 1024  # blocks this long hear knobs mid-block by default (25-40 ms against 55-61)
NO_EXACT_CACHES = "this model keeps streaming state outside its caches: a block cannot be computed twice"
MIN_WINDOW_S = 0.015  # the model thread's minimum time per block: OS and GIL jitter on a busy machine
POLL_S = 0.0005  # the model thread's input polling in the last period before a block is complete
SPLICE_POLL_S = 0.001  # with spliced knobs, how often the model thread looks for a knob move while a block plays
GIL_SWITCH_S = 0.0005  # the model thread waits at most this for the GIL after each torch call (default 5 ms)


def default_record_dir() -> Path:
    return Path.home() / "Music" / "Performer"


@dataclass
class ServeOptions:
    input_device: int | str | None = None
    output_device: int | str | None = None
    input_file: str | Path | None = None
    output_file: str | Path | None = None
    in_channels: int | None = None
    out_channels: int | None = None
    samplerate: int | None = None
    period: int = 0                  # device blocksize; 0 = the device's own (JACK: its period)
    block: int | None = None         # model block size
    headroom_ms: float | None = None  # None = from the measured model time
    reserve_ms: float | None = None   # blocks start this long before due; None = as soon as their input is in
    retakes: bool = True              # compute a block again when a knob moved before it is due
    splice_knobs: bool | None = None  # ... and while it plays, spliced in mid-block (live/retake.py);
                                      # None: on for blocks of SPLICE_FROM_BLOCK or more
    threads: int = 1
    record_dir: Path = field(default_factory=default_record_dir)
    record_input: bool = False
    client_name: str = "performer"
    seed: int = 0
    retry_s: float = 2.0
    stall_s: float = 2.0
    report: Callable[[str], None] | None = None


class LiveServer:
    def __init__(self, rig: Rig, options: ServeOptions | None = None, features=None):
        """``features``: the modulation's input analyser (``push`` per block on the model
        thread: a copy into its ring, no lock); None: none."""
        self.rig = rig
        self.features = features
        self.options = options or ServeOptions()
        self.telemetry: Telemetry | None = None
        self.latency: Latency | None = None
        self.device_info = None
        self._froze = False
        self.monitor = Monitor()  # latest block in/out for meters (dashboard)
        self.input_name = ""
        self._device_input = None
        self._input_request = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._pause = threading.Event()
        self._paused = threading.Event()
        self._model_ready = threading.Event()
        self._block_done = threading.Event()
        self._fade_request = threading.Event()
        self._faded = threading.Event()
        self.fades: Fades | None = None  # in at the start, out at stop (live/fades.py)
        self.show: dict | None = None  # telemetry when the fade-out was heard: the show without its shutdown
        self.recording: Recording | None = None
        self._packed: PackedCaches | None = None  # the model's caches, while retakes use them packed
        self._outgoing_packed: PackedCaches | None = None  # a swapped-out model's, until released
        self._retakes_wanted = False  # retakes run for this show: a swapped-in model gets them too
        self._grew = False
        self._take: _Take | None = None  # the block written last, while a retake may replace it
        self._install_unheard = False  # a late retake installed tensors: the next block is their first
        self.shared: SharedAudio | None = None
        self.host = None
        self._swap_request: tuple[Incoming, float, threading.Event] | None = None
        self._swapping: tuple[Incoming, threading.Event] | None = None

    @property
    def has_device_input(self) -> bool:
        """Whether a device input exists to switch back to (not a file-only show)."""
        return self._device_input is not None

    @property
    def running(self) -> bool:
        """Started and not stopped: its model thread plays."""
        return bool(self._threads) and not self._stop.is_set()

    @property
    def blocks(self) -> int | None:
        """Blocks the engine has computed, while it runs (scene recalls quantise on it)."""
        return self.engine.stats.blocks if self.telemetry is not None else None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "LiveServer":
        o, model = self.options, self.rig.model
        if o.reserve_ms is not None and not o.reserve_ms >= 0:
            raise ValueError(f"reserve must be >= 0 ms, got {o.reserve_ms}")
        torch.set_num_threads(o.threads)
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_S))
        probe = BlockEngine(self.rig, block_size=o.block, compute_bends=False)
        self.engine = BlockEngine(self.rig, block_size=probe.block_size, compute_bends=False,
                                  dry_delay=model_delay(model, probe.block_size))
        retake_off, caches = self._prepare_retakes()
        warm_ms = self._warm_up()
        source = None
        if o.input_file is not None:
            audio, rate = read_audio(o.input_file)
            source = (fit_channels(audio, model.in_channels, what=str(o.input_file)), rate)

        layout_in = o.in_channels or model.in_channels
        layout_out = o.out_channels or max(2, model.out_channels)
        if o.input_file is not None and o.output_file is not None:
            rate = o.samplerate or model.sample_rate
            layout = Layout(RING_CAPACITY, model.in_channels, model.out_channels)
            self.shared = SharedAudio.create(layout)
            self.host = ClockHost(self.shared, rate, o.period or 256)
            dev_in, dev_out, period, device_latency = model.in_channels, model.out_channels, o.period or 256, (0.0, 0.0)
            self.device_info = {"devices": {"input": str(o.input_file), "output": str(o.output_file)},
                                "hostapi": "headless clock"}
        else:
            layout = Layout(RING_CAPACITY, layout_in, layout_out)
            self.shared = SharedAudio.create(layout)
            config = DeviceConfig(input_device=o.input_device, output_device=o.output_device,
                                  use_input=o.input_file is None, use_output=o.output_file is None,
                                  in_channels=layout_in, out_channels=layout_out, samplerate=o.samplerate,
                                  blocksize=o.period, client_name=o.client_name)
            self.host = DeviceLink(self.shared, config)
            try:
                opened = self.host.open()
            except DeviceError:
                self.shared.unlink()
                raise
            rate = opened.samplerate
            dev_in = opened.in_channels or model.in_channels
            dev_out = opened.out_channels or model.out_channels
            period = opened.blocksize or max(64, round(max(opened.latency) * rate)) or 256
            device_latency = opened.latency
            self.device_info = {"devices": opened.devices, "hostapi": opened.hostapi, "priority": opened.priority}

        self.rate = rate
        if self.features is not None:  # it hears the device's frames, before any resampling
            self.features.sample_rate = float(rate)
        self.fades = Fades(rate)
        self.pipeline = LivePipeline(self.engine, rate, model.in_channels if source else dev_in, dev_out,
                                     retakes=not retake_off, caches=caches)
        small = self._small_blocks()
        if o.headroom_ms is not None:
            window_s = o.headroom_ms / 1000.0
        elif small:  # measured, not floored: the floor alone would be more than the whole 10 ms target
            window_s = 2 * warm_ms / 1000 + SMALL_WAKE_S
        else:
            window_s = max(MIN_WINDOW_S, 3 * warm_ms / 1000)
        window = period * max(1, math.ceil(window_s * rate / period))  # output is taken a period at a time
        # A block shorter than a period (the live model's 128 at a period of 256) still arrives a
        # period at a time and must be played a period at a time: the ring holds a period at least.
        headroom = window - period + max(0, period - self.pipeline.block_device_frames)
        self.schedule = LateStart(rate, period, window, None if o.reserve_ms is None else o.reserve_ms / 1000.0)
        self.retakes = Retakes(rate, period, window, enabled=not retake_off, reason=retake_off,
                               splice_knobs=self._splices(o) and not retake_off)
        self.retakes.note_take(warm_ms / 1000)
        self._max_growth = 0 if small else MAX_GROWTH_PERIODS * period
        self.latency = Latency(rate=rate, block=self.pipeline.block_device_frames, headroom=headroom, period=period,
                               signal=self.pipeline.signal_delay, device_in=float(device_latency[0]),
                               device_out=float(device_latency[1]))
        if self.latency.ring_frames + 4 * period > RING_CAPACITY // 2:
            self.close()
            raise DeviceError(f"latency of {self.latency.ring_frames} frames does not fit the audio rings; "
                              f"use a smaller --block or --headroom")
        self.telemetry = Telemetry(self.shared, self.engine, self.latency, schedule=self.schedule,
                                   retakes=self.retakes)
        if source is not None:
            audio, file_rate = source
            self.input = LoopedFileInput(resample(audio, file_rate, rate).T.copy(), self.shared, rate,
                                         self.latency.ring_frames)
            self.input_name = Path(str(o.input_file)).name
            self._device_input = None
        else:
            self.input = self._device_input = RingInput(self.shared.input.with_channels(dev_in))
            self.input_name = "device"
        self.recording = Recording(o.record_dir, rate, dev_out, self.pipeline.device_in_channels, o.record_input,
                                   self._report)
        if o.output_file is not None:
            self.recording.open_output_file(o.output_file)
        self._prime()
        self.rig.add_listener(self._on_change, inline=True)  # `record` starts at the knob
        # A full collection walks every object (the model's included: ~100 ms here) holding the
        # GIL, which stalls the model thread past its compute window. Freeze what exists now; later
        # collections walk only what the show allocates.
        gc.collect()
        gc.freeze()
        self._froze = True
        for target, name in ((self._model_loop, "model"), (self._bend_loop, "bends"), (self._supervise, "supervisor")):
            thread = threading.Thread(target=target, name=f"performer-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._model_ready.wait(10)
        self.host.start()
        self.telemetry.device_state = "running"
        return self

    def fade_out(self, timeout_s: float = 1.0) -> dict | None:
        """End the show: fade the output to silence (live/fades.py), wait until the device has played
        the fade, and keep the telemetry of that moment in ``show`` (returned), so a summary leaves
        out what stopping costs (a dashboard's shutdown holding the GIL, the model thread ending
        while the device still plays). Any thread but the model's; once per show (``stop`` calls
        it too); no fade when the audio is not running."""
        if self.show is not None or self.telemetry is None:
            return self.show
        if self._threads and not self._pause.is_set() and self.telemetry.device_state == "running":
            self._fade_request.set()
            deadline = time.monotonic() + timeout_s
            if self._faded.wait(timeout_s):
                while self.shared.output.read < self.fades.out_end and time.monotonic() < deadline:
                    time.sleep(0.002)
                time.sleep(self.latency.device_out)  # and out of the device's own buffer
        self.show = self.telemetry.snapshot()
        return self.show

    def stop(self) -> list[Path]:
        """Fade out, then stop everything; returns the files written (output file, recordings)."""
        self.fade_out()
        if self._threads:  # started: the listener was added
            self.rig.remove_listener(self._on_change)
        written = self.recording.stop() if self.recording is not None else []
        self._stop.set()
        if self.host is not None:
            self.host.stop()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        if self.recording is not None:
            written.extend(self.recording.close())
        self.close()
        if self._froze:
            gc.unfreeze()
            self._froze = False
        return written

    def close(self) -> None:
        if self.shared is not None:
            self.shared.unlink()
        for packed in (self._packed, self._outgoing_packed):  # the models may serve elsewhere after this show
            if packed is not None:
                packed.unpack()
        self._packed = self._outgoing_packed = None

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- threads ------------------------------------------------------------------------------
    def _warm_up(self, blocks: int = WARMUP_BLOCKS) -> float:
        """First calls of a TorchScript model are slow (profiling): pay that before the show, and
        measure a block's time for the headroom (ms, the slowest after the first two). Leaves the
        engine with fresh state and stats (but the count of tensors installed)."""
        silence = np.zeros((self.engine.in_channels, self.engine.block_size), dtype=np.float32)
        times = []
        for _ in range(blocks):
            started = time.perf_counter()
            self.engine.process_block(silence)
            times.append((time.perf_counter() - started) * 1000)
        self.engine.reset(self.options.seed)
        # Bends published meanwhile are in the model now: still counted.
        self.engine.stats = EngineStats(tensors_installed=self.engine.stats.tensors_installed)
        return float(np.max(times[2:] or times))

    def _prepare_retakes(self) -> tuple[str, list[torch.Tensor] | None]:
        """Why retakes cannot run for this show ('' when they can), and the caches to checkpoint
        (packed for the show where that restores exactly)."""
        o = self.options
        if not o.retakes:
            return "switched off (--no-retakes)", None
        if o.reserve_ms is not None:
            return "late starts (--reserve) wait for knob moves instead", None
        if self._small_blocks():
            return "not needed: blocks this small hear a knob in the next one anyway", None
        caches, self._packed = pack_for_retakes(self.engine)
        self._retakes_wanted = True
        if caches is None:
            return NO_EXACT_CACHES, None
        return "", caches

    def _prime(self) -> None:
        self._take = None
        self.pipeline.reset()
        self.shared.reset_counters(self.latency.ring_frames)
        self._out_pos = self.latency.ring_frames
        self.fades.fade_in_from(self._out_pos)
        if isinstance(self.input, LoopedFileInput):
            self.input.consumed = 0

    def switch_input(self, audio: np.ndarray | None, rate: int | None = None, name: str = "") -> None:
        """Loop ``audio`` [channels, frames] (at ``rate``) as the input from the next block on, or
        go back to the device input (None). Any thread; the model thread swaps between blocks,
        keeping the input's timing, so the output neither jumps nor drifts."""
        if audio is None:
            if self._device_input is None:
                raise PerformerError("this server has no device input to go back to (it was started with --input-file)")
            self._input_request = (self._device_input, "device")
            return
        channels = self.pipeline.device_in_channels
        looped = resample(fit_channels(audio, channels, what=name or "input"), rate or self.rate, self.rate)
        if looped.shape[1] < self.rate // 10:
            raise PerformerError(f"{name or 'the input'} is too short to loop (under 0.1 s)")
        self._input_request = (LoopedFileInput(looped.T.copy(), self.shared, self.rate, self.latency.ring_frames),
                               name or "loop")

    # -- hot swap (live/swap.py; the Show's model/load: show/swap.py) -------------------------
    def prepare_swap(self, model: NNModel, bank, name: str, requested: float) -> Incoming:
        """Build and warm ``model``'s pipeline (``bank``: its bends, from ``Rig.prepare_model``)
        for a swap, on the calling thread (not the model's): first calls made, block time
        measured, streaming state fresh. Raises what the model raises."""
        block = default_block_size(model.block_multiple)
        engine = BlockEngine(self.rig, block_size=block, compute_bends=False, model=model, bank=bank,
                             dry_delay=model_delay(model, block))
        silence = np.zeros((engine.in_channels, engine.block_size), dtype=np.float32)
        times = []
        for _ in range(WARMUP_BLOCKS):
            started = time.perf_counter()
            engine.process_block(silence)
            times.append((time.perf_counter() - started) * 1000)
        warm_ms = float(np.max(times[2:]))
        if engine.stats.model_errors:
            raise PerformerError(f"{name} failed on its first blocks: {engine.stats.last_error}")
        caches, packed = pack_for_retakes(engine) if self._retakes_wanted else (None, None)
        engine.reset(self.options.seed)
        pipeline = LivePipeline(engine, self.rate, self.pipeline.device_in_channels,
                                self.pipeline.device_out_channels, retakes=caches is not None, caches=caches)
        window = math.ceil(max(MIN_WINDOW_S, 3 * warm_ms / 1000) * self.rate)
        return Incoming(name, pipeline, warm_ms, window, requested, packed=packed)

    def swap(self, incoming: Incoming, crossfade_s: float) -> threading.Event:
        """Hand ``incoming`` to the model thread: from the next block boundary on it is
        crossfaded in over ``crossfade_s`` and the playing model stops. The event is set when the
        outgoing model has stopped (``incoming.finished``)."""
        done = threading.Event()
        if not self.running:
            raise PerformerError("the audio is not running: nothing to swap")
        self._swap_request = (incoming, crossfade_s, done)
        return done

    def _begin_swap(self) -> None:
        """Model thread: crossfade to the requested model from this block on."""
        incoming, crossfade_s, done = self._swap_request
        self._swap_request = None
        if self._swapping is not None:  # one at a time: the one fading in plays from here alone
            self._end_swap()
        budget = self.latency.ring_frames + self.latency.period  # headroom and growth are in ring_frames
        pad, grew = pad_for(self.pipeline, incoming.pipeline, incoming.window, budget)
        incoming.pad, incoming.grew = pad, grew
        incoming.began = time.perf_counter()
        new_engine = incoming.pipeline.engine
        new_engine.stats = self.engine.stats  # one count of blocks and timings for the show
        self.pipeline = Crossfade(self.pipeline, incoming.pipeline, pad, round(crossfade_s * self.rate))
        incoming.pipeline.pad = pad
        self.engine = self.telemetry.engine = new_engine
        self.latency.signal = incoming.pipeline.signal_delay
        self._swapping = (incoming, done)

    def _end_swap(self) -> None:
        """Model thread: the outgoing model has stopped; the incoming one plays alone, with
        retakes when its caches restore exactly (else a knob is heard from its next block)."""
        incoming, done = self._swapping
        self._swapping = None
        self.pipeline = incoming.pipeline
        if self._outgoing_packed is not None:  # a swap over a swap not yet released (rare): now
            self._outgoing_packed.unpack()
        self._outgoing_packed, self._packed = self._packed, incoming.packed
        if self._retakes_wanted:
            self.retakes.enabled = incoming.pipeline.keeps_retake_state
            self.retakes.reason = "" if self.retakes.enabled else NO_EXACT_CACHES
        incoming.finished = time.perf_counter()
        done.set()

    def release_outgoing(self) -> None:
        """After a swap (any thread): the outgoing model's caches, packed for retakes, back in
        its own storage, so it can play again later (and elsewhere)."""
        if self._outgoing_packed is not None and self._swapping is None:
            self._outgoing_packed.unpack()
            self._outgoing_packed = None

    def _apply_input_request(self) -> None:
        """Model thread: make the requested input current, continuing from the same frame."""
        new, name = self._input_request
        self._input_request = None
        pending = self.input.available()
        if isinstance(new, LoopedFileInput):
            new.consumed = int(self.shared.header[OUT_READ]) - pending
        else:  # the device ring kept filling meanwhile: skip to where the loop was
            ring = new.ring
            ring.counters[ring.READ] = max(int(ring.counters[ring.READ]), int(ring.counters[ring.WRITTEN]) - pending)
        self.input = new
        self.input_name = name

    def _model_loop(self) -> None:
        rate, telemetry, engine, period = self.rate, self.telemetry, self.engine, self.latency.period
        telemetry.model_priority = _raise_thread_priority(MODEL_THREAD_NICE)
        # A thread's first model calls pay for its own allocator arena and thread-local state:
        # the first live block took 9-16 ms of CPU time against 5 for the next ones, and missed
        # its deadline in about one start in three (JACK, default model). Pay that before the show.
        try:
            self._warm_up(THREAD_WARMUP_BLOCKS)
        except Exception:  # the show goes on: the blocks are what counts
            log.exception("warming up the model thread failed")
        finally:
            self._model_ready.set()
        self._install_unheard = engine.stats.tensors_installed > 0  # bends installed before the show: heard in block 1
        while not self._stop.is_set():
            if self._input_request is not None:
                self._apply_input_request()
            if self._swap_request is not None and self._take is None and not self.fades.fading_out:
                self._begin_swap()
            if self._fade_request.is_set():
                if not self.fades.fading_out:
                    self._begin_fade()
                if self._out_pos >= self.fades.out_end:  # all of the fade is in the ring: the show is over
                    self._faded.set()
                    time.sleep(0.005)
                    continue
            if self._pause.is_set():
                if self._take is not None:
                    self._release(self._take)
                self._paused.set()
                time.sleep(0.005)
                continue
            self._paused.clear()
            try:
                if self._take is not None:
                    self._follow_take()
                    continue
                available, needed = self.input.available(), self.pipeline.frames_needed()
                if available < needed:
                    # Input comes a period per callback: sleep to about a period before the block is
                    # complete, then poll. Waking just before that callback and sleeping a whole
                    # period more cost up to 11.6 ms of the block's window under a control flood.
                    time.sleep(min(0.01, max(POLL_S, (needed - available - period) / rate)))
                    continue
                entry = self._note_entry(available - needed)
                self._start_late()
                frames, dropped = self.input.take()
                if dropped:
                    telemetry.input_dropped += dropped
                    self._out_pos += dropped
                installed = engine.stats.tensors_installed
                started = time.perf_counter()
                out = self.pipeline.process(frames)
                take_s = time.perf_counter() - started
                self._block_done.set()  # the bend worker's turn for modulation (_bend_loop)
                if self._swapping is not None and self.pipeline.done:
                    self._end_swap()
                self.retakes.note_take(take_s)
                for sink in self.recording.input_sinks:
                    sink.push(frames)
                if self.features is not None:
                    self.features.push(frames)
                if not out.shape[0]:
                    continue
                read, since = self._device_clock()
                queued = self._out_pos - read  # frames the device plays before this block
                telemetry.note_margin(queued, since)
                if queued < 0:  # late: make room (the write below tells the late-start schedule)
                    telemetry.note_late_block(entry, take_s, time.perf_counter() - started - take_s, -queued)
                    queued += self._make_room(-queued)
                if engine.stats.tensors_installed != installed or self._install_unheard:
                    self._install_unheard = False
                    telemetry.note_install(self._heard_at(self._out_pos))
                try:
                    late = self.shared.output.write_at(self._out_pos, self.fades.apply(self._out_pos, out))
                    if late:
                        telemetry.late_written += late
                        self.schedule.note_late(time.monotonic())
                except OverflowError:  # the device stopped reading: drop, the supervisor handles it
                    pass
                take = _Take(self._out_pos, frames, out)
                self._out_pos += out.shape[0]
                retake = self.pipeline.can_retake and queued >= 0 and self.retakes.worth_trying()
                if retake and not self.fades.fading_out:
                    self._take = take  # sinks get it once it is final
                else:
                    self._release(take)
            except Exception:  # the show goes on; the engine already counts model failures
                log.exception("model thread iteration failed")
                time.sleep(0.01)
        if self._take is not None:  # the last block's output is final now
            self._release(self._take)

    def _begin_fade(self) -> None:
        """Model thread: fade the output out from the callback after next on (the next one may be
        reading now): what is queued is faded in the ring, blocks written after it as they come."""
        if self._take is not None:  # no retakes from here on
            self._release(self._take)
        read, _ = self._device_clock()
        start = read + self.latency.period
        self.fades.fade_out_from(start)
        queued = self._out_pos - start
        if queued > 0:
            self.shared.output.scale_at(start, self.fades.gains(start, queued, fade_in=False))  # had its fade-in

    def _since_callback(self) -> float:
        """Seconds since the device's last callback (0 before the first)."""
        beat = int(self.shared.header[HEARTBEAT_NS])
        return (time.monotonic_ns() - beat) / 1e9 if beat else 0.0

    def _device_clock(self) -> tuple[int, float]:
        """Model thread: the device's output read position and the seconds since its last callback,
        read together (a callback between the two reads would put every deadline a period off)."""
        header = self.shared.header
        while True:
            beat = int(header[HEARTBEAT_NS])
            read = self.shared.output.read
            now_ns = time.monotonic_ns()
            if int(header[HEARTBEAT_NS]) == beat:
                return read, ((now_ns - beat) / 1e9 if beat else 0.0)

    def _heard_at(self, position: int) -> float:
        """Model thread: when (perf_counter) output frame ``position`` leaves the device: the
        callback that reads it, plus the device's output latency."""
        read, since = self._device_clock()
        return time.perf_counter() + self.retakes.due_in(position - read, since) + self.latency.device_out

    def _note_entry(self, extra: int) -> float:
        """Model thread: how long the block's input has been complete (s); ``extra`` frames arrived
        after it, a period per callback."""
        if not self.shared.header[HEARTBEAT_NS]:
            return 0.0
        period = self.latency.period
        waited = self._since_callback() + extra // period * period / self.rate
        self.telemetry.note_entry(waited)
        return waited

    def _follow_take(self) -> None:
        """Model thread: the block written last is due soon. Wait until its retake would have to
        start; then, if a knob moved since it was computed, compute it again and put the retake in
        its place if it is done in time (live/retake.py); else let the first take stand. With
        ``splice_knobs`` the block stays open after that: a knob moved while it is queued or
        playing is computed into it at once and spliced in mid-block, until the next block is due
        to start."""
        take, retakes = self._take, self.retakes
        read, since = self._device_clock()
        next_input_in = (self.pipeline.frames_needed() - self.input.available()) / self.rate - since
        if take.retaken:  # spliced knobs: open until the next block needs the model thread
            read_when_done = read + round(retakes.reserve_s * self.rate)
            if (retakes.reserve_s > next_input_in or take.spliced >= retakes.splices_per_block
                    or retakes.placement(take.position, take.out.shape[0], read_when_done, 0.0) is None):
                self._release(take)
            elif self._knob_moved():
                self._retake(take, spliced_knob=True)
            else:
                time.sleep(SPLICE_POLL_S)
            return
        wait = retakes.start_in(take.position - read, since)
        if wait + retakes.reserve_s > next_input_in:  # never hold up the next block (a window longer than a block)
            self._release(take)
            return
        if wait > 0.0002:
            time.sleep(min(wait, 0.005))  # then look again: the stop flag, the device clock
            return
        if self._knob_moved():
            self._retake(take)
        elif retakes.splice_knobs:
            self._take = _Take(take.position, take.frames, take.out, retaken=True)
        else:
            self._release(take)

    def _knob_moved(self) -> bool:
        """Model thread: a knob (not modulation, heard from the next block) changed bends or
        gains since the last take."""
        rig = self.rig
        return (self.engine.bank.has_gesture_pending
                or (rig.audio is not self.engine.last_params and rig.audio_by_gesture))

    def _retake(self, take: "_Take", spliced_knob: bool = False) -> None:
        """Model thread: compute ``take``'s block again with the bends and gains of now; in its
        place if done in time, else from the callback after next, crossfaded, else not at all."""
        retakes, output = self.retakes, self.shared.output
        installed = self.engine.stats.tensors_installed
        started = time.perf_counter()
        out = self.pipeline.retake()
        retakes.note_take(time.perf_counter() - started)
        retakes.done += 1
        retakes.on_demand += spliced_knob
        read, since = self._device_clock()
        left = retakes.due_in(take.position - read, since)
        frames = take.out.shape[0]
        start = retakes.placement(take.position, frames, read, left) if out.shape == take.out.shape else None
        if start is None:
            self.pipeline.keep_first()
            retakes.late += 1
            self._install_unheard |= self.engine.stats.tensors_installed != installed
            self._release(take)
            return
        if start > take.position:
            out = splice(take.out, out, start - take.position)
            retakes.spliced += 1
        else:
            retakes.kept += 1
        output.write_at(start, self.fades.apply(start, out[start - take.position:]))
        if output.read > start:  # the device read some of it while it was written
            retakes.torn += 1
        if self.engine.stats.tensors_installed != installed:
            self.telemetry.note_install(self._heard_at(start))
        final = _Take(take.position, take.frames, out, retaken=True, spliced=take.spliced + spliced_knob)
        if retakes.splice_knobs:
            self._take = final
        else:
            self._release(final)

    def _release(self, take: "_Take") -> None:
        """Model thread: this block's output is final: to the recorders and the meters."""
        self._take = None
        for sink in self.recording.sinks:
            sink.push(take.out)
        self.monitor.publish(take.frames, take.out)

    def _make_room(self, late: int) -> int:
        """Model thread: this block is ``late`` frames past its deadline (their silence is already
        played). Instead of dropping its head, play it whole from the next callback (right where
        the device reads: no stale ring frames between): the output moves later by as much, the
        blocks after it get that much more time, and a machine that cannot hold this latency
        glitches once instead of once a minute. Up to MAX_GROWTH_PERIODS periods in all (then late
        heads are dropped, as before); returns the frames added. Not with late starts (--reserve):
        they would spend the room by starting later; their back-off answers a late block instead."""
        if self.schedule.active:
            return 0
        latency = self.latency
        grow = min(late, self._max_growth - self.telemetry.latency_grown)
        if grow <= 0:
            return 0
        self._out_pos += grow
        latency.headroom += grow
        self.telemetry.latency_grown += grow
        self._grew = True  # the supervisor says so (no logging on this thread)
        return grow

    def _start_late(self) -> None:
        """Model thread: wait until the block is due less the reserve (see live/schedule.py)."""
        if not self.shared.header[HEARTBEAT_NS] or not self.schedule.active:
            return
        recent = self.engine.stats.recent_ms
        slowest = max(recent) / 1000 if recent else 0.0
        read, since = self._device_clock()
        wait = self.schedule.delay(self._out_pos - read, since, time.monotonic(), slowest)
        if wait > 0.0002:
            time.sleep(wait)

    def _small_blocks(self) -> bool:
        return self.engine.block_size / self.rig.model.sample_rate * 1000 < SMALL_BLOCK_MS

    def _splices(self, o: ServeOptions) -> bool:
        if o.splice_knobs is not None:
            return o.splice_knobs
        return self.engine.block_size >= SPLICE_FROM_BLOCK

    def _bend_loop(self) -> None:
        """Compute changed bends as they come, at most once per eighth of a model block: a flood
        of knob moves (1000/s) then costs a few computes per block, always of the latest values,
        instead of starving the model thread of CPU on two cores. Modulation alone is computed
        once per block, just after the model thread finished one: it is installed at the next
        block boundary whenever it is computed, and computing it while the model runs slowed
        the model (p99 1.32x with 16 modulators)."""
        while not self._stop.is_set():
            block_s = self.engine.block_size / self.engine.model.sample_rate
            if self.rig.wait_for_work(0.1):
                if not self.rig.has_gesture_work:
                    self._block_done.clear()
                    deadline = time.monotonic() + block_s
                    while (not self._block_done.wait(min(0.005, block_s))
                           and not self.rig.has_gesture_work and time.monotonic() < deadline):
                        pass
                try:
                    self.rig.compute_pending()
                except Exception:
                    log.exception("computing bends failed")
                self._stop.wait(block_s / 8)

    def _supervise(self) -> None:
        o = self.options
        while not self._stop.wait(0.1):
            if self._grew:
                self._grew = False
                self._report(f"a block was late: output latency now {1000 * self.latency.total_seconds:.1f} ms "
                             f"(+{1000 * self.telemetry.latency_grown / self.rate:.1f} ms since the start; "
                             f"--headroom MS sets the margin from the start)")
            if isinstance(self.host, ClockHost):
                continue
            lost = self.host.poll_lost()
            if lost is None and self.host.seconds_since_callback() > o.stall_s and self.shared.header[CALLBACKS] > 0:
                lost = f"no audio callback for {o.stall_s:.0f} s (device stalled)"
            if lost is None:
                continue
            self._report(f"audio device lost: {lost}; retrying every {o.retry_s:g} s (bends and state are kept)")
            self.telemetry.device_state, self.telemetry.device_message = "lost", lost
            self._pause.set()
            self._paused.wait(5)
            self.host.kill()
            attempts = 0
            while not self._stop.wait(o.retry_s):
                attempts += 1
                try:
                    opened = self.host.open(timeout=10)
                except DeviceError as exc:
                    if attempts % 15 == 1:
                        self._report(f"audio device still unavailable: {exc}")
                    continue
                if opened.samplerate != self.rate:
                    self._report(f"the device came back at {opened.samplerate} Hz instead of {self.rate} Hz; "
                                 f"restart performer to follow it")
                    self.host.kill()
                    continue
                self.engine.reset()
                self._prime()
                self._paused.clear()
                self._pause.clear()
                self.host.start()
                self.telemetry.device_restarts += 1
                self.telemetry.device_state, self.telemetry.device_message = "running", ""
                self._report(f"audio device back after {attempts * o.retry_s:.0f} s")
                break

    def _report(self, message: str) -> None:
        (self.options.report or log.warning)(message)

    def _on_change(self, change: Change) -> None:
        self.recording.on_change(change)
        self.telemetry.recording = self.recording.name


@dataclass
class _Take:
    position: int  # output frame of the block's first sample
    frames: np.ndarray  # the device input it was computed from
    out: np.ndarray
    retaken: bool = False  # its retake is done (or was not needed): with spliced knobs, it is open for those
    spliced: int = 0  # knob moves spliced into it


def _raise_thread_priority(nice: int) -> str:
    """Favour the calling thread (Linux nice values are per thread): the model must finish each
    block inside its window while control threads and other programs compete for two cores.
    Needs root or a nice limit; otherwise nothing changes and we say so."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        return f"nice {nice}"
    except (PermissionError, OSError):
        return "normal"
