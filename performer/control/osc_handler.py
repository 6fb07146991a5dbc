"""OSC messages to Rig calls: sets, queries, patterns, the ``/ctrl`` alias and scene recall.

Sockets and time tags are the server's business (``osc.py``); this module turns one parsed
message into ``rig.set``/``rig.get`` calls and the replies owed to its sender, so it can be tested
without a network. It never raises: every failure becomes a ``/performer/error`` reply, a counter
and a (rate-limited) line on the ``performer.osc.in`` logger.

  /performer/<address> value     set            /ctrl <address> value    the same (Tidal style)
  /performer/<address>           query: reply /performer/<canonical address> <value>
  /performer/scene/recall name   recall a scene (when the rig has scenes)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from performer.bending.chain import SLOT_FIELDS_TYPES
from performer.bending.transforms import TRANSFORMS
from performer.control.osc_log import RateLimitedLog
from performer.control.osc_pattern import PatternError, is_pattern, match
from performer.control.osc_wire import Message
from performer.errors import PerformerError
from performer.rig import addresses
from performer.rig.addresses import GLOBALS, RESET_ALL

if TYPE_CHECKING:
    from performer.rig import Rig

log = logging.getLogger("performer.osc.in")

PREFIX = "/performer/"
CTRL = "/ctrl"
ERROR = "/performer/error"
SOURCE = "osc"

Reply = tuple[str, tuple[object, ...]]  # (OSC address, arguments) sent back to the sender


@dataclass
class OscStats:
    """Counters, written only by the server's event loop thread (readers may lag a message)."""

    received: int = 0   # datagrams
    malformed: int = 0  # datagrams dropped as not OSC 1.0
    messages: int = 0   # messages handled, bundle contents included
    applied: int = 0    # successful rig.set calls (a pattern counts each address it set)
    queries: int = 0    # values replied
    errors: int = 0     # messages answered with /performer/error
    scheduled: int = 0  # bundles held for a future time tag
    dropped: int = 0    # scheduled bundles discarded (queue full, or the server stopped first)


class OscRequestError(Exception):
    """A message that cannot be carried out; ``address`` is what the error reply names."""

    def __init__(self, address: str, message: str) -> None:
        super().__init__(message)
        self.address = address


class OscHandler:
    """Carries out one OSC message on a Rig and returns the replies for its sender."""

    def __init__(self, rig: Rig, stats: OscStats | None = None, limited_log: RateLimitedLog | None = None) -> None:
        self.rig = rig
        self.stats = stats if stats is not None else OscStats()
        self.log = limited_log if limited_log is not None else RateLimitedLog(log)
        self._tensor_index = {t.name: t.index for t in rig.tensors}

    def handle(self, message: Message, sender: object = None) -> list[Reply]:
        """Apply ``message``; return the replies owed to its sender. Never raises."""
        self.stats.messages += 1
        try:
            return self._route(message)
        except OscRequestError as exc:
            return self._error(exc.address, str(exc), message, sender)
        except Exception as exc:  # a bug must cost one message, not the server
            log.exception("%s %s: internal error", peer(sender), message.address)
            return self._error(message.address, f"internal error: {type(exc).__name__}: {exc}", message, sender)

    # -- routing ------------------------------------------------------------------------------
    def _route(self, message: Message) -> list[Reply]:
        if message.address == CTRL:
            if not message.args or not isinstance(message.args[0], str):
                raise OscRequestError(CTRL, "/ctrl expects an address string and a value, e.g. /ctrl mix 0.5")
            return self._address(message.args[0], message.args[1:])
        if message.address.startswith(PREFIX):
            return self._address(message.address[len(PREFIX):], message.args)
        raise OscRequestError(
            message.address, f"unknown OSC address {message.address!r}: send /performer/<address> [value] "
            "or /ctrl <address> <value> (addresses: docs/osc.md)")

    def _address(self, address: str, args: tuple[object, ...]) -> list[Reply]:
        if not address:
            raise OscRequestError(address, "empty address; e.g. /performer/mix 0.5")
        if len(args) > 1:
            raise OscRequestError(address, f"expects one value, got {len(args)}: {_show(args)}")
        if is_pattern(address):
            return self._pattern(address, args)
        if not args and not _is_reset(address):
            return [self._query(address)]
        try:
            self.rig.set(address, args[0] if args else 1, source=SOURCE)
        except PerformerError as exc:
            raise OscRequestError(address, str(exc)) from None
        self.stats.applied += 1
        return []

    def _pattern(self, pattern: str, args: tuple[object, ...]) -> list[Reply]:
        try:
            targets = match(pattern, self.concrete_addresses(positional=_positional(pattern)))
        except PatternError as exc:
            raise OscRequestError(pattern, str(exc)) from None
        trigger = bool(args) or _is_reset(pattern)  # a valueless pattern ending in /reset triggers them
        if not trigger:  # a query never triggers a reset it happens to match (#3/* matches #3/reset)
            targets = [t for t in targets if not _is_reset(t)]
        if not targets:
            raise OscRequestError(pattern, "the pattern matches no address (slot fields match only the slots "
                                           "in use; the address space is in docs/osc.md)")
        if not trigger:
            return [self._query(t) for t in targets]
        return self._apply_all(pattern, targets, args[0] if args else 1)

    def _apply_all(self, pattern: str, targets: list[str], value: object) -> list[Reply]:
        failures = []
        for target in targets:
            try:
                self.rig.set(target, value, source=SOURCE)
                self.stats.applied += 1
            except PerformerError as exc:
                failures.append(str(exc))
        if failures:
            raise OscRequestError(pattern, f"{len(failures)} of {len(targets)} matched addresses refused "
                                           f"the value; first: {failures[0]}")
        return []

    def _query(self, address: str) -> Reply:
        try:
            resolved = self._resolve_selected(address)
            parsed = addresses.parse(resolved, self._tensor_index, len(self.rig.tensors),
                                     self.rig.model.latent_size, self.rig.max_slots)
            value = self.rig.get(resolved)
        except PerformerError as exc:
            raise OscRequestError(address, str(exc)) from None
        canonical = self.rig.canonical(parsed)
        if value is None:
            in_use = len(self.rig.chain(parsed.tensor)) if parsed.tensor is not None else 0
            raise OscRequestError(address, f"{canonical}: slot {parsed.slot} is not in use (slots in use: "
                                           f"{', '.join(map(str, range(in_use))) or 'none'}); set a field to create it")
        self.stats.queries += 1
        return PREFIX + canonical, (int(value) if isinstance(value, bool) else value,)

    def _resolve_selected(self, address: str) -> str:
        """``selected[+k]/...`` as the position it names now, so a query replies the tensor's
        canonical name and reads the value of that same tensor."""
        bank = addresses.SELECTED.match(address)
        if not bank:
            return address
        position = (int(self.rig.get("select/tensor")) + int(bank.group(1) or 0)) % len(self.rig.tensors)
        return f"#{position}{bank.group(2)}"

    # -- the address space --------------------------------------------------------------------
    def concrete_addresses(self, positional: bool = False) -> list[str]:
        """Every address a pattern can match now: globals, ``select/tensor``, bends/reset, latents,
        each tensor's reset, and the fields of slots in use (the slot fields plus the current
        transform's parameters). Tensors by name, or by position (``#3``) when ``positional``.
        Relative moves (``select/next|prev``) and ``selected/...`` aliases are left out: a pattern
        names things, it does not step through them."""
        out = [*GLOBALS, "select/tensor", RESET_ALL]
        for i in range(self.rig.model.latent_size or 0):
            out += [f"latent/{i}/offset", f"latent/{i}/scale"]
        chains = self.rig.state()["tensors"]
        for tensor in self.rig.tensors:
            key = f"#{tensor.index}" if positional else tensor.name
            out.append(f"{key}/reset")
            for slot_index, slot in enumerate(chains.get(tensor.name, ())):
                params = tuple(p.name for p in TRANSFORMS[slot["transform"]].params)
                out += [f"{key}/{slot_index}/{field}" for field in SLOT_FIELDS_TYPES + params]
        return out

    # -- errors ---------------------------------------------------------------------------------
    def _error(self, address: str, text: str, message: Message, sender: object) -> list[Reply]:
        self.stats.errors += 1
        self.log.log("error", logging.WARNING, "%s %s %s: %s", peer(sender), message.address,
                     _show(message.args), text)
        return [(ERROR, (address, text))]


def _is_reset(address: str) -> bool:
    return address == RESET_ALL or address.endswith("/reset")


def _positional(pattern: str) -> bool:
    """Tensors by position (``#3/...``) when the pattern's first part says so, else by name."""
    return "#" in pattern.split("/", 1)[0]


def _show(args: tuple[object, ...]) -> str:
    return " ".join(repr(a) for a in args)[:200]


def peer(sender: object) -> str:
    """``host:port`` of a datagram's sender, for log lines."""
    if isinstance(sender, tuple) and len(sender) >= 2:
        return f"{sender[0]}:{sender[1]}"
    return "-"
