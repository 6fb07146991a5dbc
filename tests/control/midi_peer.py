"""A MIDI device in a process of its own for the tests, driven by commands on stdin.

Every command is answered with one line on stdout (``ok ...`` or ``error ...``):

    plug <client>             virtual ports <client>:out and <client>:in (a controller appears)
    unplug                    close both (it disappears, as when its cable is pulled)
    connect <port>            an output connected to <port> by name (e.g. performer-midi:Performer)
    listen <port>             an input connected from <port> by name
    send <n> <per_s> [first]  n CCs, index i encoded as (control i // 128, value i % 128), paced
    received                  the byte lists that arrived on our inputs so far, as JSON
    quit

Uses RtMidi's JACK API: the tests run against their own JACK server (JACK_DEFAULT_SERVER).
"""

from __future__ import annotations

import json
import sys
import time

import rtmidi

API = rtmidi.API_UNIX_JACK


class Peer:
    def __init__(self) -> None:
        self.outputs: list[rtmidi.MidiOut] = []
        self.inputs: list[rtmidi.MidiIn] = []
        self.received: list[list[int]] = []
        self.plugged: list[rtmidi.MidiIn | rtmidi.MidiOut] = []

    def _on_midi(self, event, _data) -> None:
        self.received.append(event[0])  # only an append: runs in JACK's process thread

    def _input(self, client: str) -> rtmidi.MidiIn:
        handle = rtmidi.MidiIn(API, name=client)
        handle.ignore_types(sysex=False, timing=False, active_sense=True)
        handle.set_callback(self._on_midi)
        self.inputs.append(handle)
        return handle

    def plug(self, client: str) -> str:
        out = rtmidi.MidiOut(API, name=client)
        out.open_virtual_port("out")
        inp = self._input(client)  # JACK names this second client <client>-01
        inp.open_virtual_port("in")
        self.outputs.append(out)
        self.plugged = [out, inp]
        return "ok plugged"

    def unplug(self) -> str:
        for handle in self.plugged:
            handle.close_port()
            handle.delete()
            (self.outputs if isinstance(handle, rtmidi.MidiOut) else self.inputs).remove(handle)
        self.plugged = []
        return "ok unplugged"

    def connect(self, port: str) -> str:
        out = rtmidi.MidiOut(API, name="peer-sender")
        out.open_port(out.get_ports().index(port), "to")
        self.outputs.append(out)
        return "ok connected"

    def listen(self, port: str) -> str:
        inp = self._input("peer-listener")
        inp.open_port(inp.get_ports().index(port), "from")
        return "ok listening"

    def send(self, n: str, per_s: str, first: str = "0") -> str:
        out, start, rate = self.outputs[-1], int(first), float(per_s)
        t0 = time.monotonic()
        for i in range(start, start + int(n)):
            due = t0 + (i - start) / rate
            while (now := time.monotonic()) < due:
                time.sleep(min(due - now, 0.0005))
            out.send_message([0xB0, i // 128, i % 128])
        return f"ok sent {n} {time.monotonic() - t0:.3f}"


def main() -> None:
    peer = Peer()
    for line in sys.stdin:
        command, *args = line.split()
        if command == "quit":
            break
        try:
            if command == "received":
                answer = "ok " + json.dumps(peer.received)
            else:
                answer = getattr(peer, command)(*args)
        except Exception as exc:  # reported to the test, which fails with it
            answer = f"error {type(exc).__name__}: {exc}"
        print(answer, flush=True)


if __name__ == "__main__":
    main()
