"""The dashboard's WebSocket fan-out: Rig changes, status, meters and spectra to every page.

Rig listeners run on whatever thread made the change (MIDI, OSC, the bend worker's callers); they
only store the latest value per address under a lock. One asyncio task ticks at 30 Hz and sends
what changed since the last tick, the levels and spectra of the newest block, and the status 4
times a second. A client that cannot keep up loses its oldest messages (counted), never slows
the others or the Rig.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field

from fastapi import WebSocket

from performer.web.views import levels_db, spectrum_db

TICK_S = 1 / 30
STATUS_EVERY_S = 0.25
CLIENT_QUEUE = 256


@dataclass(eq=False)  # hashed by identity: one entry per connection
class Client:
    socket: WebSocket
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(CLIENT_QUEUE))
    dropped: int = 0


class Hub:
    def __init__(self, context):
        self.context = context
        self.clients: set[Client] = set()
        self.sent_frames = 0
        self._changes: dict[str, tuple[object, str]] = {}
        self._events: list[dict] = []
        self._lock = threading.Lock()
        self._last_sequence = -1
        self._last_status = 0.0
        self._task: asyncio.Task | None = None

    # -- lifecycle (the app's lifespan) -----------------------------------------------------
    async def start(self) -> None:
        self.context.rig.add_listener(self.on_change)
        self._task = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        self.context.rig.remove_listener(self.on_change)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    # -- from any thread --------------------------------------------------------------------
    def on_change(self, change) -> None:
        """Rig listener: remember the latest value per address (sent at the next tick)."""
        value = change.value if isinstance(change.value, (int, float, str, bool, type(None))) else str(change.value)
        with self._lock:
            self._changes[change.address] = (value, change.source)

    def event(self, message: dict) -> None:
        """Queue a one-off message (learn results) for every client, sent at the next tick."""
        with self._lock:
            self._events.append(message)

    # -- clients ----------------------------------------------------------------------------
    async def serve(self, socket: WebSocket) -> None:
        client = Client(socket)
        self.clients.add(client)
        sender = asyncio.create_task(self._send_loop(client))
        try:
            await socket.send_text(json.dumps({"type": "status", **self.context.status()}))
            while True:  # the page sends nothing we need; reading notices a closed socket
                await socket.receive_text()
        except Exception:
            pass
        finally:
            self.clients.discard(client)
            sender.cancel()

    async def _send_loop(self, client: Client) -> None:
        try:
            while True:
                text = await client.queue.get()
                await client.socket.send_text(text)
        except Exception:
            self.clients.discard(client)

    def _broadcast(self, message: dict) -> None:
        text = json.dumps(message, allow_nan=False, default=str)
        for client in list(self.clients):
            if client.queue.full():
                client.queue.get_nowait()  # a slow page loses its oldest frame, nobody waits
                client.dropped += 1
            client.queue.put_nowait(text)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self._tick_once()
            except Exception:  # a bad frame must not end the stream for everyone
                continue

    def _tick_once(self) -> None:
        with self._lock:
            changes, self._changes = self._changes, {}
            events, self._events = self._events, []
        for address, (value, source) in changes.items():
            self._broadcast({"type": "change", "address": address, "value": value, "source": source})
        for message in events:
            self._broadcast(message)
        if not self.clients:
            return
        monitor = self.context.monitor()
        if monitor is not None and monitor.sequence != self._last_sequence and monitor.latest is not None:
            self._last_sequence = monitor.sequence
            inp, out = monitor.latest
            # one frame per block with levels and spectra: one send per client, not two
            self._broadcast({"type": "meters", "input_db": levels_db(inp), "output_db": levels_db(out),
                             "spectrum": {"input": spectrum_db(inp), "output": spectrum_db(out)}})
            self.sent_frames += 1
        now = time.monotonic()
        if now - self._last_status >= STATUS_EVERY_S:
            self._last_status = now
            self._broadcast({"type": "status", **self.context.status()})
