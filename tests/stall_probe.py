"""How late this machine wakes its most urgent thread: a cyclictest in miniature.

Run as ``python -m tests.stall_probe SECONDS``: a thread at SCHED_FIFO 80 (above jackd's clients,
where allowed) sleeps 1 ms at a time for SECONDS and prints one JSON line: how many wake-ups, and
how late they came (p50, p99, max, and a sorted list of the lateness of every wake-up over 1 ms).
On a virtual machine the hypervisor can stall a virtual CPU for milliseconds; no process,
whatever its priority, meets a deadline through that, so the soak tests weigh jackd's blame
against what this probe saw at the same time.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class StallProbe:
    """The probe in a process of its own (its own GIL) for ``seconds``, from now."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.process = subprocess.Popen([sys.executable, "-m", "tests.stall_probe", str(seconds)], cwd=REPO,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._result: dict | None = None

    def result(self) -> dict:
        """Waits for the probe to finish."""
        if self._result is None:
            out, err = self.process.communicate(timeout=self.seconds + 30)
            if self.process.returncode != 0:
                raise RuntimeError(f"stall probe failed: {err[-2000:]}")
            self._result = json.loads(out)
        return self._result

    def stalls(self, over_us: float) -> int:
        """Wake-ups later than ``over_us``: the machine's own stalls while the probe ran."""
        return sum(late > over_us for late in self.result()["over_1ms_us"])


def probe(seconds: float) -> dict:
    gc.disable()
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(80))
        policy = "fifo 80"
    except (PermissionError, OSError):
        policy = "ordinary"
    lates: list[int] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        asked = time.monotonic_ns()
        time.sleep(0.001)
        lates.append(time.monotonic_ns() - asked - 1_000_000)
    lates.sort()
    n = len(lates)
    return {"policy": policy, "wakes": n, "p50_us": lates[n // 2] // 1000, "p99_us": lates[int(n * 0.99)] // 1000,
            "max_us": lates[-1] // 1000, "over_1ms_us": [late // 1000 for late in lates if late > 1_000_000]}


if __name__ == "__main__":
    print(json.dumps(probe(float(sys.argv[1]))), flush=True)
