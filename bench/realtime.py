"""The live engine on a real JACK dummy server: overhead, xruns under a control flood, knob-to-sound.

  python bench/realtime.py [--models default,v2_small_c8,v2_c16,raspberry,v2] [--soak 60] [--changes 40] [--json]

Per model, in one process:
  overhead       model-thread time per block through the engine (install, gains, mix, dry delay,
                 safety) against a bare ``model(x)`` loop on the same blocks, interleaved; and with
                 the state save that retakes add to every block
  soak           live duplex stream on JACK (44.1 kHz, period 256) for --soak seconds while another
                 thread makes 1000 Rig changes per second on a conv tensor; xruns after warm-up
                 and frames the model delivered late; the least margin a block reached the ring with;
                 the callback's longest body and longest gap between wake-ups; and, from a FIFO-80
                 probe process beside it (tests/stall_probe.py), how late this machine woke its most
                 urgent thread (a virtual CPU can stall for milliseconds whatever the priority)
  knob-to-sound  --changes changes of that conv tensor's factor, one every ~200 ms (random phase),
                 from each control in turn: a Rig change from another thread, then a JACK MIDI CC
                 from a probe port into Performer's MIDI input (bound by a mapping), then an OSC
                 message ``/performer/<address> <float>`` on loopback (MIDI and OSC started as
                 ``performer serve`` starts them; bench/_knob.py). Time from the change (just
                 before it is made or sent) to the callback that hands the first block computed
                 with it to the device (the device's own output latency, printed beside it, comes
                 after); changes heard of those sent
Targets (issue 3): overhead <= 5 %; 0 xruns with v2_small and the default model; knob-to-sound <=
one model block + one device period + 5 ms, from each control.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._knob import control_surfaces, knob_to_sound, midi_probe  # noqa: E402
from bench._models import CACHE, REPO, full_v2  # noqa: E402
from tests.stall_probe import StallProbe  # noqa: E402
from performer.audio.checkpoint import StreamCheckpoint, pack_for_retakes  # noqa: E402
from performer.audio.engine import BlockEngine  # noqa: E402
from performer.live.server import LiveServer, ServeOptions  # noqa: E402
from performer.model import load_model  # noqa: E402
from performer.rig import Rig  # noqa: E402
from tests.jack_server import JackServer  # noqa: E402

PERIOD = 256
RETAKE_COUNTS = ("done", "kept", "spliced", "late", "torn", "on_demand")


def model_path(name: str) -> Path:
    if name == "v2":
        return full_v2()
    if name == "default":
        return REPO / "models" / "default.ts"
    path = CACHE / f"{name}.ts"
    if not path.exists():
        raise SystemExit(f"{path} missing: run the test suite once (it builds the fixtures) or pass a path")
    return path


def overhead(path: Path, blocks: int = 200) -> dict:
    model = load_model(path)
    rig = Rig(model)
    engine = BlockEngine(rig, compute_bends=False)
    n = engine.block_size
    rng = np.random.default_rng(0)
    inputs = [(0.3 * rng.standard_normal((model.in_channels, n))).astype(np.float32) for _ in range(blocks)]
    caches, packed = pack_for_retakes(engine)  # as the live server does
    checkpoint = StreamCheckpoint(engine, caches=caches)
    bare, ours, saved = [], [], []
    with torch.inference_mode():
        for i in range(4):  # warm-up of both paths
            model.run("forward", torch.from_numpy(inputs[i])[None])
            engine.process_block(inputs[i])
        for x in inputs:  # interleaved so drift and noise hit all alike
            t0 = time.perf_counter()
            model.run("forward", torch.from_numpy(x)[None]).numpy()
            bare.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            engine.process_block(x)
            ours.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            checkpoint.save()  # what the live model thread adds per block for retakes
            engine.process_block(x)
            saved.append((time.perf_counter() - t0) * 1e3)
    if packed is not None:
        packed.unpack()
    b, o, r = statistics.median(bare), statistics.median(ours), statistics.median(saved)
    return {"block": n, "bare_ms": round(b, 3), "engine_ms": round(o, 3), "overhead": round(o / b - 1, 4),
            "with_state_save_ms": round(r, 3), "overhead_with_state_save": round(r / b - 1, 4)}


def live(path: Path, soak_s: float, jack: JackServer, headroom_ms: float | None = None,
         knob_changes: int = 40, reserve_ms: float | None = None, retakes: bool = True,
         splice_knobs: bool = False) -> dict:
    rig = Rig(load_model(path))
    conv = max((t for t in rig.tensors if t.kind == "conv"), key=lambda t: t.size)
    rig.set(f"#{conv.index}/0/transform", "scale")
    server = LiveServer(rig, ServeOptions(headroom_ms=headroom_ms, reserve_ms=reserve_ms, retakes=retakes,
                                          splice_knobs=splice_knobs))
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

    with control_surfaces(rig, f"#{conv.index}/0/factor") as surfaces, midi_probe() as midi, server:
        time.sleep(1.0)
        mark = jack.log_mark()
        machine = StallProbe(soak_s)  # the machine's own stalls of a FIFO-80 thread meanwhile
        worker = threading.Thread(target=flood)
        worker.start()
        time.sleep(soak_s)
        stop.set()
        worker.join()
        soak = server.telemetry.snapshot()
        blame = jack.xruns_since(mark)  # whom jackd blamed: "performer" would be ours
        # knob-to-sound, one change at a time, from each control
        block_ms = 1e3 * server.engine.block_size / server.engine.model.sample_rate
        target = block_ms + 1e3 * jack.period / jack.rate + 5.0
        knob = knob_to_sound(server, surfaces, midi, f"#{conv.index}/0/factor", target, changes=knob_changes)
        latency = server.latency
        late_start = server.telemetry.snapshot()["late_start"]
        retakes = server.telemetry.snapshot()["retakes"]
    return {
        "largest_conv": conv.name, "changes": changes[0], "changes_per_s": round(changes[0] / soak_s),
        "xruns_after_warmup": soak["xruns_after_warmup"], "xrun_blame": blame, "late_frames": soak["late_frames"],
        "model_ms_mean": soak["model_ms"]["mean"], "model_ms_p95": soak["model_ms"]["p95"],
        "model_ms_max": soak["model_ms"]["max"], "tensors_installed": soak["tensors_installed"],
        "margin_ms_min": soak["margin_ms_min"], "entry_ms_max": soak["entry_ms_max"],
        "late_blocks": soak["late_blocks"], "callback_us": soak["callback_us"],
        "latency_grown_ms": soak["latency_grown_ms"],
        "machine": {key: value for key, value in machine.result().items() if key != "over_1ms_us"}
        | {"stalls_over_half_period": machine.stalls(over_us=5e5 * jack.period / jack.rate)},
        "latency_ms": round(latency.total_seconds * 1e3, 1),
        "window_ms": round(1e3 * latency.compute_window / latency.rate, 1),
        "reserve_ms": late_start["reserve_ms"] if late_start["active"] else None, "backoffs": late_start["backoffs"],
        "retakes": retakes, "soak_retakes": soak["retakes"],
        # per control: to the callback that hands the block to the device (its output latency after), heard/sent
        "knob_to_sound_ms": knob["rig"], "knob_to_sound_midi_ms": knob["midi"], "knob_to_sound_osc_ms": knob["osc"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="default,v2_small_c8,v2_c16,raspberry,v2",
                        help="fixture names, 'default' (models/default.ts) or .ts paths, comma-separated")
    parser.add_argument("--soak", type=float, default=60.0)
    parser.add_argument("--period", type=int, default=PERIOD, help="JACK period in frames (default %(default)s)")
    parser.add_argument("--headroom", type=float, metavar="MS", help="the model's window per block (serve --headroom)")
    parser.add_argument("--reserve", type=float, metavar="MS", help="blocks start this long before due (serve --reserve)")
    parser.add_argument("--no-retakes", dest="retakes", action="store_false", help="serve --no-retakes")
    parser.add_argument("--splice-knobs", action="store_true", help="serve --splice-knobs")
    parser.add_argument("--changes", type=int, default=40, metavar="N", help="knob-to-sound changes per control")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    missing = JackServer.available()
    if missing:
        raise SystemExit(missing)
    jack = JackServer(rate=44100, period=args.period).start()
    os.environ.update(jack.env())
    results = {}
    try:
        for name in args.models.split(","):
            path = Path(name) if name.endswith(".ts") else model_path(name)
            results[name] = {"overhead": overhead(path), "live": live(path, args.soak, jack, args.headroom,
                                                                      args.changes, args.reserve, args.retakes,
                                                                      args.splice_knobs)}
            if not args.json:
                o, lv = results[name]["overhead"], results[name]["live"]
                k = lv["knob_to_sound_ms"]
                controls = (("rig", k), ("midi", lv["knob_to_sound_midi_ms"]), ("osc", lv["knob_to_sound_osc_ms"]))
                knobs = " | ".join(f"{label} median {c['median']} p95 {c['p95']} max {c['max']} ms, "
                                   f"heard {c['heard']}/{c['sent']}" for label, c in controls)
                print(f"{name:<14} block {o['block']}: bare {o['bare_ms']:.2f} ms, engine {o['engine_ms']:.2f} ms, "
                      f"overhead {100 * o['overhead']:+.1f} % ({100 * o['overhead_with_state_save']:+.1f} % with the retakes' state save) | soak {args.soak:.0f} s, {lv['changes_per_s']} changes/s: "
                      f"xruns {lv['xruns_after_warmup']} (jackd blamed {lv['xrun_blame'] or 'nobody'}), late frames {lv['late_frames']}, model p95 "
                      f"{lv['model_ms_p95']:.1f} max {lv['model_ms_max']:.1f} ms, least margin {lv['margin_ms_min']} ms, longest wait to start a block {lv['entry_ms_max']} ms, late blocks {lv['late_blocks'] or '-'}, latency grown {lv['latency_grown_ms']} ms, "
                      f"callback max {lv['callback_us']['max']} us, longest gap {lv['callback_us']['gap_max']} us, "
                      f"machine stalls (FIFO-80 probe) max {lv['machine']['max_us']} us, "
                      f"{lv['machine']['stalls_over_half_period']} over half a period | latency {lv['latency_ms']} ms, window {lv['window_ms']} ms, reserve "
                      f"{lv['reserve_ms']} ms (late-start back-offs {lv['backoffs']}) | retakes done/kept/spliced/late/torn/on demand "
                      f"in the soak {'/'.join(str(lv['soak_retakes'][k]) for k in RETAKE_COUNTS)}, "
                      f"in all {'/'.join(str(lv['retakes'][k]) for k in RETAKE_COUNTS)}, "
                      f"reserve {lv['retakes']['reserve_ms']} ms | knob-to-sound "
                      f"(target {k['target']}; + device {k['device_out']} ms): {knobs}", flush=True)
    finally:
        jack.stop()
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
