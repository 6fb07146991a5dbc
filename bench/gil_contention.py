"""Does Python work beside the model slow the model down, and would a process of its own help?

  python bench/gil_contention.py [--model default] [--block N] [--seconds 10]

Times the model thread's block (a TorchScript call plus the engine's numpy work) three ways, in
one process, interleaved by phase: alone; with a thread in this process doing what a control
flood does (1000 Rig.set calls/s with the dispatcher's listeners: undo snapshot, a JSON log line);
and with the same load in another process (no shared GIL). Prints median, p99 and max per way and
the ratios against alone. Run it on a quiet machine: it measures contention, so a busy one adds its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def control_load(stop, model_name: str) -> None:
    """1000 changes/s through a Rig with the listeners serve attaches (undo, log line)."""
    import torch

    torch.set_num_threads(1)
    from performer.model import load_model
    from performer.rig import Rig
    from performer.rig.changes import ChangeDispatcher
    from performer.scenes.history import UndoHistory

    dispatcher = ChangeDispatcher()
    rig = Rig(load_model(model_name), dispatcher=dispatcher)
    UndoHistory(rig)
    rig.add_listener(lambda change: json.dumps({"a": change.address, "v": change.value}))
    name = rig.tensors[0].name
    rig.set(f"{name}/0/transform", "scale")
    i, next_at = 0, time.perf_counter()
    while not stop.is_set():
        rig.set(f"{name}/0/factor", 0.5 + (i % 500) / 1000, source="bench")
        rig.set("mix", (i % 100) / 100, source="bench")
        i += 2
        next_at += 0.002
        delay = next_at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    dispatcher.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--block", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from performer.audio.engine import BlockEngine
    from performer.model import load_model
    from performer.rig import Rig

    model = load_model(args.model)
    engine = BlockEngine(Rig(model), block_size=args.block)
    n = engine.block_size
    x = (0.3 * np.random.default_rng(0).standard_normal((model.in_channels, n))).astype(np.float32)
    period = n / model.sample_rate

    def run(seconds: float) -> list[float]:
        times, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            engine.process_block(x)
            times.append((time.perf_counter() - t0) * 1e3)
            time.sleep(max(0.0, period - (time.perf_counter() - t0)))  # paced like the live loop
        return times

    run(1.0)
    results = {}
    for way in ("alone", "thread", "process", "alone"):
        if way == "thread":
            stop = threading.Event()
            worker = threading.Thread(target=control_load, args=(stop, args.model), daemon=True)
        elif way == "process":
            ctx = multiprocessing.get_context("spawn")
            stop = ctx.Event()
            worker = ctx.Process(target=control_load, args=(stop, args.model), daemon=True)
        else:
            stop = worker = None
        if worker is not None:
            worker.start()
            time.sleep(3.0)  # its model load and start
        times = run(args.seconds)
        if worker is not None:
            stop.set()
            worker.join(10)
        results.setdefault(way, []).extend(times)
    base = results["alone"]
    summary = {}
    for way, times in results.items():
        p99 = float(np.percentile(times, 99))
        summary[way] = {"median_ms": round(statistics.median(times), 3), "p99_ms": round(p99, 3),
                        "max_ms": round(max(times), 3),
                        "p99_vs_alone": round(p99 / float(np.percentile(base, 99)), 3)}
    print(json.dumps({"block": n, **summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
