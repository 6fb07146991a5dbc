"""The device process: opens the PortAudio stream and runs the callback, nothing else.

It lives in its own process because a PortAudio stream whose JACK server died can never be
closed (stop/abort/close and even interpreter exit hang, see docs/architecture.md). When that
happens this process reports it and leaves with ``os._exit``; the server starts a fresh one.

Protocol: the server passes a JSON config as argv[1]; this process prints JSON lines on stdout
(``opened``, ``error``, ``lost``, ``stopped``), opens the stream, waits for GO, runs until STOP.
Imports numpy and sounddevice only (no torch): it starts in a fraction of a second.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import os
import sys
import time

from performer.live.callback import CallbackCore
from performer.live.shared import GO, HEARTBEAT_NS, STOP, Layout, SharedAudio

LOST_EXIT = 3
ERROR_EXIT = 2
WATCH_PRIORITY = 1  # SCHED_FIFO: above every ordinary thread, below JACK's clients and jackd


def emit(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def set_jack_client_name(name: str) -> None:
    """Name our JACK client (PortAudio calls it "PortAudio" otherwise). Must precede Pa_Initialize."""
    path = ctypes.util.find_library("portaudio") or "libportaudio.so.2"
    try:
        lib = ctypes.CDLL(path)
        set_jack_client_name.keep = ctypes.c_char_p(name.encode())  # PortAudio keeps the pointer
        lib.PaJack_SetClientName(set_jack_client_name.keep)
    except (OSError, AttributeError):
        pass  # no PortAudio or no JACK support in it: sounddevice reports the real problem


def raise_priority(nice: int = -10) -> str:
    """Favour this process over the model's compute: threads PortAudio (or libjack) create later
    inherit the calling thread's nice value. Needs root or an rtprio/nice limit
    (the jackd2 package's audio group); otherwise nothing changes and we say so."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
        return f"nice {nice}"
    except (PermissionError, OSError):
        return "normal"


def guard_the_gil() -> str:
    """The callback is Python, so it needs the GIL, which this main thread takes every 50 ms to
    watch the stream. Were it preempted by an ordinary thread while holding it, the callback would
    wait behind it past its deadline: so it runs realtime too (lowest priority) where allowed, and
    no garbage collection runs once the stream is open (collections hold the GIL; nothing here
    makes reference cycles, so nothing leaks)."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(WATCH_PRIORITY))
        return "realtime"
    except (PermissionError, OSError, AttributeError):
        return "ordinary"


def list_devices(sd) -> list[dict]:
    apis = sd.query_hostapis()
    return [{"index": i, "name": d["name"], "hostapi": apis[d["hostapi"]]["name"],
             "inputs": d["max_input_channels"], "outputs": d["max_output_channels"],
             "rate": d["default_samplerate"]} for i, d in enumerate(sd.query_devices())]


def _device(value):
    return int(value) if isinstance(value, str) and value.isdigit() else value


def main(argv: list[str]) -> int:
    config = json.loads(argv[1])
    priority = raise_priority()  # first: PortAudio's JACK client starts its audio thread at import
    set_jack_client_name(config.get("client_name", "performer"))
    try:
        import sounddevice as sd
    except OSError as exc:  # PortAudio library missing
        emit("error", message=f"{exc} (install it: apt install libportaudio2)", devices=[])
        return ERROR_EXIT
    shared = SharedAudio.attach(config["shared"], Layout(**config["layout"]))
    use_in, use_out = config["use_input"], config["use_output"]
    try:  # a mono interface gets a mono stream, whatever we asked for
        if use_in:
            info = sd.query_devices(_device(config["input_device"]), "input")
            config["in_channels"] = max(1, min(config["in_channels"], info["max_input_channels"]))
        if use_out:
            info = sd.query_devices(_device(config["output_device"]), "output")
            config["out_channels"] = max(1, min(config["out_channels"], info["max_output_channels"]))
    except Exception as exc:  # unknown name, no default device, no device at all
        devices = list_devices(sd)
        message = str(exc) if devices else "no audio devices found (is the JACK server running?)"
        emit("error", message=message, devices=devices)
        return ERROR_EXIT
    shared.input = shared.input.with_channels(config["in_channels"])
    shared.output = shared.output.with_channels(config["out_channels"])
    core = CallbackCore(shared, device_input=use_in, device_output=use_out)

    def duplex(indata, outdata, frames, _time, status):
        core(indata, outdata, frames, bool(status))

    def input_only(indata, frames, _time, status):
        core(indata, None, frames, bool(status))

    def output_only(outdata, frames, _time, status):
        core(None, outdata, frames, bool(status))

    kwargs = dict(samplerate=config.get("samplerate"), blocksize=config.get("blocksize", 0), dtype="float32",
                  latency=config.get("latency", "low"))
    try:
        if use_in and use_out:
            stream = sd.Stream(device=(_device(config["input_device"]), _device(config["output_device"])),
                               channels=(config["in_channels"], config["out_channels"]), callback=duplex, **kwargs)
        elif use_in:
            stream = sd.InputStream(device=_device(config["input_device"]), channels=config["in_channels"],
                                    callback=input_only, **kwargs)
        else:
            stream = sd.OutputStream(device=_device(config["output_device"]), channels=config["out_channels"],
                                     callback=output_only, **kwargs)
    except Exception as exc:  # PortAudioError, ValueError for unknown names: report what exists
        emit("error", message=str(exc), devices=list_devices(sd))
        return ERROR_EXIT

    latency = stream.latency if isinstance(stream.latency, tuple) else (
        (stream.latency, 0.0) if use_in else (0.0, stream.latency))
    names = {}
    for kind, index in (("input", stream.device if use_in and not use_out else None),
                        ("output", stream.device if use_out and not use_in else None)):
        if index is not None:
            names[kind] = sd.query_devices(index)["name"]
    if use_in and use_out:
        names = {"input": sd.query_devices(stream.device[0])["name"],
                 "output": sd.query_devices(stream.device[1])["name"]}
    priority += f", watcher {guard_the_gil()}"
    emit("opened", samplerate=int(stream.samplerate), blocksize=int(stream.blocksize), latency=list(latency),
         in_channels=config["in_channels"] if use_in else 0, out_channels=config["out_channels"] if use_out else 0,
         devices=names, priority=priority, hostapi=sd.query_hostapis(sd.query_devices(stream.device[0] if use_in and use_out
                                                                    else stream.device)["hostapi"])["name"])
    parent = os.getppid()
    while not shared.header[GO]:
        if shared.header[STOP] or os.getppid() != parent:
            stream.close()
            return 0
        time.sleep(0.005)
    stream.start()
    while not shared.header[STOP]:
        time.sleep(0.05)
        if not stream.active or os.getppid() != parent:
            # The server (JACK) went away, or our parent died. Never touch this stream again:
            # closing it, or letting the interpreter's exit handler terminate PortAudio, hangs.
            emit("lost", message="the audio stream stopped by itself (device or JACK server gone)",
                 last_callback_ns=int(shared.header[HEARTBEAT_NS]))
            os._exit(LOST_EXIT)
    stream.stop()
    stream.close()
    # The server is alive, so PortAudio can close its JACK client properly; skipping this (the
    # os._exit below) would drop the connection mid-cycle and JACK flags an xrun to every client.
    sd._terminate()
    emit("stopped")
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    os._exit(code)  # skip sounddevice's exit handler: it can hang on a dead JACK server
