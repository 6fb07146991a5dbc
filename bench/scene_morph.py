"""A morph fader swept at 100 Hz between two scenes while the live server runs: xruns, late frames.

  python bench/scene_morph.py [--model v2] [--seconds 20] [--rate 100]

JACK dummy server (44.1 kHz, period 256, realtime where allowed) started by the bench. Scene A
bends every conv tensor of the model (scale), scene B every one differently (another factor,
amount, percent, and every fourth tensor another transform), so each fader step changes them all.
Baseline in the same process: the same server for the same time with the fader still.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._models import CACHE, full_v2  # noqa: E402
from performer.live.server import LiveServer, ServeOptions  # noqa: E402
from performer.model import load_model  # noqa: E402
from performer.rig import Rig  # noqa: E402
from performer.scenes.manager import SceneManager  # noqa: E402
from performer.scenes.store import SceneStore  # noqa: E402
from tests.jack_server import JackServer  # noqa: E402


def run(rig: Rig, seconds: float, rate: float, sweep: bool, jack: JackServer) -> dict:
    server = LiveServer(rig, ServeOptions())
    steps = [0]
    stop = threading.Event()

    def fader():
        t0 = time.perf_counter()
        while not stop.is_set():
            x = 0.5 + 0.5 * math.sin(2 * math.pi * 0.5 * (time.perf_counter() - t0))  # 2 s per sweep
            rig.set("scene/morph", x, source="bench")
            steps[0] += 1
            delay = t0 + steps[0] / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)

    with server:
        time.sleep(1.0)
        mark, before = jack.log_mark(), server.telemetry.snapshot()
        worker = threading.Thread(target=fader)
        if sweep:
            worker.start()
        time.sleep(seconds)
        stop.set()
        if sweep:
            worker.join()
        snap = server.telemetry.snapshot()
        blame = jack.xruns_since(mark)
    return {"steps": steps[0], "xruns": snap["xruns_after_warmup"] - before["xruns_after_warmup"], "blame": blame,
            "late": snap["late_frames"] - before["late_frames"], "p95": snap["model_ms"]["p95"],
            "installed": snap["tensors_installed"] - before["tensors_installed"], "window_ms":
            1e3 * server.latency.compute_window / server.latency.rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="v2")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=100)
    args = parser.parse_args()
    path = full_v2() if args.model == "v2" else (Path(args.model) if args.model.endswith(".ts")
                                                 else CACHE / f"{args.model}.ts")
    import torch

    torch.set_num_threads(1)
    rig = Rig(load_model(path))
    convs = [t for t in rig.tensors if t.kind == "conv"]
    with tempfile.TemporaryDirectory() as tmp:
        scenes = SceneManager(rig, SceneStore(Path(tmp)), history=True)
        for i, t in enumerate(convs):
            rig.set(f"#{t.index}/0/transform", "scale")
            rig.set(f"#{t.index}/0/factor", 0.8)
        scenes.save("a")
        for i, t in enumerate(convs):
            rig.set(f"#{t.index}/0/transform", "invert" if i % 4 == 0 else "scale")
            if i % 4:
                rig.set(f"#{t.index}/0/factor", 1.3)
            rig.set(f"#{t.index}/0/amount", 0.7)
            rig.set(f"#{t.index}/0/percent", 0.6)
        scenes.save("b")
        rig.set("scene/a", "a")
        rig.set("scene/b", "b")
        rig.set("scene/morph", 0.0)
        jack = JackServer(rate=44100, period=256).start()
        os.environ.update(jack.env())
        try:
            still = run(rig, args.seconds, args.rate, False, jack)
            swept = run(rig, args.seconds, args.rate, True, jack)
        finally:
            jack.stop()
            scenes.close()
    print(f"{path.name}: {len(convs)} conv tensors bent in both scenes; JACK 44.1 kHz / 256 (realtime {jack.realtime}); "
          f"model window {swept['window_ms']:.1f} ms")
    print(f"  fader still: xruns {still['xruns']} ({still['blame'] or 'nobody blamed'}), late frames {still['late']}, "
          f"model p95 {still['p95']:.1f} ms")
    print(f"  fader at {args.rate:.0f} Hz: {swept['steps']} steps, tensors installed {swept['installed']}, xruns "
          f"{swept['xruns']} ({swept['blame'] or 'nobody blamed'}), late frames {swept['late']}, model p95 "
          f"{swept['p95']:.1f} ms (x{swept['p95'] / still['p95']:.2f} of still)")


if __name__ == "__main__":
    main()
