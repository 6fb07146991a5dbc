"""The MIDI process against a real JACK server (dummy backend), with MIDI devices in other processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from performer.control.midi_link import MidiConfig, MidiError, MidiLink
from tests.jack_server import JackServer

pytestmark = [pytest.mark.jack]
REPO = Path(__file__).resolve().parents[2]
JACK_BACKEND = "mido.backends.rtmidi/UNIX_JACK"


@pytest.fixture
def jack_midi(jack_server, monkeypatch):
    """The session's JACK server, with RtMidi's JACK API chosen the way users choose it."""
    monkeypatch.setenv("MIDO_BACKEND", JACK_BACKEND)
    return jack_server


class PeerProcess:
    """tests/control/midi_peer.py: a MIDI device (a controller, a sender, a listener) in another process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.control.midi_peer"], cwd=REPO, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def __call__(self, command: str, timeout: float = 15.0) -> str:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer: list[str] = []
        reader = threading.Thread(target=lambda: answer.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        assert answer and answer[0].startswith("ok"), f"peer {command!r}: {answer}"
        return answer[0][3:].strip()

    def received(self) -> list[list[int]]:
        return json.loads(self("received"))

    def __enter__(self) -> "PeerProcess":
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


class Recorder:
    """The link's sink and event handler: what arrived, with waits."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, float, bytes]] = []
        self.events: list[dict] = []
        self.changed = threading.Condition()

    def __call__(self, port: str, t: float, data: bytes) -> None:
        with self.changed:
            self.messages.append((port, t, data))
            self.changed.notify_all()

    def event(self, event: dict) -> None:
        with self.changed:
            self.events.append({**event, "at": time.monotonic()})
            self.changed.notify_all()

    def wait(self, predicate, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def wait_messages(self, n: int, timeout: float) -> bool:
        return self.wait(lambda: len(self.messages) >= n, timeout)

    def wait_event(self, kind: str, timeout: float, **fields) -> dict | None:
        def found():
            return next((e for e in self.events if e["event"] == kind
                         and all(e.get(k) == v for k, v in fields.items())), None)
        self.wait(lambda: found() is not None, timeout)
        return found()


def indices(messages: list[tuple[str, float, bytes]], port: str | None = None) -> list[int]:
    """The sender's index of every CC (control * 128 + value)."""
    return [data[1] * 128 + data[2] for name, _t, data in messages if port is None or name == port]


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_paced_ccs_into_the_virtual_port_all_arrive_in_order(jack_midi):
    recorder = Recorder()
    with MidiLink(MidiConfig(), recorder, recorder.event) as link, PeerProcess() as peer:
        assert link.api == "jack" and link.ports == ["performer-midi:Performer"]
        peer("connect performer-midi:Performer")  # opened by name from another process
        peer("send 1000 1000")  # paced at 1 per ms
        assert recorder.wait_messages(1000, 5), f"{len(recorder.messages)} of 1000"
        time.sleep(0.1)  # nothing duplicated arrives late
    assert indices(recorder.messages) == list(range(1000))
    assert {name for name, _t, _d in recorder.messages} == {"performer-midi:Performer"}
    times = [t for _n, t, _d in recorder.messages]
    assert times == sorted(times) and abs(times[-1] - time.monotonic()) < 10  # the server's own clock
    assert link.stats.received == 1000


def test_a_dense_burst_arrives_intact(jack_midi):
    """1000 messages within a few JACK cycles: a Python callback in JACK's thread garbled these."""
    recorder = Recorder()
    with MidiLink(MidiConfig(), recorder) as link, PeerProcess() as peer:
        peer("connect performer-midi:Performer")
        peer("send 1000 200000")
        assert recorder.wait_messages(1000, 5), f"{len(recorder.messages)} of 1000"
        time.sleep(0.1)
    assert indices(recorder.messages) == list(range(1000))
    times = [t for _n, t, _d in recorder.messages]
    assert times == sorted(times)
    assert link.stats.received == 1000


def test_controller_matched_by_part_of_its_name_survives_unplug_and_replug(jack_midi):
    recorder = Recorder()
    with PeerProcess() as controller:
        controller("plug nanoKONTROL2")
        with MidiLink(MidiConfig(inputs=["NANOkontrol"]), recorder, recorder.event) as link:
            assert "nanoKONTROL2:out" in link.ports
            controller("send 100 1000")
            assert recorder.wait_messages(100, 5)
            assert indices(recorder.messages, "nanoKONTROL2:out") == list(range(100))

            controller("unplug")
            unplugged = time.monotonic()
            gone = recorder.wait_event("gone", 2.5, direction="in", port="nanoKONTROL2:out")
            assert gone and gone["at"] - unplugged < 2.0, recorder.events
            assert "nanoKONTROL2:out" not in link.ports

            controller("plug nanoKONTROL2")
            replugged = time.monotonic()
            back = recorder.wait_event("back", 2.5, direction="in", port="nanoKONTROL2:out")
            assert back and back["at"] - replugged < 2.0, recorder.events
            assert "nanoKONTROL2:out" in link.ports
            controller("send 100 1000 100")
            assert recorder.wait_messages(200, 5)
    assert indices(recorder.messages, "nanoKONTROL2:out") == list(range(200))
    assert link.stats.restarts == 0


def test_feedback_reaches_controllers_and_the_virtual_output(jack_midi):
    recorder = Recorder()
    with PeerProcess() as controller, PeerProcess() as listener:
        controller("plug nanoKONTROL2")
        with MidiLink(MidiConfig(inputs=["nanokontrol"]), recorder, recorder.event) as link:
            assert link.outputs == ["performer-midi-out:Performer", "nanoKONTROL2-01:in"]
            listener("listen performer-midi-out:Performer")
            assert link.send(bytes([0xB0, 16, 127]), port="nanokontrol")  # an LED ring, that controller only
            assert link.send([0x90, 60, 100])  # every output
            assert link.send([0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7], port="Performer")  # sysex, virtual output only
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and (len(controller.received()) < 2 or len(listener.received()) < 2):
                time.sleep(0.05)
            assert controller.received() == [[0xB0, 16, 127], [0x90, 60, 100]]
            assert listener.received() == [[0x90, 60, 100], [0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7]]
            assert link.stats.sent == 3 and link.stats.malformed == 0


def test_process_protocol_ignores_and_counts_malformed_lines(jack_midi):
    config = {"client_name": "performer-midi", "api": "jack", "inputs": [], "outputs": []}
    process = subprocess.Popen([sys.executable, "-m", "performer.control.midi_host", json.dumps(config)], cwd=REPO,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    bad = [b"not json", b'{"send": "abc"}', b'{"send": [300]}', b'{"send": []}', b'{"port": "x"}', b"[1, 2]",
           b'{"send": [176, 1, 2], "port": 5}']
    with PeerProcess() as listener:
        opened = json.loads(process.stdout.readline())
        assert opened["event"] == "opened" and opened["api"] == "jack" and opened["watch"]
        listener("listen performer-midi-out:Performer")
        lines = b"\n".join(bad) + b"\n\n" + b'{"send": [176, 1, 2], "port": null}\n'
        out, _ = process.communicate(lines, timeout=10)  # then end of file: it closes its ports and stops
        events = [json.loads(line) for line in out.splitlines()]
        assert [e["event"] for e in events] == ["malformed"] * len(bad) + ["stopped"]
        assert [e["count"] for e in events[:-1]] == list(range(1, len(bad) + 1))
        assert events[-1]["malformed"] == len(bad) and events[-1]["sent"] == 1
        assert listener.received() == [[176, 1, 2]]
    assert process.returncode == 0


def test_stop_leaves_no_process_and_no_jack_ports(jack_midi):
    with PeerProcess() as controller:
        controller("plug nanoKONTROL2")
        link = MidiLink(MidiConfig(inputs=["nanokontrol"]), Recorder())
        link.start()
        pid = link.pid
        ours = [p for p in jack_midi.ports() if p.startswith("performer-midi")]
        assert len(ours) == 4, ours  # virtual in and out, one controller input, one feedback output
        started = time.monotonic()
        link.stop()
        assert time.monotonic() - started < 2
        assert not process_alive(pid)
        assert not link.running and link.ports == []
        assert not [p for p in jack_midi.ports() if "performer-midi" in p]


def test_the_midi_process_leaves_when_the_server_is_killed(jack_midi):
    server = subprocess.Popen(
        [sys.executable, "-c", "from performer.control.midi_link import MidiConfig, MidiLink; import time; "
         "link = MidiLink(MidiConfig(client_name='performer-midi-orphan'), print); link.start(); "
         "print(link.pid, flush=True); time.sleep(60)"], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        child = int(server.stdout.readline())
        assert any(p.startswith("performer-midi-orphan:") for p in jack_midi.ports())
        server.kill()
        server.wait()
        deadline = time.monotonic() + 3
        while process_alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not process_alive(child)
        assert not [p for p in jack_midi.ports() if "performer-midi-orphan" in p]
    finally:
        server.kill()
        server.wait()


def test_a_dead_midi_process_is_restarted_and_reported(jack_midi):
    recorder = Recorder()
    with MidiLink(MidiConfig(), recorder, recorder.event) as link, PeerProcess() as peer:
        first = link.pid
        os.kill(first, 9)
        assert recorder.wait_event("lost", 3)
        assert recorder.wait_event("restarted", 5), recorder.events
        assert link.stats.restarts == 1 and link.pid not in (None, first)
        peer("connect performer-midi:Performer")
        peer("send 50 1000")
        assert recorder.wait_messages(50, 5)
    assert indices(recorder.messages) == list(range(50))


def test_without_jack_the_error_says_how_to_get_midi(jack_server, monkeypatch):
    monkeypatch.setenv("MIDO_BACKEND", JACK_BACKEND)
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "performer-no-such-server")
    started = time.monotonic()
    with pytest.raises(MidiError) as error:
        MidiLink(MidiConfig(), Recorder()).start()
    assert time.monotonic() - started < 5
    message = str(error.value)
    assert "JACK MIDI" in message and "jackd" in message and "MIDO_BACKEND" in message


def test_without_mido_backend_alsa_is_tried_then_jack(jack_server, monkeypatch):
    monkeypatch.delenv("MIDO_BACKEND", raising=False)
    with MidiLink(MidiConfig(), Recorder()) as link:
        expected = "alsa" if Path("/dev/snd/seq").exists() else "jack"
        assert link.api == expected


def test_jackd_killed_is_reported_never_hangs_and_midi_comes_back(tmp_path, monkeypatch):
    missing = JackServer.available()
    if missing:
        pytest.skip(missing)
    jackd = JackServer(log_dir=tmp_path).start()
    for key, value in jackd.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MIDO_BACKEND", JACK_BACKEND)
    retrying, recovering = Recorder(), Recorder()
    links = [MidiLink(MidiConfig(client_name="performer-midi-a"), retrying, retrying.event),
             MidiLink(MidiConfig(client_name="performer-midi-b"), recovering, recovering.event)]
    try:
        for link in links:
            link.start()
        pids = [link.pid for link in links]
        jackd.kill()
        killed = time.monotonic()
        for recorder in (retrying, recovering):
            lost = recorder.wait_event("lost", 5)
            assert lost and lost["at"] - killed < 2, recorder.events
            assert "JACK server went away" in lost["message"]
        assert not any(process_alive(pid) for pid in pids)
        time.sleep(0.5)  # the links retry against no server now
        started = time.monotonic()
        links[0].stop()
        assert time.monotonic() - started < 3 and not links[0].running

        jackd = JackServer(name=jackd.name, log_dir=tmp_path).start()
        assert recovering.wait_event("restarted", 10), recovering.events
        assert links[1].stats.restarts == 1 and links[1].ports == ["performer-midi-b:Performer"]
        with PeerProcess() as peer:
            peer("connect performer-midi-b:Performer")
            peer("send 20 1000")
            assert recovering.wait_messages(20, 5)
        assert indices(recovering.messages) == list(range(20))
        assert not [e for e in retrying.events if e["event"] == "restarted"]
    finally:
        for link in links:
            link.stop()
        if jackd.process.poll() is not None:
            # jackd frees a killed server's slot in its registry (8 slots) only for a server of the
            # same name: start one and stop it cleanly, or later jackd starts fail.
            jackd = JackServer(name=jackd.name, log_dir=tmp_path).start()
        jackd.stop()
        for stale in Path("/dev/shm").glob(f"jack_sem.*_{jackd.name}_*"):  # clients of the killed server
            stale.unlink(missing_ok=True)


def test_burst_of_5000_per_second_for_2_seconds(jack_midi):
    """Measured, not asserted beyond order: the process's CPU time and what arrived."""
    recorder = Recorder()
    with MidiLink(MidiConfig(), recorder) as link, PeerProcess() as peer:
        peer("connect performer-midi:Performer")
        before = _cpu_seconds(link.pid)
        sent = peer("send 10000 5000")
        recorder.wait_messages(10000, 5)
        cpu = _cpu_seconds(link.pid) - before
    received = indices(recorder.messages)
    print(f"\nMIDI burst 5000/s for 2 s: {sent}; received {len(received)} of 10000, "
          f"{len(set(received))} unique; MIDI process CPU {cpu:.3f} s")
    assert received == sorted(received)


def _cpu_seconds(pid: int) -> float:
    """CPU time of all the process's threads (the JACK one too), in ns precision."""
    tasks = Path(f"/proc/{pid}/task")
    return sum(int((task / "schedstat").read_text().split()[0]) for task in tasks.iterdir()) / 1e9
