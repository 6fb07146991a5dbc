"""A MIDI clock sender in its own process (a drum machine, a DAW), on JACK MIDI through RtMidi.

argv: <port to connect to> <bpm> <seconds> [<bpm after half the time>]. Sends start, then 24
ticks per beat paced on the monotonic clock, then stop; prints ``ok <ticks sent>``.
"""

import sys
import time

import rtmidi


def main() -> int:
    target, bpm, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    second_bpm = float(sys.argv[4]) if len(sys.argv) > 4 else bpm
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="clock-sender")
    deadline = time.monotonic() + 10
    while target not in out.get_ports() and time.monotonic() < deadline:
        time.sleep(0.05)
    out.open_port(out.get_ports().index(target), "out")  # connected to Performer's input by name
    time.sleep(0.2)  # the connection settles
    out.send_message([0xFA])
    start = time.monotonic()
    due = start
    ticks = 0
    while due - start < seconds:
        now = time.monotonic()
        if now < due:
            time.sleep(min(due - now, 0.001))
            continue
        out.send_message([0xF8])
        ticks += 1
        current = bpm if due - start < seconds / 2 else second_bpm
        due += 60.0 / current / 24
    out.send_message([0xFC])
    time.sleep(0.1)
    print(f"ok {ticks}", flush=True)
    out.close_port()
    return 0


if __name__ == "__main__":
    sys.exit(main())
