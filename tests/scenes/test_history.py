"""Undo/redo: exact restores, drags as one entry, scene recalls undoable, bounded, thread-safe.

A real Rig on a genuine RAVE export; the rig's clock is replaced by a settable one so that the
gaps between changes (which decide coalescing) are exact.
"""

from __future__ import annotations

import copy
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import performer.rig.rig as rig_module
from performer.model import load_model
from performer.rig import Rig
from performer.scenes.history import UndoHistory, undoable
from performer.scenes.morph import morph_state

pytestmark = pytest.mark.fixtures


class Clock:
    """Stands in for the ``time`` module inside the rig: ``time()`` is ``now``, then ``now += step``."""

    def __init__(self):
        self.now = 1_000_000.0
        self.step = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            now = self.now
            self.now += self.step
            return now


@pytest.fixture(scope="module")
def clock():
    with pytest.MonkeyPatch.context() as mp:
        fake = Clock()
        mp.setattr(rig_module, "time", fake)
        yield fake


@pytest.fixture(scope="module")
def module_rig(small_model_path, clock):
    return Rig(load_model(small_model_path))


def neutral(rig: Rig) -> dict:
    size = rig.model.latent_size
    return {"tensors": {}, "latent": {"scale": [1.0] * size, "offset": [0.0] * size},
            "globals": {"mix": 1.0, "input/gain": 0.0, "output/gain": 0.0, "bypass": 0.0}, "selected": 0}


@pytest.fixture
def rig(module_rig, clock):
    module_rig.load_state(neutral(module_rig), source="test", include_selection=True)
    clock.step = 0.0
    clock.now += 100.0
    return module_rig


def scenes(rig: Rig) -> list[dict]:
    a, b = neutral(rig), neutral(rig)
    a["tensors"] = {rig.tensors[3].name: [{"transform": "scale", "amount": 0.5, "params": {"scale": {"factor": 2.0}}}]}
    a["latent"]["offset"][1] = 1.5
    a["globals"]["mix"] = 0.5
    b["tensors"] = {rig.tensors[5].name: [{"transform": "invert", "amount": 0.8}],
                    rig.tensors[3].name: [{"transform": "noise", "amount": 0.1, "seed": 4}]}
    b["globals"]["output/gain"] = -6.0
    return [a, b]


def view(rig: Rig) -> dict:
    return undoable(rig.state())


# -- examples -------------------------------------------------------------------------------

def test_a_knob_drag_is_one_entry(rig, clock):
    history = UndoHistory(rig)
    before = view(rig)
    for value in (0.1, 0.2, 0.3, 0.4):
        clock.now += 0.3
        rig.set("#3/0/amount", value, source="midi")
    assert history.undo_depth == 1
    clock.now += 2.0  # a pause: the next move of the same knob is a new gesture
    rig.set("#3/0/amount", 0.9, source="midi")
    assert history.undo_depth == 2
    assert history.undo() and rig.get("#3/0/amount") == 0.4
    assert history.undo() and view(rig) == before
    assert not history.undo() and not history.can_undo
    assert history.redo() and history.redo() and rig.get("#3/0/amount") == 0.9
    assert not history.redo()
    history.close()


def test_other_knob_or_other_source_starts_a_new_entry(rig, clock):
    history = UndoHistory(rig)
    rig.set("#3/0/amount", 0.1, source="midi")
    rig.set("#5/0/amount", 0.1, source="midi")
    rig.set("#5/0/amount", 0.2, source="osc")
    rig.set("#3/0/amount", 0.3, source="midi")  # back to the first knob: not the newest gesture
    assert history.undo_depth == 4
    history.close()


def test_scene_recall_is_one_undoable_entry_and_recalls_never_merge(rig, clock):
    a, b = scenes(rig)
    history = UndoHistory(rig)
    before = view(rig)
    rig.load_state(a, source="scene")
    clock.now += 0.1
    rig.load_state(b, source="scene")
    assert history.undo_depth == 2
    after_b = view(rig)
    assert history.undo() and view(rig) == undoable(_loaded(rig, a))
    assert history.undo() and view(rig) == before
    assert history.redo() and history.redo() and view(rig) == after_b
    history.close()


def test_a_morph_sweep_is_one_entry(rig, clock):
    """Loads from one source in quick succession extend one entry, even when a step changes only
    a field that was not the first to change in the step before."""
    a, b = scenes(rig)
    history = UndoHistory(rig)
    before = view(rig)
    for x in (0.1, 0.2, 0.3):
        clock.now += 0.05
        rig.load_state(morph_state(a, b, x), source="morph")
    step = morph_state(a, b, 0.3)
    for gain in (-1.0, -2.0):  # only output/gain moves now
        step["globals"]["output/gain"] = gain
        clock.now += 0.05
        rig.load_state(step, source="morph")
    assert history.undo_depth == 1
    assert history.undo() and view(rig) == before
    history.close()


def _loaded(rig: Rig, state: dict) -> dict:
    """What the rig's state is after loading ``state`` (slot defaults filled in)."""
    saved = rig.state()
    rig.load_state(state, source="undo")  # not recorded
    loaded = rig.state()
    rig.load_state(saved, source="undo")
    return loaded


def test_a_new_change_after_undo_discards_the_redo_branch(rig, clock):
    history = UndoHistory(rig)
    rig.set("mix", 0.5, source="web")
    clock.now += 5
    rig.set("mix", 0.25, source="web")
    assert history.undo() and history.can_redo
    clock.now += 0.1  # even within the coalescing gap: an undo ends the gesture
    rig.set("mix", 0.75, source="web")
    assert not history.can_redo and history.undo_depth == 2
    assert history.undo() and rig.get("mix") == 0.5
    history.close()


def test_unrecorded_changes(rig, clock):
    history = UndoHistory(rig)
    rig.set("select/next", 2, source="midi")  # navigation
    rig.set("record", 1, source="web")  # never undone: it would stop a recording
    rig.set("mix", 1.0, source="web")  # no change
    rig.set("bends/reset", 1, source="web")  # nothing to reset
    assert history.undo_depth == 0
    rig.set("#3/0/amount", 0.5, source="midi")
    rig.set("select/tensor", 7, source="midi")
    assert history.undo() and rig.get("select/tensor") == 7 and rig.get("record") == 1.0  # left alone
    assert rig.chain(3) == []
    rig.set("record", 0, source="web")
    history.close()


def test_autosave_restore_starts_the_history_from_the_restored_state(rig, clock):
    history = UndoHistory(rig)
    rig.set("mix", 0.5, source="web")
    restored = scenes(rig)[0]
    rig.load_state(restored, source="autosave-restore")
    assert history.undo_depth == 0
    restored_view = view(rig)
    clock.now += 5
    rig.set("mix", 0.2, source="web")
    assert history.undo() and view(rig) == restored_view
    history.close()


def test_limit_bounds_the_entries(rig, clock):
    history = UndoHistory(rig, limit=3)
    for i in range(10):
        clock.now += 5
        rig.set("output/gain", -float(i + 1), source="osc")
    assert history.undo_depth == 3
    while history.undo():
        pass
    assert rig.get("output/gain") == -7.0
    history.close()


def test_clear_and_close(rig, clock):
    history = UndoHistory(rig)
    rig.set("mix", 0.5, source="web")
    history.clear()
    assert not history.can_undo and not history.can_redo
    history.close()
    history.close()
    rig.set("mix", 0.1, source="web")
    assert history.undo_depth == 0


def test_concurrent_changes_and_undos(rig, clock):
    """Control threads set while another undoes and redoes: no exception, no deadlock, and the
    first entry is still the starting state."""
    clock.step = 2.0  # every change its own gesture
    history = UndoHistory(rig, limit=1000)
    start = view(rig)
    errors = []

    def knob(address: str) -> None:
        try:
            for i in range(60):
                rig.set(address, (i % 10) / 10, source="midi")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def undoer() -> None:
        try:
            for i in range(60):
                history.undo() if i % 3 else history.redo()
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=knob, args=(f"#{i}/0/amount",)) for i in (3, 5, 7)]
    threads.append(threading.Thread(target=undoer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and not any(t.is_alive() for t in threads)
    while history.undo():
        pass
    assert view(rig) == start
    history.close()


# -- property: random sequences against a model of the expected entries --------------------

ADDRESSES = {"#3/0/amount": [0.0, 0.25, 0.5], "#5/1/percent": [0.5, 1.0], "output/gain": [-6.0, 0.0, 3.0],
             "latent/0/offset": [0.0, 1.0], "#3/reset": [1], "bends/reset": [1], "mix": [0.5, 1.0]}
GAPS = [0.0, 0.4, 1.0, 1.5]  # coalescing window 1.0 s: gaps are measured from the previous change

op = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(sorted(ADDRESSES)), st.integers(0, 2),
              st.sampled_from(["midi", "osc"]), st.sampled_from(GAPS)),
    st.tuples(st.just("undo")), st.tuples(st.just("redo")),
    st.tuples(st.just("scene"), st.integers(0, 1), st.sampled_from(GAPS)),
    st.tuples(st.just("morph"), st.integers(1, 2), st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.sampled_from(GAPS)),
    st.tuples(st.just("select"), st.integers(0, 9), st.sampled_from(GAPS)),
)


class Model:
    """The expected entries, from the documented rules, fed the rig's events of each operation
    with the state once the operation is done (a load emits its events after applying it all)."""

    def __init__(self, start: dict, limit: int):
        self.states, self.index, self.limit = [start], 0, limit
        self.gesture = None  # [source, time, addresses] of the newest entry

    def record(self, state: dict, change) -> None:
        source, time, address = change.source, change.time, change.address
        if source in ("undo", "redo") or address in ("select/tensor", "record"):
            return
        g = self.gesture
        if g and g[0] == source and source != "scene" and 0 <= time - g[1] < 1.0 and address in g[2]:
            self.states[self.index] = state
            g[1] = time
            g[2].add(address)
        elif state == self.states[self.index]:
            if g and g[0] == source and g[1] == time:
                g[2].add(address)
        else:
            del self.states[self.index + 1:]
            self.states.append(state)
            del self.states[:max(0, len(self.states) - self.limit - 1)]
            self.index = len(self.states) - 1
            self.gesture = [source, time, {address}]

    def step(self, direction: int) -> bool:
        target = self.index + direction
        if not 0 <= target < len(self.states):
            return False
        self.index, self.gesture = target, None
        return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, max_size=30), limit=st.sampled_from([3, 200]))
def test_random_sequences_match_the_model(rig, clock, ops, limit):
    rig.load_state(neutral(rig), source="test", include_selection=True)
    clock.now += 100.0
    history = UndoHistory(rig, limit=limit)
    model = Model(view(rig), limit)
    a, b = scenes(rig)
    c = copy.deepcopy(a)  # differs from a in latent and globals only: a morph towards it loads no tensor
    c["latent"]["scale"][2], c["globals"]["output/gain"] = 2.0, -3.0
    events = []
    rig.add_listener(events.append)
    try:
        for operation in ops:
            kind = operation[0]
            events.clear()
            if kind in ("undo", "redo"):
                expected = model.step(-1 if kind == "undo" else 1)
                assert (history.undo() if kind == "undo" else history.redo()) == expected
            else:
                clock.now += operation[-1]
                if kind == "set":
                    values = ADDRESSES[operation[1]]
                    rig.set(operation[1], values[operation[2] % len(values)], source=operation[3])
                elif kind == "scene":
                    rig.load_state(copy.deepcopy((a, b)[operation[1]]), source="scene")
                elif kind == "morph":
                    rig.load_state(morph_state(a, (a, b, c)[operation[1]], operation[2]), source="morph")
                else:
                    rig.set("select/tensor", operation[1], source="midi")
                for change in events:
                    model.record(view(rig), change)
            assert (history.undo_depth, history.redo_depth) == (model.index, len(model.states) - 1 - model.index)
            assert view(rig) == model.states[model.index]
            assert history.undo_depth <= limit
        # and all the way back, then forward: every entry restores exactly
        while model.step(-1):
            assert history.undo() and view(rig) == model.states[model.index]
        assert not history.undo()
        while model.step(+1):
            assert history.redo() and view(rig) == model.states[model.index]
        assert not history.redo()
    finally:
        rig.remove_listener(events.append)
        history.close()
