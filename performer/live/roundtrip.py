"""Measure Performer's round trip on JACK, the way ``jack_iodelay`` does, not compute it.

``jack_iodelay`` plays a maximum-length sequence from its output port and finds it again at its
input, reporting the delay in frames twice a second. Wired through Performer's dry path
(``mix`` = 0, which the engine delays to line up with the model), that is the true in-to-out
latency of the show: blocks, margin, the model's own delay and JACK's periods together.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass

from performer.errors import PerformerError

READING = re.compile(r"^\s*([\d.]+) frames\s+([\d.]+) ms total roundtrip latency")


@dataclass
class RoundTrip:
    frames: list[float]
    rate: int

    @property
    def ms(self) -> list[float]:
        return [1000.0 * f / self.rate for f in self.frames]

    def summary(self) -> dict:
        ms = sorted(self.ms)
        if not ms:
            return {"readings": 0}
        return {"readings": len(ms), "median_ms": round(ms[len(ms) // 2], 2), "min_ms": round(ms[0], 2),
                "max_ms": round(ms[-1], 2), "jitter_ms": round(ms[-1] - ms[0], 2)}


def measure(client: str, rate: int, seconds: float, readings: int | None = None,
            env: dict | None = None) -> RoundTrip:
    """Run jack_iodelay through ``client``'s first input and output ports for ``seconds`` (or
    until ``readings`` readings) and return what it measured."""
    if shutil.which("jack_iodelay") is None or shutil.which("jack_connect") is None:
        raise PerformerError("measuring latency needs jack_iodelay and jack_connect (Debian: apt install jackd2)")
    env = dict(os.environ, **(env or {}))
    probe = subprocess.Popen(["jack_iodelay"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=env)
    frames: list[float] = []
    done = threading.Event()

    def read() -> None:
        for line in probe.stdout:
            match = READING.match(line)
            if match:
                frames.append(float(match.group(1)))
                if readings is not None and len(frames) >= readings:
                    done.set()
        done.set()

    reader = threading.Thread(target=read, daemon=True, name="performer-iodelay")
    reader.start()
    try:
        _wait_for_ports(env, ["jack_delay:out", "jack_delay:in"])
        for source, sink in ((f"jack_delay:out", f"{client}:in_0"), (f"{client}:out_0", "jack_delay:in")):
            result = subprocess.run(["jack_connect", source, sink], env=env, capture_output=True, text=True)
            if result.returncode:
                raise PerformerError(f"cannot connect {source} to {sink}: {result.stderr.strip() or result.stdout.strip()}"
                                     f" (is `performer serve` running as JACK client {client!r}?)")
        done.wait(seconds)
    finally:
        probe.terminate()
        try:
            probe.wait(timeout=5)
        except subprocess.TimeoutExpired:
            probe.kill()
        reader.join(timeout=2)
    return RoundTrip(frames, rate)


def _wait_for_ports(env: dict, ports: list[str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True).stdout.split()
        if all(p in listed for p in ports):
            return
        time.sleep(0.05)
    raise PerformerError(f"jack_iodelay's ports did not appear in {timeout:.0f} s (is a JACK server running?)")
