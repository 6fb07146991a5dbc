"""``performer serve`` and ``performer devices``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

from performer.errors import PerformerError



def milliseconds(text: str) -> float:
    value = float(text)
    if not value >= 0:  # NaN too
        raise argparse.ArgumentTypeError(f"expected milliseconds >= 0, got {text}")
    return value


def add_parsers(sub, bend_type) -> None:
    serve = sub.add_parser(
        "serve", help="run the live server: audio in, bent model, audio out",
        description="Runs MODEL on an audio input in real time. Bends arrive through the Rig's addresses.")
    serve.add_argument("model", nargs="?", default=None, help="an nn~ export (.ts) or an embedded model by name "
                       "(default, studio: models/NAME.ts); default: default")
    serve.add_argument("-i", "--input", dest="input_device", metavar="DEVICE",
                       help="input device: name (part of it) or index from `performer devices`")
    serve.add_argument("-o", "--output", dest="output_device", metavar="DEVICE", help="output device: name or index")
    serve.add_argument("--input-file", metavar="FILE", help="loop FILE as the input instead of a device (practice)")
    serve.add_argument("--output-file", metavar="FILE", help="write the output to FILE (.wav) instead of a device")
    serve.add_argument("--in-channels", type=int, help="device input channels (default: the model's)")
    serve.add_argument("--out-channels", type=int, help="device output channels (default: 2, or the model's)")
    serve.add_argument("--rate", type=int, help="device sample rate (default: the device's; resampled to the model's)")
    serve.add_argument("--period", type=int, default=0, help="device buffer in frames (default 0: the device's own)")
    serve.add_argument("--block", type=int, help="model block in samples (multiple of the model's ratio; default >= 2048)")
    serve.add_argument("--headroom", type=float, metavar="MS",
                       help="time the model thread gets per block, rounded up to whole periods; less is lower latency, "
                            "too little drops blocks (default: 3x the measured block time, at least 15 ms)")
    serve.add_argument("--reserve", type=milliseconds, metavar="MS",
                       help="start each block MS before it is due, so knob moves made while it waits are heard in "
                            "it (lower knob-to-sound latency, less margin against dropouts; widened after slow "
                            "blocks; a late block starts them at once for 30 s). Default: off, blocks start as "
                            "soon as their input is in")
    serve.add_argument("--no-retakes", dest="retakes", action="store_false",
                       help="do not compute a block a second time when a knob moves after it was computed (by "
                            "default a block is computed again just before it is due, and played if done in time)")
    serve.add_argument("--splice-knobs", action=argparse.BooleanOptionalAction, default=None,
                       help="hear a knob moved while a block plays in that block, spliced in from the next callback "
                            "but one (crossfaded), instead of from the next block: 25-40 ms instead of 55-61 ms with "
                            "2048-sample blocks; up to one more model call per block while knobs move. Default: on "
                            "for blocks of 1024 samples or more (--no-splice-knobs: off)")
    serve.add_argument("--threads", type=int, default=1, help="torch threads for the model (default 1)")
    serve.add_argument("--bend", action="append", type=bend_type, default=[], metavar="ADDRESS=VALUE",
                       help="set an address at start, e.g. '#3/0/transform=invert'; repeatable")
    serve.add_argument("--record-dir", type=Path, help="where `record` writes WAVs (default ~/Music/Performer)")
    serve.add_argument("--record-input", action="store_true", help="`record` also writes the input")
    serve.add_argument("--measure-latency", type=float, metavar="S", default=None,
                       help="JACK only: measure the round trip through the dry path with jack_iodelay for S seconds "
                            "after the start (mix is set to 0 meanwhile), print it beside the computed figure")
    serve.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (headless runs)")
    serve.add_argument("--status-interval", type=float, default=5.0, metavar="S", help="status line every S s; 0: none")
    serve.add_argument("--client-name", default="performer", help="JACK client name (default performer)")
    models = serve.add_argument_group("model swaps (model/load NAME, docs/models.md)")
    models.add_argument("--models", type=Path, action="append", default=[], metavar="DIR",
                        help="more models for model/load, by file name (after the embedded ones); repeatable")
    models.add_argument("--crossfade", type=milliseconds, default=50.0, metavar="MS",
                        help="crossfade between two models on model/load (default 50 ms)")
    models.add_argument("--no-preload", dest="preload", action="store_false",
                        help="do not load the folders' models before the audio starts (faster start; "
                             "loading one mid-show stalls the audio for a moment)")
    scenes = serve.add_argument_group("scenes")
    scenes.add_argument("--scenes", type=Path, metavar="DIR", help="scenes folder (default ~/.local/share/performer/scenes)")
    scenes.add_argument("--setlist", type=Path, metavar="FILE",
                        help="scene names, one per line, for setlist/next|prev (default: setlist.txt in the scenes folder)")
    scenes.add_argument("--fresh", action="store_true", help="start clean instead of from the last autosaved state")
    scenes.add_argument("--no-bending-log", action="store_true", help="do not log changes for this session")
    web = serve.add_argument_group("dashboard")
    web.add_argument("--web-port", type=int, default=8130, metavar="N", help="dashboard port (default 8130)")
    web.add_argument("--web-host", default="127.0.0.1", metavar="HOST",
                     help="dashboard address (default 127.0.0.1; another one gets a token, printed in its URL)")
    web.add_argument("--web-token", metavar="TOKEN", help="use this token instead of a generated one")
    web.add_argument("--no-web", action="store_true", help="no dashboard")
    control = serve.add_argument_group("control (docs/mappings.md, docs/osc.md)")
    control.add_argument("--mapping", type=Path, action="append", default=[], metavar="FILE",
                         help="a MIDI mapping file or folder, besides mappings/ and ~/.config/performer/mappings; repeatable")
    control.add_argument("--midi-in", action="append", metavar="NAME",
                         help="read controllers whose port name contains NAME (default: the mappings' devices); repeatable")
    control.add_argument("--no-midi", action="store_true", help="no MIDI ports")
    control.add_argument("--midi-api", choices=("jack", "alsa"),
                         help="MIDI system (default: MIDO_BACKEND, else ALSA, then JACK)")
    control.add_argument("--learn", metavar="ADDRESS", action="append", default=[],
                         help="MIDI learn at start: bind the next control moved to ADDRESS (saved to "
                              "~/.config/performer/mappings/learned.toml); repeatable, in order")
    control.add_argument("--osc-port", type=int, metavar="N", help="OSC UDP port (default 9130)")
    control.add_argument("--osc-host", default="127.0.0.1", metavar="HOST",
                         help="OSC address to listen on (default 127.0.0.1; another needs --osc-allow)")
    control.add_argument("--osc-allow", metavar="IP[,IP...]", help="senders accepted when --osc-host is not local")
    control.add_argument("--no-osc", action="store_true", help="no OSC server")

    devices = sub.add_parser("devices", help="list audio devices (JACK included when its server runs)")
    devices.add_argument("--json", action="store_true")


def _query_devices() -> list[dict]:
    try:
        import sounddevice as sd
    except OSError as exc:
        raise PerformerError(f"{exc}: install PortAudio (Debian: apt install libportaudio2)") from None
    from performer.live.device_host import list_devices
    return list_devices(sd)


def format_devices(devices: list[dict]) -> str:
    if not devices:
        return "  (no audio devices found)"
    return "\n".join(f"  {d['index']:>3}  {d['name']:<36} {d['hostapi']:<28} in {d['inputs']:>3}  out {d['outputs']:>3}  "
                     f"{d['rate']:.0f} Hz" for d in devices)


NO_DEVICE_HINT = (
    "options: name a device with -i/-o (see `performer devices`); practise without one with "
    "--input-file IN.wav and/or --output-file OUT.wav; or start JACK first "
    "(e.g. `jackd -d alsa`, or `jackd --no-realtime -d dummy -r 48000 -p 256` for no hardware)")


def cmd_devices(args: argparse.Namespace) -> int:
    devices = _query_devices()
    if args.json:
        print(json.dumps(devices, indent=1))
    else:
        print(format_devices(devices))
        if not any(d["hostapi"].startswith("JACK") for d in devices):
            print("(no JACK devices: JACK is listed only when its server runs before this command)")
    return 0


def _learn_in_turn(surfaces, addresses: list[str], stop: threading.Event) -> None:
    """--learn: one address after the other, each waiting for a control to move."""
    for address in addresses:
        if surfaces.router is None:
            print("learn: MIDI is off", flush=True)
            return
        print(f"learn: move a control for {address}", flush=True)
        try:
            control = surfaces.router.learn(address, timeout=120)
        except PerformerError as exc:
            print(f"learn: {exc}", flush=True)
            continue
        if stop.is_set():
            return
        if control is None:
            print(f"learn: nothing moved for {address} in 120 s; skipped", flush=True)
        else:
            m = control.match
            number = f" {m.number}" if m.number is not None else ""
            print(f"learn: {address} <- {m.type}{number} on channel {m.channel}"
                  + (f" ({control.mode}, {control.encoding})" if control.mode == "relative" else ""), flush=True)


def show_options(args: argparse.Namespace, report) -> "ShowOptions":
    """The Show ``performer serve ARGS`` runs (benches and tests build theirs with this too)."""
    from performer.control.surfaces import SurfaceOptions
    from performer.live.server import ServeOptions
    from performer.scenes.session import SessionOptions
    from performer.show import ShowOptions
    from performer.show.show import WebOptions

    serve = ServeOptions(input_device=args.input_device, output_device=args.output_device,
                         input_file=args.input_file, output_file=args.output_file, in_channels=args.in_channels,
                         out_channels=args.out_channels, samplerate=args.rate, period=args.period, block=args.block,
                         headroom_ms=args.headroom, reserve_ms=args.reserve, retakes=args.retakes,
                         splice_knobs=args.splice_knobs, threads=args.threads, record_input=args.record_input,
                         client_name=args.client_name, report=report)
    if args.record_dir:
        serve.record_dir = args.record_dir
    return ShowOptions(
        serve=serve,
        session=SessionOptions(scenes_dir=args.scenes, setlist=args.setlist, restore=not args.fresh,
                               bending_log=not args.no_bending_log),
        surfaces=SurfaceOptions(
            mappings=args.mapping, midi=not args.no_midi, midi_inputs=args.midi_in, midi_api=args.midi_api,
            osc=not args.no_osc, osc_host=args.osc_host, osc_port=args.osc_port,
            osc_allow=[ip.strip() for ip in args.osc_allow.split(",")] if args.osc_allow else None),
        web=WebOptions(enabled=not args.no_web, host=args.web_host, port=args.web_port, token=args.web_token),
        bends=list(args.bend), model_folders=list(args.models), crossfade_ms=args.crossfade,
        preload_models=args.preload)


def report_line(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _measure_latency(show, seconds: float, client: str) -> None:
    """--measure-latency: jack_iodelay through the dry path (mix 0, delayed to match the model)."""
    from performer.live.roundtrip import measure

    mix = show.rig.get("mix")
    show.rig.set("mix", 0.0, source="latency")
    try:
        result = measure(client, show.live.rate, seconds)
    except PerformerError as exc:
        report_line(f"latency not measured: {exc}")
        return
    finally:
        show.rig.set("mix", mix, source="latency")
    s = result.summary()
    computed = 1000 * show.live.latency.total_seconds
    if not s["readings"]:
        report_line(f"latency not measured: jack_iodelay found no signal in {seconds:g} s")
        return
    print(f"latency measured: {s['median_ms']:.2f} ms in to out (min {s['min_ms']:.2f}, max {s['max_ms']:.2f}, "
          f"{s['readings']} readings of jack_iodelay); computed {computed:.2f} ms", flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    from performer.live.device_link import DeviceError
    from performer.model import load_model
    from performer.show import Show

    model = load_model(args.model)
    if args.output_file:
        from performer.audio.files import check_writable
        check_writable(args.output_file)
    show = Show(model, show_options(args, report_line), report=report_line)
    try:
        show.start()
    except DeviceError as exc:
        found = format_devices(exc.devices) if exc.devices else "  (no audio devices found)"
        raise PerformerError(f"no usable audio device: {exc}\nfound:\n{found}\n{NO_DEVICE_HINT}") from None
    server, web, options = show.live, show.web, show.options.serve
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    info, lat = server.device_info, server.latency
    eng = server.engine
    print(f"model: {model.path} ({model.sample_rate} Hz, {model.in_channels} in / {model.out_channels} out, block "
          f"{eng.block_size} = {1000 * eng.block_size / model.sample_rate:.1f} ms, model delay {eng.dry_delay.delay} samples)",
          flush=True)
    print(f"audio: {info['hostapi']}: {info['devices'].get('input', '-')} -> {info['devices'].get('output', '-')} "
          f"at {lat.rate} Hz, period {lat.period}"
          + (f", audio thread {info['priority']}" if "priority" in info else ""), flush=True)
    print(f"latency: {lat.describe()}; {server.schedule.describe()}; {server.retakes.describe()}", flush=True)
    time.sleep(0.05)  # the model thread reports its priority as it starts
    print(f"model thread: {server.telemetry.model_priority}", flush=True)
    for line in show.lines:
        print(line, flush=True)
    if web is not None:
        print(f"web: {web.url()}", flush=True)
    elif show.web_error is not None:
        report_line(f"dashboard off: {show.web_error}")
    if args.learn:
        threading.Thread(target=_learn_in_turn, args=(show.surfaces, args.learn, stop), daemon=True).start()
    if args.measure_latency:
        _measure_latency(show, args.measure_latency, args.client_name)
    print("running; Ctrl-C stops. `record` = 1 records to " + str(options.record_dir), flush=True)
    started = time.monotonic()
    next_status = started + args.status_interval if args.status_interval > 0 else float("inf")
    try:
        while not stop.is_set():
            now = time.monotonic()
            if args.duration is not None and now - started >= args.duration:
                break
            if now >= next_status:
                print(server.telemetry.status_line(), file=sys.stderr, flush=True)
                next_status += args.status_interval
            stop.wait(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        written = show.stop()
    for written_path in written:
        print(f"wrote {written_path}")
    snapshot = show.summary or server.telemetry.snapshot()
    # The last status line and the summary come from one snapshot, so they cannot disagree.
    print(server.telemetry.status_line(snapshot), file=sys.stderr, flush=True)
    print(f"stopped after {snapshot['uptime_s']:.1f} s: {snapshot['blocks']} blocks, "
          f"xruns {snapshot['xruns_after_warmup']}, late frames {snapshot['late_frames']}, "
          f"guard {snapshot['guard_events']}, model errors {snapshot['model_errors']}")
    return 0
