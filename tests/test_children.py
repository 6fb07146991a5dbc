"""One way to start and end the server's child processes (audio device, MIDI ports)."""

import inspect
import logging
import os
import time
from pathlib import Path

import pytest

from performer import children
from performer.children import finish, relay_stderr, spawn
from performer.control import midi_link
from performer.live import device_link

log = logging.getLogger("tests.children")
CHILD = "tests.child_waits"


@pytest.fixture(autouse=True)
def _at_the_root(monkeypatch):
    monkeypatch.chdir(Path(__file__).parents[1])  # python -m tests.child_waits


def test_a_child_that_obeys_ends_without_a_warning(caplog):
    child = spawn(CHILD, {"take": 1}, stdin=True)
    assert os.getsid(child.pid) == child.pid  # a session of its own: kill_group reaches what it starts
    lines = []
    relay_stderr(child, lines.append, "test-stderr")
    deadline = time.monotonic() + 10
    while not lines and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    finish(child, log, "child", ask=child.stdin.close, timeout=10)
    assert child.returncode == 0 and time.monotonic() - started < 10
    assert not [r for r in caplog.records if "did not stop" in r.message]
    assert lines == ['child ready with {"take": 1}']  # the config as JSON; stderr relayed by line


def test_a_child_that_hangs_is_killed_after_the_timeout(caplog):
    child = spawn(CHILD, {}, stdin=True)
    finish(child, log, "child", ask=lambda: None, timeout=0.2)  # asked, but its stdin stays open
    assert child.returncode == -9 and "the child did not stop within 0 s; killed" in caplog.text


def test_the_audio_and_midi_links_share_it():
    for module in (device_link, midi_link):
        source = inspect.getsource(module)
        assert "spawn(" in source and "finish(" in source and "relay_stderr(" in source, module.__name__
        assert "Popen(" not in source and "start_new_session" not in source, module.__name__
    assert "Popen(" in inspect.getsource(children)
