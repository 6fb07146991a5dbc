"""The live engine on a real JACK dummy server: overhead, xruns under a control flood, knob-to-sound.

  python bench/realtime.py [--models v2_small_c8,v2_c16,raspberry,v2] [--soak 60] [--json]

Per model, in one process:
  overhead       model-thread time per block through the engine (install, gains, mix, dry delay,
                 safety) against a bare ``model(x)`` loop on the same blocks, interleaved
  soak           live duplex stream on JACK (44.1 kHz, period 256) for --soak seconds while another
                 thread makes 1000 Rig changes per second on a conv tensor; xruns after warm-up
                 and frames the model delivered late
  knob-to-sound  a Rig change from another thread every ~200 ms (random phase): time from the
                 change to the callback that hands the first block computed with it to the device
                 (the device's own output latency, printed beside it, comes after)
Targets (issue 3): overhead <= 5 %; 0 xruns with v2_small and the default model; knob-to-sound <=
one model block + one device period + 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._models import CACHE, full_v2  # noqa: E402
from performer.audio.engine import BlockEngine  # noqa: E402
from performer.live.server import LiveServer, ServeOptions  # noqa: E402
from performer.model import load_model  # noqa: E402
from performer.rig import Rig  # noqa: E402
from tests.jack_server import JackServer  # noqa: E402

PERIOD = 256


def model_path(name: str) -> Path:
    if name == "v2":
        return full_v2()
    path = CACHE / f"{name}.ts"
    if not path.exists():
        raise SystemExit(f"{path} missing: run the test suite once (it builds the fixtures) or pass a path")
    return path


def overhead(path: Path, blocks: int = 60) -> dict:
    model = load_model(path)
    rig = Rig(model)
    engine = BlockEngine(rig, compute_bends=False)
    n = engine.block_size
    rng = np.random.default_rng(0)
    inputs = [(0.3 * rng.standard_normal((model.in_channels, n))).astype(np.float32) for _ in range(blocks)]
    bare, ours = [], []
    with torch.inference_mode():
        for i in range(4):  # warm-up of both paths
            model.run("forward", torch.from_numpy(inputs[i])[None])
            engine.process_block(inputs[i])
        for x in inputs:  # interleaved so drift and noise hit both alike
            t0 = time.perf_counter()
            model.run("forward", torch.from_numpy(x)[None]).numpy()
            bare.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            engine.process_block(x)
            ours.append((time.perf_counter() - t0) * 1e3)
    b, o = statistics.median(bare), statistics.median(ours)
    return {"block": n, "bare_ms": round(b, 3), "engine_ms": round(o, 3), "overhead": round(o / b - 1, 4)}


def live(path: Path, soak_s: float, jack: JackServer, headroom_ms: float | None = None) -> dict:
    rig = Rig(load_model(path))
    conv = max((t for t in rig.tensors if t.kind == "conv"), key=lambda t: t.size)
    rig.set(f"#{conv.index}/0/transform", "scale")
    server = LiveServer(rig, ServeOptions(headroom_ms=headroom_ms))
    stop = threading.Event()
    changes = [0]

    def flood():  # 1000 changes per second, paced
        next_at = time.perf_counter()
        while not stop.is_set():
            rig.set(f"#{conv.index}/0/factor", 0.5 + (changes[0] % 500) / 1000, source="bench")
            changes[0] += 1
            next_at += 0.001
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)

    with server:
        time.sleep(1.0)
        mark = jack.log_mark()
        worker = threading.Thread(target=flood)
        worker.start()
        time.sleep(soak_s)
        stop.set()
        worker.join()
        soak = server.telemetry.snapshot()
        blame = jack.xruns_since(mark)  # whom jackd blamed: "performer" would be ours
        # knob-to-sound, one change at a time
        heard = []
        for i in range(40):
            time.sleep(0.15 + random.random() * 0.1)
            before = len(server.telemetry.installs)
            t_change = time.perf_counter()
            rig.set(f"#{conv.index}/0/factor", 1.0 + (i % 2) * 0.25, source="bench")
            deadline = t_change + 1.0
            while len(server.telemetry.installs) == before and time.perf_counter() < deadline:
                time.sleep(0.0005)
            if len(server.telemetry.installs) > before:
                heard.append((server.telemetry.installs[before] - t_change) * 1e3)
        latency = server.latency
    block_ms = 1e3 * server.engine.block_size / server.engine.model.sample_rate
    target = block_ms + 1e3 * PERIOD / jack.rate + 5.0
    device_out_ms = 1e3 * latency.device_out
    return {
        "largest_conv": conv.name, "changes": changes[0], "changes_per_s": round(changes[0] / soak_s),
        "xruns_after_warmup": soak["xruns_after_warmup"], "xrun_blame": blame, "late_frames": soak["late_frames"],
        "model_ms_mean": soak["model_ms"]["mean"], "model_ms_p95": soak["model_ms"]["p95"],
        "model_ms_max": soak["model_ms"]["max"], "tensors_installed": soak["tensors_installed"],
        "latency_ms": round(latency.total_seconds * 1e3, 1),
        "window_ms": round(1e3 * latency.compute_window / latency.rate, 1),
        # to the callback that hands the block to the device; the device's own output latency after
        "knob_to_sound_ms": {"median": round(statistics.median(heard) - device_out_ms, 1),
                             "p95": round(float(np.percentile(heard, 95)) - device_out_ms, 1),
                             "max": round(max(heard) - device_out_ms, 1), "target": round(target, 1),
                             "device_out": round(device_out_ms, 1)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="v2_small_c8,v2_c16,raspberry,v2")
    parser.add_argument("--soak", type=float, default=60.0)
    parser.add_argument("--headroom", type=float, metavar="MS", help="the model's window per block (serve --headroom)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    missing = JackServer.available()
    if missing:
        raise SystemExit(missing)
    jack = JackServer(rate=44100, period=PERIOD).start()
    os.environ.update(jack.env())
    results = {}
    try:
        for name in args.models.split(","):
            path = Path(name) if name.endswith(".ts") else model_path(name)
            results[name] = {"overhead": overhead(path), "live": live(path, args.soak, jack, args.headroom)}
            if not args.json:
                o, lv = results[name]["overhead"], results[name]["live"]
                k = lv["knob_to_sound_ms"]
                print(f"{name:<14} block {o['block']}: bare {o['bare_ms']:.2f} ms, engine {o['engine_ms']:.2f} ms, "
                      f"overhead {100 * o['overhead']:+.1f} % | soak {args.soak:.0f} s, {lv['changes_per_s']} changes/s: "
                      f"xruns {lv['xruns_after_warmup']} (jackd blamed {lv['xrun_blame'] or 'nobody'}), late frames {lv['late_frames']}, model p95 "
                      f"{lv['model_ms_p95']:.1f} ms | latency {lv['latency_ms']} ms, window {lv['window_ms']} ms | knob-to-sound "
                      f"median {k['median']} p95 {k['p95']} max {k['max']} ms (target {k['target']}; + device "
                      f"{k['device_out']} ms)", flush=True)
    finally:
        jack.stop()
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
