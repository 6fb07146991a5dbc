"""The change dispatcher: listeners beside the sender, coalesced per address, in order."""

import threading
import time

from performer.rig import Rig
from performer.rig.changes import ChangeDispatcher
from performer.rig.rig import Change


def change(address, value):
    return Change(address, value, "test", time.time())


def test_latest_value_wins_per_address_and_first_order_is_kept():
    dispatcher = ChangeDispatcher(rate_hz=50)
    seen = []
    gate = threading.Event()

    def slow(c):  # holds the dispatcher so the next changes pile up behind it
        gate.wait(2)
        seen.append((c.address, c.value))

    dispatcher.add_listener(slow)
    dispatcher.publish(change("first", 0))
    time.sleep(0.05)
    for i in range(100):
        dispatcher.publish(change("mix", i))
        dispatcher.publish(change("#3/0/amount", i / 100))
    dispatcher.publish(change("state", 1))
    gate.set()
    assert dispatcher.flush(5)
    assert seen == [("first", 0), ("mix", 99), ("#3/0/amount", 0.99), ("state", 1)]
    assert dispatcher.coalesced == 198
    dispatcher.stop()


def test_the_sender_never_waits_for_a_listener(small_model):
    dispatcher = ChangeDispatcher()
    rig = Rig(small_model, dispatcher=dispatcher)
    blocked = threading.Event()
    rig.add_listener(lambda c: blocked.wait(5))  # a listener stuck for seconds
    started = time.perf_counter()
    for i in range(200):
        rig.set("mix", i / 200)
    assert time.perf_counter() - started < 2.0  # not 200 x 5 s: the sender only queued
    blocked.set()
    assert rig.flush_changes(10)
    dispatcher.stop()


def test_inline_listeners_run_on_the_sender(small_model):
    dispatcher = ChangeDispatcher()
    rig = Rig(small_model, dispatcher=dispatcher)
    threads = []
    rig.add_listener(lambda c: threads.append(threading.current_thread()), inline=True)
    rig.set("mix", 0.5)
    assert threads == [threading.current_thread()]
    dispatcher.stop()


def test_a_broken_listener_does_not_stop_the_others(small_model):
    dispatcher = ChangeDispatcher()
    rig = Rig(small_model, dispatcher=dispatcher)
    seen = []
    rig.add_listener(lambda c: 1 / 0)
    rig.add_listener(seen.append)
    rig.set("mix", 0.25)
    rig.flush_changes()
    assert [c.value for c in seen] == [0.25]
    dispatcher.stop()


def test_undo_sees_the_newest_change_before_stepping(small_model):
    from performer.scenes.history import UndoHistory

    dispatcher = ChangeDispatcher(rate_hz=5)  # slow batches: the change is still queued at undo
    rig = Rig(small_model, dispatcher=dispatcher)
    history = UndoHistory(rig)
    rig.set("mix", 0.3, source="web")
    assert history.undo()
    assert rig.get("mix") == 1.0
    history.close()
    dispatcher.stop()
