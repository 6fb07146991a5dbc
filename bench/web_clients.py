"""Many dashboard pages at once: 50 WebSocket clients for 60 s beside the live engine.

  python bench/web_clients.py [--clients 50] [--seconds 60] [--model v2_small_c8]

JACK dummy server (44.1 kHz, period 256, realtime where allowed) started by the bench; the live
server and the dashboard run in this process as `performer serve` runs them. Every client counts
the meter frames it receives; the expected rate is one per model block (at most 30 Hz).
Baseline in the same process: the same engine for the same time with no client connected.
Reported: xruns (and whom jackd blamed), late frames, model p95 with and without clients, meter
frames per client per second (min/median/max) against the block rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._models import CACHE  # noqa: E402
from performer.live.server import LiveServer, ServeOptions  # noqa: E402
from performer.model import load_model  # noqa: E402
from performer.rig import Rig  # noqa: E402
from performer.web.context import WebContext  # noqa: E402
from performer.web.server import WebServer  # noqa: E402
from tests.jack_server import JackServer  # noqa: E402


async def client(url: str, seconds: float, counts: list[int], index: int) -> None:
    import websockets

    async with websockets.connect(url, max_size=1 << 20) as ws:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), timeout=left))
            except asyncio.TimeoutError:
                break
            if message.get("type") == "meters":
                counts[index] += 1


async def clients(url: str, n: int, seconds: float) -> list[int]:
    counts = [0] * n
    await asyncio.gather(*(client(url, seconds, counts, i) for i in range(n)))
    return counts


def _clients_process(port: int, n: int, seconds: float) -> list[int]:
    """The clients in a process of their own, as browsers are: they never share our GIL."""
    import subprocess

    code = (f"import asyncio, json, sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r}); "
            f"from bench.web_clients import clients; "
            f"print(json.dumps(asyncio.run(clients('ws://127.0.0.1:{port}/api/ws', {n}, {seconds}))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=seconds + 60)
    if result.returncode:
        raise SystemExit(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def window(server: LiveServer, jack: JackServer, seconds: float, run) -> dict:
    mark, before = jack.log_mark(), server.telemetry.snapshot()
    result = run(seconds)
    snap = server.telemetry.snapshot()
    return {"xruns": snap["xruns_after_warmup"] - before["xruns_after_warmup"], "blame": jack.xruns_since(mark),
            "late": snap["late_frames"] - before["late_frames"], "p95": snap["model_ms"]["p95"], "result": result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--model", default="v2_small_c8")
    args = parser.parse_args()
    model = Path(args.model) if args.model.endswith(".ts") else CACHE / f"{args.model}.ts"
    jack = JackServer(rate=44100, period=256).start()
    os.environ.update(jack.env())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        rig = Rig(load_model(model))
        with LiveServer(rig, ServeOptions()) as server:
            web = WebServer(WebContext(rig, live=server), port=port).start()
            try:
                time.sleep(1.0)
                idle = window(server, jack, args.seconds, time.sleep)
                busy = window(server, jack, args.seconds, lambda s: _clients_process(port, args.clients, s))
            finally:
                web.stop()
            block_rate = server.engine.model.sample_rate / server.engine.block_size
    finally:
        jack.stop()
    rates = [c / args.seconds for c in busy["result"]]
    print(f"{args.clients} WebSocket clients for {args.seconds:.0f} s, {model.name}, JACK 44.1 kHz / 256 "
          f"(realtime {jack.realtime}):")
    print(f"  meter frames per client per second: min {min(rates):.1f}, median {statistics.median(rates):.1f}, "
          f"max {max(rates):.1f} (one per block: {min(block_rate, 30):.1f})")
    print(f"  audio with clients: xruns {busy['xruns']} ({busy['blame'] or 'nobody blamed'}), late frames "
          f"{busy['late']}, model p95 {busy['p95']:.2f} ms; without: xruns {idle['xruns']}, late frames "
          f"{idle['late']}, model p95 {idle['p95']:.2f} ms (x{busy['p95'] / idle['p95']:.2f})")


if __name__ == "__main__":
    main()
