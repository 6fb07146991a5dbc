"""Undo and redo over the rig's whole bend state.

The history keeps snapshots of ``Rig.state()`` (a small dict) rather than inverse operations, so
an undo restores exactly what was there, whatever mix of sets, resets and scene recalls led to it.
Entry 0 is the state when the history started (or was cleared); each later entry is the state
after one gesture:

- a knob drag (changes to the same addresses from the same source, each under ``coalesce_s``
  after the last) is one entry, updated in place as the drag goes on;
- a whole-state load (scene recall, morph step) is one entry: the rig applies it whole, then
  emits its events; a sweep of loads from one source (a morph fader) extends one entry like a
  drag, but a ``"scene"`` recall never merges with the one before it;
- a change that leaves the state as it was (a repeated value, a button's release) adds nothing.

What is not recorded: changes made by undo/redo themselves, the bank selection (navigation, not a
bend: undo leaves the selected tensor alone) and ``record`` (undo must not start or stop a
recording). An ``"autosave-restore"`` starts the history afresh from the restored state.

Listeners run on the MIDI, OSC and web threads. The history never holds its own lock while it
calls into the rig, so no lock order between the two can deadlock.
"""

from __future__ import annotations

import copy
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from performer.rig.rig import Change, Rig

log = logging.getLogger("performer.scenes.history")

UNDO_SOURCE, REDO_SOURCE, RESTORE_SOURCE = "undo", "redo", "autosave-restore"
IGNORED_SOURCES = frozenset({UNDO_SOURCE, REDO_SOURCE})
DISCRETE_SOURCES = frozenset({"scene"})  # each recall its own entry, however fast they follow
NOT_RECORDED = frozenset({"select/tensor", "record"})


def undoable(state: dict) -> dict:
    """The part of a ``Rig.state()`` that undo restores: no selection, no ``record``."""
    view = copy.deepcopy({k: v for k, v in state.items() if k != "selected"})
    view.get("globals", {}).pop("record", None)
    return view


@dataclass
class _Gesture:
    """The change(s) the newest entry came from, to decide whether the next one extends it."""

    source: str
    time: float
    addresses: set[str]


class UndoHistory:
    """Bounded undo/redo of the rig's bend state, fed by the rig's change events."""

    def __init__(self, rig: Rig, limit: int = 200, coalesce_s: float = 1.0):
        if limit < 1:
            raise ValueError(f"undo limit must be at least 1, got {limit}")
        self.rig = rig
        self.limit = limit
        self.coalesce_s = coalesce_s
        self._lock = threading.Lock()  # guards the fields below; never held while calling the rig
        self._apply_lock = threading.Lock()  # one undo/redo at a time, in order
        self._entries: list[dict] = [undoable(rig.state())]
        self._index = 0
        self._gesture: _Gesture | None = None
        rig.add_listener(self._on_change)

    # -- queries ------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._entries) - 1

    @property
    def undo_depth(self) -> int:
        """How many undos are available now."""
        return self._index

    @property
    def redo_depth(self) -> int:
        """How many redos are available now."""
        with self._lock:
            return len(self._entries) - 1 - self._index

    # -- actions ------------------------------------------------------------------------------
    def undo(self) -> bool:
        """Restore the state before the newest entry; False when there is nothing to undo."""
        return self._step(-1, UNDO_SOURCE)

    def redo(self) -> bool:
        """Restore the state an undo went back from; False when there is nothing to redo."""
        return self._step(+1, REDO_SOURCE)

    def clear(self) -> None:
        """Forget every entry; the current state becomes the one undo cannot go past."""
        snapshot = undoable(self.rig.state())
        with self._lock:
            self._entries = [snapshot]
            self._index = 0
            self._gesture = None

    def close(self) -> None:
        """Stop listening to the rig (the entries stay readable)."""
        try:
            self.rig.remove_listener(self._on_change)
        except ValueError:
            pass  # already closed

    # -- internals ----------------------------------------------------------------------------
    def _step(self, direction: int, source: str) -> bool:
        self.rig.flush_changes()  # the newest change must be an entry before we step past it
        with self._apply_lock:
            with self._lock:
                target = self._index + direction
                if not 0 <= target < len(self._entries):
                    return False
                previous, self._index = self._index, target
                self._gesture = None  # the next change starts a new entry, never extends this one
                snapshot = self._entries[target]
            try:
                report = self.rig.load_state(snapshot, source=source)
            except Exception:
                with self._lock:
                    if self._index == target:
                        self._index = previous
                raise
            if report:  # cannot happen for states this rig produced; say so if it does
                log.warning("%s could not restore everything: %s", source, "; ".join(report))
            return True

    def _on_change(self, change: Change) -> None:
        if change.source in IGNORED_SOURCES or change.address in NOT_RECORDED:
            return
        if change.source == RESTORE_SOURCE:
            self.clear()
            return
        # Taken before our lock: the rig's lock is never requested while ours is held.
        snapshot = undoable(self.rig.state())
        with self._lock:
            gesture = self._gesture
            if gesture is not None and self._extends(gesture, change):
                self._entries[self._index] = snapshot
                gesture.time = change.time
                gesture.addresses.add(change.address)
                return
            if snapshot == self._entries[self._index]:
                # Nothing changed: no entry, and the redo branch survives. The later events of a
                # whole-state load land here (the state was complete at the first): they share
                # its time stamp, and join its gesture so the next load of a morph sweep extends it.
                if gesture is not None and gesture.source == change.source and gesture.time == change.time:
                    gesture.addresses.add(change.address)
                return
            del self._entries[self._index + 1:]
            self._entries.append(snapshot)
            if len(self._entries) > self.limit + 1:
                del self._entries[:len(self._entries) - self.limit - 1]
            self._index = len(self._entries) - 1
            self._gesture = _Gesture(change.source, change.time, {change.address})

    def _extends(self, gesture: _Gesture, change: Change) -> bool:
        if change.source != gesture.source or change.source in DISCRETE_SOURCES:
            return False
        gap = change.time - gesture.time
        return 0.0 <= gap < self.coalesce_s and change.address in gesture.addresses
