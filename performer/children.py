"""Child processes the server owns (the audio device, the MIDI ports): one way to start, watch and
end them, so both links behave the same when a child hangs or dies.

A child is ``python -m <module> '<config as JSON>'`` in a session of its own (killing the group also
ends anything it started), reporting on stdout and logging on stderr. What it reports, and how it
is asked to stop (a flag in shared memory, stdin closed), is each link's own protocol."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import Callable


def spawn(module: str, config: dict, *, stdin: bool = False, text: bool = False) -> subprocess.Popen:
    """Start ``module`` with ``config``, its stdout and stderr piped (and stdin with ``stdin``)."""
    return subprocess.Popen([sys.executable, "-m", module, json.dumps(config)],
                            stdin=subprocess.PIPE if stdin else None, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=text, start_new_session=True)


def relay_stderr(process: subprocess.Popen, on_line: Callable[[str], None], name: str) -> threading.Thread:
    """A daemon thread giving ``on_line`` each non-empty stderr line of ``process`` until it closes."""
    def run() -> None:
        try:
            for raw in process.stderr:
                line = (raw.decode(errors="replace") if isinstance(raw, bytes) else raw).rstrip()
                if line:
                    on_line(line)
        except (ValueError, OSError):  # closed under us
            return

    thread = threading.Thread(target=run, daemon=True, name=name)
    thread.start()
    return thread


def finish(process: subprocess.Popen, log: logging.Logger, what: str, ask: Callable[[], None] | None = None,
           timeout: float = 0.0, close: bool = True) -> None:
    """End ``process`` for sure: ``ask`` it to stop, wait up to ``timeout`` s, then kill its group
    (nothing left to kill when it obeyed) and, with ``close``, close its pipes."""
    if ask is not None:
        ask()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("the %s did not stop within %.0f s; killed", what, timeout)
    kill_group(process)
    if close:
        close_streams(process.stdin, process.stdout, process.stderr)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process's group unless it already ended, then reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def close_streams(*streams) -> None:
    """Close pipes to or from a child, ignoring the ones already closed or broken."""
    for stream in streams:
        if stream:
            try:
                stream.close()
            except OSError:
                pass
