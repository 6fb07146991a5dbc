"""Hot swaps through `performer serve` on a realtime JACK dummy server (issue 19).

  python bench/model_swap.py [--seconds 60] [--every 5] [--period 256] [--crossfade 50]

The Show is built as the CLI builds it (bench/_show.py), with scenes, autosave, bending log,
dashboard, MIDI and OSC on, looping the glide example (a tone: a click shows against it) into
JACK. Every --every seconds `model/load` cycles through two genuine RAVE exports of different
ratios (v2_small_c8: 512, v2_c16: 2048) and the default model (1024). Prints late frames and
xruns (with jackd's blame) over the whole run, each swap's time from request to crossfade end
(with load, warm-up and the wait for a block boundary), the latency changes, and the step at
each swap: the largest sample-to-sample jump within 0.25 s of it in the recorded output, against
the largest in the music around it (the 2 s either side, swaps left out).
The same show first plays as long without swaps: its late frames are the host's, not the swaps'.
Targets: 0 late frames; no step (ratio <= 1).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.host_cpu import cpu_ticks, steal_since  # noqa: E402
from bench._show import build_show, realtime_jack, serve_argv  # noqa: E402

FIXTURES = ("v2_small_c8", "v2_c16")


def steps(audio: np.ndarray, rate: int, swaps_s: list[float]) -> list[dict]:
    """Per swap: the largest jump within 0.25 s of it, and in the 2 s either side without swaps."""
    jumps = np.abs(np.diff(audio, axis=0)).max(axis=1)
    near = int(0.25 * rate)
    masked = np.zeros(len(jumps), dtype=bool)
    centres = [int(s * rate) for s in swaps_s]
    for c in centres:
        masked[max(0, c - near):c + near] = True
    out = []
    for c in centres:
        if c + near >= len(jumps):
            continue
        at = float(jumps[max(0, c - near):c + near].max())
        around = slice(max(0, c - 2 * rate), min(len(jumps), c + 2 * rate))
        music = jumps[around][~masked[around]]
        ref = float(music.max()) if music.size else float("nan")
        out.append({"at_swap": round(at, 4), "music_around": round(ref, 4), "ratio": round(at / ref, 3) if ref else None})
    return out


def late_window(show, jack, run) -> dict:
    """Late frames, xruns (jackd's blame) and the host's CPU steal while ``run()`` runs."""
    mark, before, ticks = jack.log_mark(), show.live.telemetry.snapshot(), cpu_ticks()
    run()
    after = show.live.telemetry.snapshot()
    return {"late_frames": after["late_frames"] - before["late_frames"],
            "xruns": after["xruns_after_warmup"] - before["xruns_after_warmup"], "blame": jack.xruns_since(mark),
            "host_steal": steal_since(ticks)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--period", type=int, default=256)
    parser.add_argument("--crossfade", type=float, default=50.0)
    args = parser.parse_args()
    from performer.audio.examples import glide
    from tests.conftest import _build

    with realtime_jack(48000, args.period) as (jack, tmp):
        models = tmp / "models"
        models.mkdir()
        for name in FIXTURES:
            (models / f"{name}.ts").symlink_to(_build(name))
        sf.write(tmp / "glide.wav", glide(48000), 48000)
        argv = serve_argv(None, tmp, "--input-file", str(tmp / "glide.wav"), "--models", str(models),
                          "--crossfade", str(args.crossfade), "--record-dir", str(tmp / "rec"))
        show = build_show(argv, tmp)
        show.start()
        cycle = [*FIXTURES, "default"]
        try:
            time.sleep(3.0)  # the preloaded models' delays are measured in the background meanwhile
            show.swap.wait_idle(30)
            baseline = late_window(show, jack, lambda: time.sleep(args.seconds))  # the same show, no swaps
            recording_from = []

            def swap_every_few_seconds():
                show.rig.set("record", 1, source="bench")
                recording_from.append(time.perf_counter())
                started, n = time.monotonic(), 0
                while time.monotonic() - started < args.seconds:
                    show.rig.set("model/load", cycle[n % len(cycle)], source="bench")
                    n += 1
                    time.sleep(max(0.0, started + n * args.every - time.monotonic()))
                show.swap.wait_idle(30)
                time.sleep(2.5)
                show.rig.set("record", 0, source="bench")

            swapping = late_window(show, jack, swap_every_few_seconds)
            results = [asdict(r) for r in show.swap.results]
            latency_ms = 1000 * show.live.latency.total_seconds
        finally:
            show.stop()
        recorded = sorted((tmp / "rec").glob("*.wav"))
        audio, rate = sf.read(recorded[-1], always_2d=True) if recorded else (np.zeros((0, 1)), 48000)
    swap_marks = []
    # the recording starts with the first block written after `record`; a swap's fade is heard
    # the output latency after the model thread began it
    for r in results:
        swap_marks.append(r["began"] - recording_from[0])
    totals = [r["total_ms"] for r in results]
    report = {
        "baseline_without_swaps": baseline,
        "seconds": args.seconds, "swaps": len(results), "failures": show.swap.failures, **swapping,
        "swap_ms": {"median": round(float(np.median(totals)), 1) if totals else None,
                    "max": round(max(totals), 1) if totals else None},
        "each": [{k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items() if k != "began"}
                 for r in results],
        "latency_ms_now": round(latency_ms, 1),
        "steps": steps(audio, rate, swap_marks),
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
