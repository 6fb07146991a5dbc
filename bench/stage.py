"""`performer serve` as performers run it, on a realtime JACK dummy server, through a long set.

  python bench/stage.py [--minutes 10] [--rate 48000] [--period 256] [--no-realtime] [--model PATH]
                        [--extra ARG ...] [--json]

The Show is built from a `performer serve` command line by the CLI's own parser and
``show_options`` (scenes, undo, bending log, autosave, dashboard with one WebSocket client, MIDI on
JACK, OSC): what is measured is what the CLI runs. The set, in phases:
  idle         nothing moves
  bent         16 tensors bent over OSC (noise, 30 %, amount 0.5), then nothing moves
  osc          1000 OSC changes/s (mix and one tensor's amount), from another process
  midi         1000 MIDI CCs/s into Performer's JACK MIDI port (mapped to 8 tensors' amounts)
  morph        a scene morph swept at 100 Hz over OSC
  rest         nothing moves, to the end
Per phase: late frames, xruns and whom jackd blamed, model time per block (median, p99, max),
and the machine's own stalls (a FIFO-80 probe beside it: tests/stall_probe.py). An xrun blamed on
a Performer client excuses itself only with a late driver cycle in the same second.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._show import build_show, jack_env  # noqa: E402
from tests.jack_server import JackServer  # noqa: E402
from tests.stall_probe import StallProbe  # noqa: E402

OSC_SENDER = """
import sys, time, json
from pythonosc.udp_client import SimpleUDPClient
port, rate, seconds, plan = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), json.loads(sys.argv[4])
client = SimpleUDPClient("127.0.0.1", port)
n = int(rate * seconds); t0 = time.monotonic()
for i in range(n):
    due = t0 + i / rate
    while (now := time.monotonic()) < due:
        time.sleep(min(due - now, 0.0005))
    address, low, high = plan[i % len(plan)]
    phase = (i // len(plan)) % 200 / 199
    client.send_message("/performer/" + address, low + (high - low) * (phase if (i // 200) % 2 == 0 else 1 - phase))
print(n)
"""

MIDI_SENDER = """
import sys, time, rtmidi
n, rate = int(sys.argv[1]), float(sys.argv[2])
out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="stage-midi")
ports = out.get_ports()
out.open_port([i for i, p in enumerate(ports) if p.startswith("performer-midi:")][0], "out")
t0 = time.monotonic()
for i in range(n):
    due = t0 + i / rate
    while (now := time.monotonic()) < due:
        time.sleep(min(due - now, 0.0005))
    out.send_message([0xB0, (i // 128) % 8, i % 128])
print(f"{time.monotonic() - t0:.3f} {n}", flush=True)  # seconds it took (control_flood reads it), count
time.sleep(0.3)
"""


def send(code: str, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ)


class WebClient(threading.Thread):
    """One dashboard client on the WebSocket, reading every event as a browser would."""

    def __init__(self, url: str):
        super().__init__(daemon=True, name="stage-ws")
        self.url, self.messages, self.done = url, 0, threading.Event()

    def run(self) -> None:
        from websockets.sync.client import connect

        with connect(self.url) as socket:
            while not self.done.is_set():
                try:
                    socket.recv(timeout=0.2)
                    self.messages += 1
                except TimeoutError:
                    continue


def mapping_file(folder: Path, tensors: list[str]) -> Path:
    lines = ["schema_version = 1", 'name = "stage"']
    for k, name in enumerate(tensors[:8]):
        lines += ["[[controls]]", f'match = {{ type = "cc", channel = 1, number = {k} }}',
                  f'address = "{name}/0/amount"', 'takeover = "none"']
    path = folder / "stage.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def blame_by_second(jack: JackServer, mark: int) -> tuple[dict, int]:
    """jackd's blame since ``mark``, and how many xruns named a Performer client in a second with
    no late driver cycle (the machine): those are ours."""
    blame = jack.xruns_since(mark)
    ours_unexcused = 0
    driver_seconds, client_seconds = set(), []
    second = None
    for line in jack.log_lines_since(mark):
        stamp = re.match(r"(?:\S+ )?(\d\d:\d\d:\d\d)", line)
        if stamp:
            second = stamp.group(1)
        if "JackTimedDriver::Process XRun" in line:
            driver_seconds.add(second)
        client = re.search(r"XRun: client =? ?(\S+) (?:was not finished|finished after)", line)
        if client and client.group(1).startswith("performer"):
            client_seconds.append(second)
    ours_unexcused = sum(1 for s in client_seconds if s is None or s not in driver_seconds)
    return blame, ours_unexcused


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--period", type=int, default=256)
    parser.add_argument("--no-realtime", action="store_true", help="jackd --no-realtime (the README's no-hardware line)")
    parser.add_argument("--model", default=None)
    parser.add_argument("--extra", action="append", default=[], help="more `performer serve` arguments")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    jack = JackServer(rate=args.rate, period=args.period)
    if args.no_realtime:
        jack.realtime = False
    jack.start()
    jack_env(jack)
    from performer.model import load_model

    minutes = args.minutes
    phase_s = min(60.0, 60.0 * minutes / 10)  # each load phase: a minute of a 10-minute set
    idle_s = phase_s
    total_s = minutes * 60
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = load_model(args.model)
        names = [t.name for t in sorted(_bendable(model), key=lambda t: -t.size)][:16]
        mapping = mapping_file(tmp, names)
        osc_port = 9400 + os.getpid() % 500
        web_port = 8400 + os.getpid() % 500
        argv = [*([args.model] if args.model else []), "--scenes", str(tmp / "scenes"),
                "--mapping", str(mapping), "--midi-api", "jack", "--osc-port", str(osc_port),
                "--web-port", str(web_port), "--status-interval", "0", *args.extra]
        show = build_show(argv, tmp)
        show.start()
        results: dict = {"model": str(model.path), "rate": args.rate, "period": args.period,
                         "jackd": "realtime" if jack.realtime else "no-realtime", "minutes": minutes,
                         "block": show.live.engine.block_size, "latency_ms": round(show.live.latency.total_seconds * 1e3, 1),
                         "phases": {}}
        client = WebClient(f"ws://127.0.0.1:{web_port}/api/ws")
        client.start()
        started = time.monotonic()
        stats = show.live.engine.stats

        def phase(name: str, seconds: float, load=None) -> None:
            mark, before, blocks0 = jack.log_mark(), show.live.telemetry.snapshot(), stats.blocks
            probe = StallProbe(seconds)
            worker = load() if load else None
            time.sleep(seconds)
            if worker is not None:
                worker.wait(timeout=30)
            after = show.live.telemetry.snapshot()
            new = stats.blocks - blocks0
            times = np.array(list(stats.recent_ms)[-min(new, len(stats.recent_ms)):] or [0.0])
            blame, unexcused = blame_by_second(jack, mark)
            machine = probe.result()
            results["phases"][name] = {
                "seconds": seconds, "late_frames": after["late_frames"] - before["late_frames"],
                "xruns": after["xruns_after_warmup"] - before["xruns_after_warmup"], "blame": blame,
                "ours_unexcused": unexcused, "blocks": new,
                "model_ms": {"median": round(float(np.median(times)), 2), "p99": round(float(np.percentile(times, 99)), 2),
                             "max": round(float(times.max()), 2)},
                "machine_stall_ms_max": round(machine["max_us"] / 1000, 2) if "max_us" in machine else machine}
            print(f"{name:>6}: {json.dumps(results['phases'][name])}", file=sys.stderr, flush=True)

        phase("idle", idle_s)
        # 16 tensors bent, over OSC as a live coder would
        plan = []
        for name in names:
            plan += [[f"{name}/0/transform", "noise"], [f"{name}/0/percent", 0.3], [f"{name}/0/amount", 0.5]]
        from pythonosc.udp_client import SimpleUDPClient
        osc = SimpleUDPClient("127.0.0.1", osc_port)
        for address, value in plan:
            osc.send_message("/performer/" + address, value)
        time.sleep(1.0)
        phase("bent", idle_s)
        phase("osc", phase_s, lambda: send(OSC_SENDER, osc_port, 1000, phase_s,
                                           json.dumps([["mix", 0.2, 1.0], [f"{names[0]}/0/amount", 0.0, 1.0]])))
        phase("midi", phase_s, lambda: send(MIDI_SENDER, int(1000 * phase_s), 1000))
        show.rig.set("scene/save", "a", source="bench")
        show.rig.set(f"{names[1]}/0/amount", 1.0, source="bench")
        show.rig.set("mix", 0.5, source="bench")
        show.rig.set("scene/save", "b", source="bench")
        show.rig.set("scene/a", "a", source="bench")
        show.rig.set("scene/b", "b", source="bench")
        phase("morph", phase_s, lambda: send(OSC_SENDER, osc_port, 100, phase_s, json.dumps([["scene/morph", 0.0, 1.0]])))
        rest = max(5.0, total_s - (time.monotonic() - started))
        phase("rest", rest)
        client.done.set()
        show.stop()
        summary = show.summary or {}
        results["whole"] = {"late_frames": summary.get("late_frames"), "xruns": summary.get("xruns_after_warmup"),
                            "ws_messages": client.messages,
                            "osc": show.surfaces.status().get("osc", {}) if show.surfaces else {}}
    jack.stop()
    idle_p99 = results["phases"]["bent"]["model_ms"]["p99"]
    worst = max(results["phases"][p]["model_ms"]["p99"] for p in ("osc", "midi", "morph"))
    results["p99_ratio_load_vs_idle"] = round(worst / idle_p99, 3) if idle_p99 else None
    late = sum(p["late_frames"] for p in results["phases"].values())
    ours = sum(p["ours_unexcused"] for p in results["phases"].values())
    results["verdict"] = {"late_frames": late, "xruns_blamed_on_performer_unexcused": ours,
                          "p99_within_1.2x": results["p99_ratio_load_vs_idle"] is not None
                          and results["p99_ratio_load_vs_idle"] <= 1.2}
    print(json.dumps(results, indent=1) if args.json else json.dumps(results["verdict"]))
    return 0


def _bendable(model):
    from performer.model.tensors import describe_tensors
    return [t for t in describe_tensors(model.module) if t.size > 16]


if __name__ == "__main__":
    sys.exit(main())
