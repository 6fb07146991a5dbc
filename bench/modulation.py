"""16 modulators on 16 tensors through `performer serve` on a realtime JACK dummy server.

  python bench/modulation.py [--seconds 60] [--model default] [--period 256]

The Show is built as the CLI builds it (bench/_show.py). 16 tensors get a noise bend; then, in one
process and for --seconds each: the show without modulators (the baseline), and with 16
modulators of mixed kinds (LFO shapes, steps, the input's envelope and loudness) on those
tensors' amount and percent. Prints late frames, xruns (and jackd's blame), model time per block
(median, p99, max) and the p99 ratio against the baseline, the bend worker's CPU share (its
thread's CPU seconds per second) and the modulation thread's.
Targets (issue 18): 0 late frames; p99 within 1.1x of the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.host_cpu import cpu_ticks, steal_since  # noqa: E402
from bench._show import build_show, realtime_jack, serve_argv  # noqa: E402

KINDS = ("sine", "triangle", "saw", "square", "sh", "smooth", "steps", "envelope", "loudness")


def thread_cpu(name: str) -> float:
    thread = next((t for t in threading.enumerate() if t.name == name), None)
    if thread is None:
        return 0.0
    fields = Path(f"/proc/{os.getpid()}/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def window(show, jack, seconds: float) -> dict:
    stats = show.live.engine.stats
    mark, before, blocks0, ticks = jack.log_mark(), show.live.telemetry.snapshot(), stats.blocks, cpu_ticks()
    cpu0 = {n: thread_cpu(n) for n in ("performer-bends", "performer-modulation")}
    time.sleep(seconds)
    cpu1 = {n: thread_cpu(n) for n in cpu0}
    after = show.live.telemetry.snapshot()
    new = stats.blocks - blocks0
    times = np.array(list(stats.recent_ms)[-min(new, len(stats.recent_ms)):] or [0.0])
    return {"late_frames": after["late_frames"] - before["late_frames"],
            "xruns": after["xruns_after_warmup"] - before["xruns_after_warmup"], "blame": jack.xruns_since(mark),
            "host_steal": steal_since(ticks),
            "model_ms": {"median": round(float(np.median(times)), 2), "p99": round(float(np.percentile(times, 99)), 2),
                         "max": round(float(times.max()), 2)},
            "bend_worker_cpu": round((cpu1["performer-bends"] - cpu0["performer-bends"]) / seconds, 3),
            "modulation_cpu": round((cpu1["performer-modulation"] - cpu0["performer-modulation"]) / seconds, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--period", type=int, default=256)
    args = parser.parse_args()
    with realtime_jack(48000, args.period) as (jack, tmp):
        from performer.model import load_model
        from performer.model.tensors import describe_tensors

        probe = load_model(args.model)
        names = [t.name for t in sorted(describe_tensors(probe.module), key=lambda t: -t.size) if t.size > 16][:16]
        bends = [b for n in names for b in ("--bend", f"{n}/0/transform=noise", "--bend", f"{n}/0/percent=0.3",
                                           "--bend", f"{n}/0/amount=0.5")]
        argv = serve_argv(args.model, tmp, *bends)
        show = build_show(argv, tmp)
        show.start()
        try:
            time.sleep(2.0)
            baseline = window(show, jack, args.seconds)
            for i, name in enumerate(names):
                kind = KINDS[i % len(KINDS)]
                field = "amount" if i % 2 == 0 else "percent"
                show.modulation.configure(i, kind, {f"{name}/0/{field}": 0.4}, source="bench",
                                          rate=0.5 + 0.25 * i)
            time.sleep(1.0)
            modulated = window(show, jack, args.seconds)
            stats = show.modulation.stats()
        finally:
            show.stop()
    ratio = modulated["model_ms"]["p99"] / baseline["model_ms"]["p99"] if baseline["model_ms"]["p99"] else None
    print(json.dumps({"baseline": baseline, "modulated": modulated, "p99_ratio": round(ratio, 3) if ratio else None,
                      "modulation": stats}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
