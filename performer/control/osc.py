"""The OSC control server: UDP datagrams into Rig.set, on its own thread and asyncio loop.

    with OscServer(rig, port=DEFAULT_PORT) as server:   # 127.0.0.1:9130
        ...                                             # /performer/mix 0.5 now moves the mix

Bundles whose time tag is in the future are held and applied at that time by a timer on the
server's event loop (python-osc's dispatcher instead *sleeps* in the handler, stalling every
later datagram, which is what Tidal's ``Pre BundleStamp`` targets do all the time). Bad
datagrams are counted in ``stats`` and logged, rate-limited, on ``performer.osc.in``; nothing
a client sends can stop the server. Rig calls (and so the rig's change listeners) run on the
server's thread.

Default port 9130: the ports around live-coding tools are taken (scsynth 57110, sclang and
SuperDirt 57120, Strudel's bridge 57121 and 8080, Tidal's controller input 6010, Sonic Pi
4560, TouchOSC/Reaper habits 8000/9000); 9130 is free of them, needs no privileges and lies
below the ephemeral range a client socket could have taken.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import threading
import time
from typing import TYPE_CHECKING

from performer.control.osc_handler import OscHandler, OscStats, peer
from performer.control.osc_log import RateLimitedLog
from performer.control.osc_wire import IMMEDIATELY, Bundle, MalformedPacket, Message, encode_message, \
    ntp_to_unix, parse_packet

if TYPE_CHECKING:
    from performer.rig import Rig

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "OscEndpoint", "OscServer", "OscStats"]

log = logging.getLogger("performer.osc.in")

DEFAULT_HOST = "127.0.0.1"  # local clients only unless told otherwise: OSC has no authentication
DEFAULT_PORT = 9130
MAX_PENDING = 10_000  # scheduled bundles held at once; beyond it new ones are dropped, not queued


class OscEndpoint(asyncio.DatagramProtocol):
    """The asyncio side: parse datagrams, apply or schedule them, send replies.

    Usable on any event loop (``loop.create_datagram_endpoint(lambda: OscEndpoint(rig), ...)``);
    every method runs on that loop's thread.
    """

    def __init__(self, rig: Rig, stats: OscStats | None = None, max_pending: int = MAX_PENDING,
                 allow: frozenset[str] | None = None) -> None:
        self.stats = stats if stats is not None else OscStats()
        self.allow = allow  # sender IPs accepted; None: any (the socket is bound to loopback then)
        self.refused = 0
        self.log = RateLimitedLog(log)
        self.handler = OscHandler(rig, self.stats, self.log)
        self.max_pending = max_pending
        self.transport: asyncio.DatagramTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[int, int, Bundle, object]] = []  # (NTP time tag, arrival order, ...)
        self._order = itertools.count()  # equal times apply in arrival order (heapq is not stable)
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio.DatagramProtocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._loop = asyncio.get_running_loop()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if self.allow is not None and (not isinstance(addr, tuple) or addr[0] not in self.allow):
            self.refused += 1  # OSC has no authentication: on a network only listed senders count
            self.log.log("refused", logging.WARNING, "%s is not an allowed OSC sender (--osc-allow); dropped",
                         peer(addr))
            return
        self.stats.received += 1
        try:
            packet = parse_packet(data)
        except MalformedPacket as exc:
            self.stats.malformed += 1
            self.log.log("malformed", logging.WARNING, "%s dropped a malformed datagram (%d bytes): %s",
                         peer(addr), len(data), exc)
            return
        if isinstance(packet, Message):
            self._apply(packet, addr)
        else:
            self._arrive(packet, addr)

    def error_received(self, exc: Exception) -> None:
        # e.g. ICMP port unreachable after replying to a client that has gone away
        self.log.log("socket", logging.INFO, "OSC socket error (a reply's receiver may have gone): %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.cancel_pending()

    # -- bundles and time tags ------------------------------------------------------------------------
    # Pending bundles are ordered by their raw time tag, then arrival: equal tags keep the order
    # they came in, exactly (loop times converted per arrival would differ by clock jitter).
    def _arrive(self, bundle: Bundle, addr: object) -> None:
        if bundle.timetag == IMMEDIATELY or ntp_to_unix(bundle.timetag) <= time.time():
            self._deliver(bundle, addr)
        else:
            self._schedule(bundle, addr)

    def _deliver(self, bundle: Bundle, addr: object) -> None:
        """Apply a due bundle's elements in order; a nested bundle still in the future waits."""
        for element in bundle.elements:
            if isinstance(element, Message):
                self._apply(element, addr)
            else:
                self._arrive(element, addr)  # its own time tag: now, or later than ours

    def _schedule(self, bundle: Bundle, addr: object) -> None:
        if len(self._pending) >= self.max_pending:
            self.stats.dropped += 1
            self.log.log("dropped", logging.WARNING, "%s dropped a bundle due in %.3f s: %d are already waiting",
                         peer(addr), ntp_to_unix(bundle.timetag) - time.time(), len(self._pending))
            return
        self.stats.scheduled += 1
        order = next(self._order)
        heapq.heappush(self._pending, (bundle.timetag, order, bundle, addr))
        if self._pending[0][1] == order:  # the new earliest: re-arm the timer for it
            self._arm()

    def _arm(self) -> None:
        """One timer, for the earliest pending bundle. Time tags are wall-clock (NTP) time and
        the loop's clock is monotonic, so the delay is converted now, for this bundle only."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending:
            delay = ntp_to_unix(self._pending[0][0]) - time.time()
            self._timer = self._loop.call_later(max(delay, 0.0), self._run_due)  # type: ignore[union-attr]

    def _run_due(self) -> None:
        self._timer = None
        now = time.time()
        while self._pending and ntp_to_unix(self._pending[0][0]) <= now:
            _, _, bundle, addr = heapq.heappop(self._pending)
            self._deliver(bundle, addr)
        self._arm()  # a timer that fired a hair early by the wall clock simply re-arms

    def cancel_pending(self) -> int:
        """Drop every scheduled bundle (at shutdown); return how many."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        dropped, self._pending = len(self._pending), []
        if dropped:
            self.stats.dropped += dropped
            log.info("dropped %d scheduled OSC bundles that were not due yet", dropped)
        return dropped

    @property
    def pending(self) -> int:
        return len(self._pending)

    # -- messages -------------------------------------------------------------------------------------
    def _apply(self, message: Message, addr: object) -> None:
        for address, args in self.handler.handle(message, addr):
            if self.transport is None or addr is None:
                continue
            try:
                self.transport.sendto(encode_message(address, args), addr)  # type: ignore[arg-type]
            except Exception as exc:  # a reply that cannot go out must not take the next message with it
                self.log.log("reply", logging.WARNING, "%s could not reply %s %r: %s", peer(addr), address, args, exc)


class OscServer:
    """An OSC UDP server for one Rig, on its own thread with its own event loop.

    ``port=0`` binds a free port (read it from ``.port`` after ``start``). Binds
    ``127.0.0.1`` by default; pass ``host="0.0.0.0"`` to accept other machines.
    """

    def __init__(self, rig: Rig, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 max_pending: int = MAX_PENDING, allow: list[str] | None = None) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"OSC port must be in range 0..65535 (0 picks a free one), got {port}")
        loopback = host in ("127.0.0.1", "::1", "localhost")
        if not loopback and not allow:
            raise ValueError(f"OSC on {host} would take changes from anyone on the network (OSC has no "
                             f"authentication): list the senders with --osc-allow IP[,IP...]")
        self.allow = frozenset(allow) | {"127.0.0.1", "::1"} if allow else None
        self.rig = rig
        self.host = host
        self.requested_port = port
        self.max_pending = max_pending
        self.stats = OscStats()
        self.endpoint: OscEndpoint | None = None
        self._bound: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port while running, else the requested one."""
        return self._bound if self._bound is not None else self.requested_port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> OscServer:
        """Bind and start serving; raise OSError naming the address if it cannot bind."""
        if self._thread is not None:
            raise RuntimeError("OSC server already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(ready, failure), name="performer-osc", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            exc = failure[0]
            if not isinstance(exc, OSError):
                raise exc
            raise OSError(exc.errno, f"cannot listen for OSC on {self.host}:{self.requested_port}: "
                                     f"{exc.strerror or exc}; another program (or another Performer) may hold "
                                     "the port: pass another port (0 picks a free one)") from exc
        log.info("OSC listening on %s:%d", self.host, self.port)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, dropping bundles not yet due; safe to call twice."""
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        try:  # queued even if run_forever has not begun yet
            if loop is not None:
                loop.call_soon_threadsafe(self._shutdown)
        except RuntimeError:  # the loop already closed: the thread is on its way out
            pass
        thread.join(timeout)
        if thread.is_alive():
            log.warning("OSC server thread did not stop within %.1f s", timeout)
            return
        self._thread = self._loop = None
        self._bound = None

    def __enter__(self) -> OscServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            transport, endpoint = loop.run_until_complete(loop.create_datagram_endpoint(
                lambda: OscEndpoint(self.rig, self.stats, self.max_pending, self.allow),
                local_addr=(self.host, self.requested_port)))
        except Exception as exc:  # reported by start(), in the caller's thread
            failure.append(exc)
            loop.close()
            ready.set()
            return
        self.endpoint = endpoint
        self._bound = transport.get_extra_info("sockname")[1]
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            transport.close()
            loop.run_until_complete(asyncio.sleep(0))  # let the transport finish closing
            loop.close()

    def _shutdown(self) -> None:
        if self.endpoint is not None:
            self.endpoint.cancel_pending()
        asyncio.get_running_loop().stop()
