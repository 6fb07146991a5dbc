"""Change fan-out beside the model thread: the sender's ``Rig.set`` only queues its event.

Undo snapshots, the bending log, autosave, the dashboard's WebSocket and MIDI feedback cost
from microseconds to milliseconds of Python per change. Run inline, 1000 OSC changes/s made
every sender pay them and held the GIL the model thread needs between its torch calls. Here
one thread delivers them in batches at most ``rate_hz`` times a second, and a batch keeps only
the latest change per address (the value that counts; a knob's path in between is not
needed by any listener). The order of first appearance is kept, so a scene load's ``state``
event still precedes the globals it changed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

log = logging.getLogger("performer.rig")


class ChangeDispatcher:
    """Delivers change events to listeners on its own thread, coalesced per address."""

    def __init__(self, rate_hz: float = 100.0):
        self.interval = 1.0 / rate_hz
        self._pending: dict[str, object] = {}  # address -> latest change (insertion order kept)
        self._lock = threading.Lock()  # held only to swap the dict: never while delivering
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._listeners: list[Callable[[object], None]] = []
        self._stop = False
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.coalesced = 0

    def add_listener(self, listener: Callable[[object], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[object], None]) -> None:
        self._listeners.remove(listener)

    def publish(self, change) -> None:
        """Queue ``change`` (any thread; a dict store under a short lock)."""
        with self._lock:
            if change.address in self._pending:
                self.coalesced += 1
                del self._pending[change.address]  # re-inserted at the end: its newest position
            self._pending[change.address] = change
            self._idle.clear()
        self._wake.set()
        if self._thread is None:
            self.start()

    def start(self) -> "ChangeDispatcher":
        with self._lock:
            if self._thread is None:
                self._stop = False
                self._thread = threading.Thread(target=self._run, name="performer-changes", daemon=True)
                self._thread.start()
        return self

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until every queued change has been delivered (undo before stepping, tests, stop).
        From the dispatcher's own thread it returns at once (a listener flushing would wait on
        itself)."""
        if threading.current_thread() is self._thread:
            return True
        self._wake.set()
        return self._idle.wait(timeout)

    def stop(self) -> None:
        """Deliver what is queued, then end the thread."""
        self.flush()
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                batch, self._pending = self._pending, {}
            for change in batch.values():
                self._deliver(change)
            with self._lock:
                if not self._pending:
                    self._idle.set()
            if self._stop:
                return
            time.sleep(self.interval)  # the rate limit: what arrives meanwhile coalesces

    def _deliver(self, change) -> None:
        self.delivered += 1
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:  # a broken listener must not break the others
                log.exception("change listener %r failed on %s", listener, change.address)
