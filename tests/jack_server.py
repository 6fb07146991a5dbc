"""A private JACK server with the dummy backend, started and stopped by the tests themselves.

Recipe and gotchas: ../shared/research/feasibility_audio_midi.md. Streams must be closed before
the server stops, or PortAudio hangs: the live server keeps its stream in a child process.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path


class JackServer:
    def __init__(self, rate: int = 44100, period: int = 256, name: str | None = None, log_dir: Path | None = None):
        self.rate, self.period = rate, period
        self.name = name or f"pt-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.log_path = (log_dir or Path("/tmp")) / f"jackd-{self.name}.log"
        self.process: subprocess.Popen | None = None
        self.realtime = self.realtime_allowed()

    @staticmethod
    def available() -> str | None:
        """None if jackd and PortAudio are here, else how to get them."""
        if not shutil.which("jackd"):
            return "needs jackd: apt install --no-install-recommends jackd2 libportaudio2 (./setup.sh does)"
        try:
            import jack  # noqa: F401  (JACK-Client, the test harness)
        except (ImportError, OSError) as exc:
            return f"needs JACK-Client and libjack ({exc}): pip install -e '.[test]'"
        return None

    @staticmethod
    def realtime_allowed() -> bool:
        import resource

        if os.geteuid() == 0:
            return True
        soft, _hard = resource.getrlimit(resource.RLIMIT_RTPRIO)
        return soft == resource.RLIM_INFINITY or soft >= 70

    def env(self) -> dict:
        return {"JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1", "JACK_NO_AUDIO_RESERVATION": "1"}

    def start(self) -> "JackServer":
        env = dict(os.environ, **self.env())
        log = open(self.log_path, "w")
        # Realtime like a user's jackd2 where we may (root or an rtprio limit): libjack then runs
        # every client's process thread SCHED_FIFO. Otherwise plain scheduling, so timing is noisier.
        mode = ["--realtime", "-P", "70"] if self.realtime else ["--no-realtime"]
        self.process = subprocess.Popen(
            ["jackd", *mode, "-n", self.name, "-d", "dummy", "-r", str(self.rate), "-p", str(self.period)],
            stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jackd exited at start:\n{self.log_path.read_text()}")
            probe = subprocess.run(["jack_wait", "-c", "-s", self.name], capture_output=True, text=True, env=env)
            if "running" in probe.stdout and "not running" not in probe.stdout:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"jackd did not come up in 15 s:\n{self.log_path.read_text()}")

    def ports(self) -> list[str]:
        result = subprocess.run(["jack_lsp", "-s", self.name], capture_output=True, text=True,
                                env=dict(os.environ, **self.env()))
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def log_mark(self) -> int:
        """A position in jackd's log; `xruns_since` reads what it wrote after it."""
        return self.log_path.stat().st_size

    def log_lines_since(self, mark: int) -> list[str]:
        with open(self.log_path, "rb") as log:
            log.seek(mark)
            return log.read().decode(errors="replace").splitlines()

    def xrun_lines_since(self, mark: int, limit: int = 40) -> list[str]:
        """jackd's own words on each xrun since `mark` (whom, in what state: "Triggered" means the
        client's thread had not even woken), for failure messages."""
        return [line for line in self.log_lines_since(mark) if "XRun" in line][:limit]

    def xruns_since(self, mark: int) -> dict[str, int]:
        """Whom jackd blamed for each xrun since `mark`: a client's name, or "driver" when its own
        timer woke late (a busy machine). When the timer is late, jackd then reports every client
        of that cycle as unfinished: those lines count for the driver, not the clients."""
        blame: dict[str, int] = {}
        driver_late = False  # clients reported unfinished in the cycle after the timer woke late
        for line in self.log_lines_since(mark):
            if "JackTimedDriver::Process XRun" in line:
                blame["driver"] = blame.get("driver", 0) + 1
                driver_late = True
                continue
            if "ProcessGraphAsyncMaster" in line:  # the end of that cycle's report
                driver_late = False
                continue
            client = re.search(r"XRun: client =? ?(\S+) (?:was not finished|finished after)", line)
            if client:
                who = "driver (every client of a late cycle)" if driver_late else client.group(1)
                blame[who] = blame.get(who, 0) + 1
        return blame

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
