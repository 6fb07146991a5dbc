"""In-to-out latency and knob-to-sound, measured on a realtime JACK dummy server, per period.

  python bench/latency.py [--model default] [--periods 64,128,256] [--seconds 60] [--changes 40] [--json]

Per period (48 kHz), `performer serve` is built as the CLI builds it (bench/_show.py: scenes,
bending log, autosave, dashboard, MIDI on JACK, OSC), then:
  in-to-out      jack_iodelay through the dry path (mix 0, which the engine delays to line up with
                 the model): its readings over --seconds (two or more a second), median, spread
                 (max - min) and count, beside the latency serve computes
  knob-to-sound  --changes moves of a conv tensor's factor from a JACK MIDI CC and from an OSC
                 datagram (bench/_knob.py): from the send to the callback that hands the first block
                 computed with it to the device, plus the device's output latency (what is heard)
Targets (issue 17, period 128, the default model): in-to-out <= 15 ms (goal 10), spread <= 1 ms;
knob-to-sound median <= 10 ms, max <= 15 ms.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._knob import MAPPING, VALUES, CC, MidiProbe, knob_to_sound  # noqa: E402
from bench._show import build_show, jack_env, serve_argv  # noqa: E402
from tests.jack_server import JackServer  # noqa: E402


def one_period(model: str | None, period: int, seconds: float, changes: int) -> dict:
    jack = JackServer(rate=48000, period=period).start()
    jack_env(jack)
    mark = jack.log_mark()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            from performer.model import load_model
            from performer.model.tensors import describe_tensors

            probe_model = load_model(model)
            conv = max((t for t in describe_tensors(probe_model.module) if t.kind == "conv"), key=lambda t: t.size)
            address = f"{conv.name}/0/factor"
            mapping = tmp / "knob.toml"
            mapping.write_text(MAPPING.format(cc=CC, address=address, low=VALUES[0], high=VALUES[1]))
            argv = serve_argv(model, tmp, "--mapping", str(mapping), "--bend", f"{conv.name}/0/transform=scale")
            show = build_show(argv, tmp)
            show.start()
            try:
                time.sleep(1.0)
                from performer.live.roundtrip import measure

                show.rig.set("mix", 0.0, source="bench")
                trip = measure(show.options.serve.client_name, show.live.rate, seconds)
                show.rig.set("mix", 1.0, source="bench")
                midi = MidiProbe()
                time.sleep(0.5)  # a client joining the graph may delay a cycle: not inside the measurement
                block_ms = 1e3 * show.live.engine.block_size / show.rig.model.sample_rate
                target = block_ms + 1e3 * period / 48000 + 5.0
                try:
                    knob = knob_to_sound(show.live, show.surfaces, midi, address, target, changes)
                finally:
                    midi.close()
                snap = show.live.telemetry.snapshot()
                computed = round(show.live.latency.total_seconds * 1e3, 2)
            finally:
                show.stop()
        return {"period": period, "block": snap["block"], "computed_ms": computed, "in_to_out": trip.summary(),
                "knob_to_sound": {k: knob[k] for k in ("midi", "osc", "rig")},
                "late_frames": snap["late_frames"], "xruns": snap["xruns_after_warmup"], "blame": jack.xruns_since(mark)}
    finally:
        jack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a .ts or an embedded model's name (default: default)")
    parser.add_argument("--periods", default="64,128,256")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    for period in (int(p) for p in args.periods.split(",")):
        result = one_period(args.model, period, args.seconds, args.changes)
        results.append(result)
        t, k = result["in_to_out"], result["knob_to_sound"]
        print(f"period {period:>4}: block {result['block']}, in-to-out {t.get('median_ms')} ms measured "
              f"(spread {t.get('jitter_ms')} ms over {t.get('readings')} readings), {result['computed_ms']} computed; "
              f"knob-to-sound midi {k['midi']['median']}/{k['midi']['max']} ms, osc {k['osc']['median']}/"
              f"{k['osc']['max']} ms (median/max, + device out {k['osc']['device_out']} ms); late frames "
              f"{result['late_frames']}, xruns {result['xruns']} {result['blame'] or ''}", flush=True)
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
