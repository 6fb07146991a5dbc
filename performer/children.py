"""Child processes the server owns (the audio device, the MIDI ports): ending them for sure.

Both are started in a session of their own, so killing the group also ends anything they started."""

from __future__ import annotations

import os
import signal
import subprocess


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
