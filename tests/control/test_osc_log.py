"""Rate-limited logging, on a fake clock."""

import logging

from performer.control.osc_log import RateLimitedLog


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_burst_then_silence_then_a_summary(caplog):
    clock = Clock()
    limited = RateLimitedLog(logging.getLogger("performer.osc.in"), burst=2, interval=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="performer.osc.in"):
        logged = [limited.log("malformed", logging.WARNING, "bad datagram %d", i) for i in range(5)]
        assert logged == [True, True, False, False, False]
        clock.now += 10.0
        assert limited.log("malformed", logging.WARNING, "bad datagram %d", 5)
    assert [r.getMessage() for r in caplog.records] == [
        "bad datagram 0", "bad datagram 1",
        "3 more malformed messages were not logged in the last 10 s", "bad datagram 5"]


def test_kinds_have_separate_budgets(caplog):
    clock = Clock()
    limited = RateLimitedLog(logging.getLogger("performer.osc.in"), burst=1, interval=10.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="performer.osc.in"):
        assert limited.log("malformed", logging.WARNING, "a")
        assert not limited.log("malformed", logging.WARNING, "b")
        assert limited.log("error", logging.WARNING, "c")
    assert [r.getMessage() for r in caplog.records] == ["a", "c"]
