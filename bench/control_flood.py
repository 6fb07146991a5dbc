"""A MIDI flood into a running server: messages lost, control CPU, and what the audio side felt.

  python bench/control_flood.py [--rate 5000] [--seconds 10] [--model v2_small_c8]

A JACK dummy server (44.1 kHz, period 256) is started by the bench; the live server runs the
model on it with MIDI on (the MIDI process reads our virtual port), 8 CCs mapped to the amounts of
8 scaled tensors. A sender in another process sends --rate CCs per second, paced, for --seconds.
Baseline in the same process: the same server for the same time without the flood.
Reported: messages lost (0 expected), CPU seconds per second of the MIDI process and of the
server's MIDI reader thread, xruns after warm-up (and whom jackd blamed), late frames, model p95
with and without the flood (ratio), Rig changes applied.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._models import CACHE  # noqa: E402
from bench.stage import MIDI_SENDER  # noqa: E402
from performer.control.surfaces import ControlSurfaces, SurfaceOptions  # noqa: E402
from performer.live.server import LiveServer, ServeOptions  # noqa: E402
from performer.model import load_model  # noqa: E402
from performer.rig import Rig  # noqa: E402
from tests.jack_server import JackServer  # noqa: E402

SENDER = MIDI_SENDER  # one paced JACK MIDI sender for the benches (bench/stage.py)


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(model: Path, seconds: float, rate: float, flood: bool, jack: JackServer) -> dict:
    rig = Rig(load_model(model))
    lines = ["schema_version = 1", 'name = "flood"']
    for k in range(8):
        rig.set(f"#{k}/0/transform", "scale")
        lines += ["[[controls]]", f'match = {{ type = "cc", channel = 1, number = {k} }}', f'address = "#{k}/0/amount"',
                  'takeover = "none"']
    with tempfile.TemporaryDirectory() as tmp:
        mapping = Path(tmp) / "flood.toml"
        mapping.write_text("\n".join(lines) + "\n")
        server = LiveServer(rig, ServeOptions())
        surfaces = ControlSurfaces(rig, SurfaceOptions(mappings=[mapping], shipped=False, osc=False,
                                                       learn_file=Path(tmp) / "learned.toml"))
        with server:
            surfaces.start()
            try:
                time.sleep(1.0)
                reader = next(t for t in threading.enumerate() if t.name == "performer-midi")
                midi_pid, me = surfaces.midi.pid, os.getpid()
                cpu0 = cpu_seconds(midi_pid), cpu_seconds(me, reader.native_id)
                mark = jack.log_mark()
                before = server.telemetry.snapshot()
                n = int(rate * seconds)
                if flood:
                    sender = subprocess.run([sys.executable, "-c", SENDER, str(n), str(rate)], capture_output=True,
                                            text=True, env=os.environ, timeout=seconds + 30)
                    if sender.returncode:
                        raise SystemExit(sender.stderr)
                    sent_in = float(sender.stdout.split()[0])
                else:
                    time.sleep(seconds + 0.5)
                    sent_in, n = seconds, 0
                cpu1 = cpu_seconds(midi_pid), cpu_seconds(me, reader.native_id)
                snap = server.telemetry.snapshot()
                blame = jack.xruns_since(mark)
                received = surfaces.router.stats.messages
                applied = surfaces.router.stats.applied
            finally:
                surfaces.stop()
    return {"sent": n, "received": received, "lost": n - received, "applied": applied, "send_seconds": sent_in,
            "midi_process_cpu": (cpu1[0] - cpu0[0]) / sent_in, "reader_thread_cpu": (cpu1[1] - cpu0[1]) / sent_in,
            "xruns": snap["xruns_after_warmup"] - before["xruns_after_warmup"], "blame": blame,
            "late_frames": snap["late_frames"] - before["late_frames"], "model_p95": snap["model_ms"]["p95"],
            "installed": snap["tensors_installed"] - before["tensors_installed"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--model", default="v2_small_c8")
    args = parser.parse_args()
    model = Path(args.model) if args.model.endswith(".ts") else CACHE / f"{args.model}.ts"
    jack = JackServer(rate=44100, period=256).start()
    os.environ.update(jack.env(), MIDO_BACKEND="mido.backends.rtmidi/UNIX_JACK")
    try:
        idle = run(model, args.seconds, args.rate, False, jack)
        flood = run(model, args.seconds, args.rate, True, jack)
    finally:
        jack.stop()
    print(f"{args.rate:.0f} CCs/s for {args.seconds:.0f} s into {model.name} (JACK 44.1 kHz / 256, realtime "
          f"{jack.realtime}):")
    print(f"  messages: sent {flood['sent']}, received {flood['received']}, lost {flood['lost']}; Rig changes "
          f"applied {flood['applied']}, tensors installed {flood['installed']}")
    print(f"  CPU: MIDI process {100 * flood['midi_process_cpu']:.1f} % of a core, server's MIDI reader thread "
          f"{100 * flood['reader_thread_cpu']:.1f} % (idle baseline {100 * idle['reader_thread_cpu']:.1f} %)")
    print(f"  audio: xruns {flood['xruns']} (jackd blamed {flood['blame'] or 'nobody'}), late frames "
          f"{flood['late_frames']}; model p95 {flood['model_p95']:.2f} ms vs {idle['model_p95']:.2f} ms idle "
          f"(x{flood['model_p95'] / idle['model_p95']:.2f})")


if __name__ == "__main__":
    main()
