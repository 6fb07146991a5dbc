"""The MIDI process: opens MIDI ports with python-rtmidi and relays their bytes, nothing else.

Why a process of its own, and why polling: a python-rtmidi callback runs in the MIDI system's
thread (JACK's process thread) and takes the GIL for every message. While any other thread holds
the GIL, the MIDI thread waits, overruns its JACK cycle, and the sender's next cycle overwrites
the buffer it is still reading: messages arrive as copies of others (feasibility_audio_midi.md,
gotcha 4). Even in this process, with a callback that only appended to a deque, 30-90 % of a
1000-message burst arrived intact while the main loop wrote lines; polled, all of it does, for
half the CPU time. So no Python runs in the MIDI thread at all: RtMidi queues the messages in
C++ (a lock-free ring, QUEUE_SIZE deep) and the main loop polls the queues every millisecond.
A dead JACK server is reported and this process leaves with ``os._exit``; the server starts
another.

Protocol. argv[1] is a JSON config: ``client_name``, ``api`` ("jack", "alsa" or null: from
MIDO_BACKEND, else ALSA then JACK), ``inputs`` and ``outputs`` (case-insensitive parts of the
controller port names to read from and send feedback to).
stdout: one line per MIDI message, ``<port id> <monotonic ns> <hex bytes>`` (6x cheaper to
write and 4x cheaper to parse than a JSON line), and JSON event lines ``{"event": ...}``: ``opened``,
``back`` / ``gone`` (a matched port appeared / disappeared), ``malformed``, ``error``,
``lost``, ``stopped``. Port id 0 is our virtual input; ids are never reused in one process.
stdin: JSON lines ``{"send": [bytes...], "port": pattern or null}`` (null: every output);
malformed lines are ignored and counted. End of file stops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import select
import sys
import time

import rtmidi

VIRTUAL_PORT = "Performer"
DRAIN_S = 0.001  # how often the queues become lines: the latency this process adds
RESCAN_S = 0.5  # port list polling: a replugged controller is back within a second
BATCH = 256  # lines per write
QUEUE_SIZE = 16384  # RtMidi's queue per input (python-rtmidi's default, 1024, is one dense burst)
LOST_EXIT = 3
ERROR_EXIT = 2
APIS = {"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK}
HOW_TO_GET_MIDI = ("Start a JACK server (jackd, or PipeWire's JACK) and set "
                   "MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK, or use ALSA MIDI "
                   "(MIDO_BACKEND=mido.backends.rtmidi/LINUX_ALSA) where the ALSA sequencer /dev/snd/seq exists.")

Message = tuple[int, int, list[int]]  # (port id, monotonic ns, bytes)


def emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def stamp(port_id: int, queued: list[tuple[list[int], float]], now: int, floor: int) -> list[Message]:
    """Times for messages polled at ``now``: RtMidi gives each one's seconds since the previous
    one on its port, so the last gets ``now`` (at most a poll late) and the others keep their
    spacing; never earlier than the port's previous message (``floor``)."""
    stamped: list[Message] = []
    t = now
    for data, delta in reversed(queued):
        stamped.append((port_id, max(t, floor), data))
        t -= int(delta * 1e9)
    stamped.reverse()
    return stamped


def apis_to_try(requested: str | None, backend: str | None) -> list[str]:
    """The config's API, else the one MIDO_BACKEND names, else ALSA then JACK (RtMidi's order)."""
    if requested:
        return [requested]
    backend = (backend or "").upper()
    if "UNIX_JACK" in backend:
        return ["jack"]
    if "LINUX_ALSA" in backend:
        return ["alsa"]
    return ["alsa", "jack"]


def matches(name: str, patterns: list[str]) -> bool:
    lowered = name.lower()
    return any(p.lower() in lowered for p in patterns)


def own_name(names: list[str], client: str, port: str) -> str:
    """The full name of one of our virtual ports as the MIDI system lists it (ALSA appends numbers)."""
    exact = f"{client}:{port}"
    if exact in names:
        return exact
    found = [n for n in names if n.startswith(f"{client}:") and port in n]
    return found[0] if found else exact


def local_port_name(remote: str) -> str:
    return remote.replace(":", " ")[:60]


def close_quietly(handle: rtmidi.MidiIn | rtmidi.MidiOut | None) -> None:
    if handle is None:
        return
    try:
        handle.close_port()
        handle.delete()  # frees the RtMidi object now: under JACK that closes its client
    except (rtmidi.RtMidiError, OSError):
        pass


class MidiPorts:
    """Our virtual ``Performer`` input and output, plus one RtMidi object per matched controller port.

    RtMidi opens one port per object (under JACK, one client per object), so each controller
    input gets its own MidiIn, polled under its port id.
    """

    def __init__(self, api: str, client: str, inputs: list[str], outputs: list[str]):
        self.api, self.rtapi, self.client = api, APIS[api], client
        self.patterns = {"in": inputs, "out": outputs}
        self.last_ns: dict[int, int] = {}  # per port id: the newest time given out
        self.leftover: list[Message] = []  # polled from ports closed since the last poll
        self.vin: rtmidi.MidiIn | None = None
        self.vout: rtmidi.MidiOut | None = None
        self.virtual_in = self.virtual_out = ""
        self.inputs: dict[str, tuple[int, rtmidi.MidiIn]] = {}  # remote name -> (port id, handle)
        self.outputs: dict[str, rtmidi.MidiOut] = {}
        self._next_id = 1

    def open_virtual(self) -> None:
        self.vin = self._new_input(f"{self.client}")
        self.vin.open_virtual_port(VIRTUAL_PORT)
        self.vout = rtmidi.MidiOut(self.rtapi, name=f"{self.client}-out")
        self.vout.open_virtual_port(VIRTUAL_PORT)
        self.virtual_in = own_name(self.vout.get_ports(), self.client, VIRTUAL_PORT)
        self.virtual_out = own_name(self.vin.get_ports(), f"{self.client}-out", VIRTUAL_PORT)

    def _new_input(self, client: str) -> rtmidi.MidiIn:
        handle = rtmidi.MidiIn(self.rtapi, name=client, queue_size_limit=QUEUE_SIZE)
        handle.ignore_types(sysex=False, timing=False, active_sense=True)  # as mido does
        return handle

    def _read(self, port_id: int, handle: rtmidi.MidiIn, now: int) -> list[Message]:
        queued = []
        while (item := handle.get_message()) is not None:
            queued.append(item)
        if not queued:
            return []
        stamped = stamp(port_id, queued, now, self.last_ns.get(port_id, 0))
        self.last_ns[port_id] = stamped[-1][1]
        return stamped

    def poll(self) -> list[Message]:
        """Every message queued since the last poll, in time order."""
        now = time.monotonic_ns()
        batch, self.leftover = self.leftover, []
        for port_id, handle in [(0, self.vin), *self.inputs.values()]:
            batch += self._read(port_id, handle, now)
        if len(batch) > 1 and len({m[0] for m in batch}) > 1:
            batch.sort(key=lambda m: m[1])  # stable: a port's own order stays
        return batch

    def _wanted(self, name: str, direction: str) -> bool:
        # Never our own ports: all our clients' names start with ours.
        return not name.lower().startswith(self.client.lower()) and matches(name, self.patterns[direction])

    def rescan(self) -> list[dict]:
        """Close ports that disappeared, open matching ones that appeared; the events to report."""
        events = []
        sources, destinations = set(self.vin.get_ports()), set(self.vout.get_ports())
        for name in [n for n in self.inputs if n not in sources]:
            port_id, handle = self.inputs.pop(name)
            self.leftover += self._read(port_id, handle, time.monotonic_ns())  # sent before its `gone`
            close_quietly(handle)
            events.append({"event": "gone", "direction": "in", "port": name, "id": port_id})
        for name in [n for n in self.outputs if n not in destinations]:
            close_quietly(self.outputs.pop(name))
            events.append({"event": "gone", "direction": "out", "port": name})
        for name in sorted(sources):
            if name not in self.inputs and self._wanted(name, "in"):
                port_id = self._open_input(name)
                if port_id is not None:
                    events.append({"event": "back", "direction": "in", "port": name, "id": port_id})
        for name in sorted(destinations):
            if name not in self.outputs and self._wanted(name, "out") and self._open_output(name):
                events.append({"event": "back", "direction": "out", "port": name})
        return events

    def _open_input(self, name: str) -> int | None:
        port_id, handle = self._next_id, None
        self._next_id += 1
        try:
            handle = self._new_input(f"{self.client}-in")
            handle.open_port(handle.get_ports().index(name), local_port_name(name))  # listed just now: no race
        except (ValueError, rtmidi.RtMidiError, OSError):  # gone again meanwhile: the next scan sees it
            close_quietly(handle)
            return None
        self.inputs[name] = (port_id, handle)
        return port_id

    def _open_output(self, name: str) -> bool:
        handle = None
        try:
            handle = rtmidi.MidiOut(self.rtapi, name=f"{self.client}-fb")
            handle.open_port(handle.get_ports().index(name), local_port_name(name))
        except (ValueError, rtmidi.RtMidiError, OSError):
            close_quietly(handle)
            return False
        self.outputs[name] = handle
        return True

    def send(self, data: list[int], pattern: str | None) -> int:
        """Send to every output whose name contains ``pattern`` (all outputs for None); how many."""
        targets = [(self.virtual_out, self.vout), *self.outputs.items()]
        sent = 0
        for name, handle in targets:
            if pattern is None or pattern.lower() in name.lower():
                handle.send_message(data)
                sent += 1
        return sent

    def input_list(self) -> list[dict]:
        return [{"id": 0, "port": self.virtual_in}] + [{"id": i, "port": n} for n, (i, _h) in self.inputs.items()]

    def close(self) -> None:
        for _port_id, handle in self.inputs.values():
            close_quietly(handle)
        for handle in self.outputs.values():
            close_quietly(handle)
        close_quietly(self.vin)
        close_quietly(self.vout)
        self.inputs, self.outputs, self.vin, self.vout = {}, {}, None, None


class JackWatch:
    """Learns that the JACK server died. RtMidi does not notice (its port lists go stale and sends
    are dropped), so a port-less JACK client asks libjack for an on_shutdown call. It uses the
    libjack RtMidi loaded (python-rtmidi's wheel bundles its own), never a second copy."""

    CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

    def __init__(self, client_name: str):
        self.lost = False
        self._lib = self._client = None
        path = self._loaded_libjack() or ctypes.util.find_library("jack")
        if not path:
            return
        lib = ctypes.CDLL(path)
        lib.jack_client_open.restype = ctypes.c_void_p
        lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        lib.jack_on_shutdown.argtypes = [ctypes.c_void_p, self.CALLBACK, ctypes.c_void_p]
        lib.jack_client_close.argtypes = [ctypes.c_void_p]
        status = ctypes.c_int(0)
        client = lib.jack_client_open(client_name.encode(), 1, ctypes.byref(status))  # 1: JackNoStartServer
        if not client:
            return
        self._on_shutdown = self.CALLBACK(self._shutdown)  # kept: libjack holds the pointer
        lib.jack_on_shutdown(client, self._on_shutdown, None)
        self._lib, self._client = lib, client

    @staticmethod
    def _loaded_libjack() -> str | None:
        try:
            with open("/proc/self/maps") as maps:
                paths = {line.split()[-1] for line in maps if "libjack" in line and "/" in line}
        except OSError:
            return None
        return sorted(paths)[0] if paths else None

    def _shutdown(self, _arg) -> None:
        self.lost = True

    @property
    def active(self) -> bool:
        return self._client is not None

    def close(self) -> None:
        if self._client is not None and not self.lost:
            self._lib.jack_client_close(self._client)
        self._client = None


def open_ports(config: dict) -> MidiPorts | None:
    errors = []
    for api in apis_to_try(config.get("api"), os.environ.get("MIDO_BACKEND")):
        if api not in APIS:
            errors.append(f"unknown MIDI API {api!r} (use jack or alsa)")
            continue
        ports = MidiPorts(api, config.get("client_name") or "performer-midi", list(config.get("inputs") or []),
                          list(config.get("outputs") or []))
        try:
            ports.open_virtual()
            return ports
        except (rtmidi.RtMidiError, OSError) as exc:
            ports.close()
            errors.append(f"{api.upper()} MIDI: {exc}")
    emit("error", message=f"no MIDI system could be opened ({'; '.join(errors)}). {HOW_TO_GET_MIDI}")
    return None


def parse_command(line: bytes) -> tuple[list[int], str | None]:
    """A stdin line's bytes and port pattern; ValueError if it is not a valid send."""
    try:
        command = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(command, dict) or "send" not in command:
        raise ValueError('expected {"send": [bytes...], "port": pattern or null}')
    data, pattern = command["send"], command.get("port")
    if not isinstance(data, list) or not data or not all(type(b) is int and 0 <= b <= 255 for b in data):
        raise ValueError("send needs a non-empty list of bytes 0..255")
    if pattern is not None and not isinstance(pattern, str):
        raise ValueError("port must be a string or null")
    return data, pattern


def drain(ports: MidiPorts) -> int:
    """Write every queued message as a line; flushed per batch, never per message."""
    messages = ports.poll()
    for start in range(0, len(messages), BATCH):
        sys.stdout.write("".join([f"{port_id} {ns} {bytes(data).hex()}\n"
                                  for port_id, ns, data in messages[start:start + BATCH]]))
        sys.stdout.flush()
    return len(messages)


def raise_priority(nice: int = -10) -> str:
    """Drain promptly beside the model's compute (needs root or a nice limit; else unchanged)."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
        return f"nice {nice}"
    except OSError:
        return "normal"


def serve(ports: MidiPorts, watch: JackWatch | None) -> dict:
    """Relay until stdin closes or our parent dies; the counts for the ``stopped`` event."""
    parent = os.getppid()
    counts = {"received": 0, "sent": 0, "malformed": 0}
    buffer = b""
    next_scan = time.monotonic() + RESCAN_S
    while True:
        readable, _, _ = select.select([0], [], [], DRAIN_S)  # also the 1 ms tick
        counts["received"] += drain(ports)
        if watch is not None and watch.lost:
            emit("lost", message="the JACK server went away", **counts)
            os._exit(LOST_EXIT)  # never touch RtMidi's clients of a dead server again
        if readable:
            chunk = os.read(0, 65536)
            if not chunk:
                return counts
            *lines, buffer = (buffer + chunk).split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                try:
                    data, pattern = parse_command(line)
                    counts["sent"] += ports.send(data, pattern)
                except (ValueError, rtmidi.RtMidiError) as exc:
                    counts["malformed"] += 1
                    emit("malformed", count=counts["malformed"], error=str(exc),
                         line=line[:200].decode(errors="replace"))
        now = time.monotonic()
        if now >= next_scan:
            next_scan = now + RESCAN_S
            if os.getppid() != parent:
                return counts
            events = ports.rescan()
            counts["received"] += drain(ports)  # a closed port's last messages precede its `gone`
            for event in events:
                emit(**event)


def main(argv: list[str]) -> int:
    config = json.loads(argv[1])
    priority = raise_priority()
    ports = open_ports(config)
    if ports is None:
        return ERROR_EXIT
    watch = JackWatch(f"{ports.client}-watch") if ports.api == "jack" else None
    ports.rescan()  # controllers present now are part of `opened`, not `back`
    emit("opened", api=ports.api, client=ports.client, inputs=ports.input_list(),
         outputs=[ports.virtual_out, *ports.outputs], priority=priority,
         watch=bool(watch and watch.active))
    try:
        counts = serve(ports, watch)
    except BrokenPipeError:  # the server is gone
        os._exit(0)
    counts["received"] += drain(ports)
    ports.close()
    if watch is not None:
        watch.close()
    emit("stopped", cpu_s=round(time.process_time(), 3), **counts)
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    os._exit(code)  # skip interpreter teardown: RtMidi objects of a dead server must not be freed
