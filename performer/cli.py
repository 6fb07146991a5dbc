"""The ``performer`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from performer import __version__
from performer.errors import PerformerError

log = logging.getLogger("performer.cli")


def _bend(text: str) -> tuple[str, str]:
    address, sep, value = text.partition("=")
    if not sep or not address or not value:
        raise argparse.ArgumentTypeError(f"--bend takes ADDRESS=VALUE (e.g. '#3/0/amount=0.5'), got {text!r}")
    return address.strip(), value.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="performer", description="Network bending of neural audio models.")
    parser.add_argument("--version", action="version", version=f"performer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    layers = sub.add_parser("layers", help="list every bendable tensor of a model, in model order")
    layers.add_argument("model", nargs="?", default=None,
                        help="an nn~ export (.ts) or an embedded model by name (default, studio: models/NAME.ts); default: default")
    layers.add_argument("--json", action="store_true", help="one JSON object: the model and its tensors")
    layers.add_argument("--blend", metavar="SOURCE", default=None,
                        help="also say which tensors have a partner (same name and shape) in SOURCE for the blend "
                             "transform; the others are left alone by it")
    layers.add_argument("--sensitivity", action="store_true",
                        help="add what each tensor does to pitch, loudness, ... (measured once, then cached; "
                             "see `performer sensitivity`)")
    from performer.sensitivity.cli import add_arguments as add_sensitivity_arguments
    add_sensitivity_arguments(layers)

    render = sub.add_parser("render", help="run an audio file through the model with bends (offline)",
                            description="Renders IN through MODEL into OUT (.wav or .flac) with the live engine's "
                                        "block processing, safety stage included.")
    render.add_argument("model", nargs="?", default=None,
                        help="an nn~ export (.ts) or an embedded model by name (default, studio: models/NAME.ts); default: default")
    render.add_argument("input", help="audio file in (any rate; resampled to the model's)")
    render.add_argument("output", help="audio file out: .wav or .flac (written at the input's rate)")
    render.add_argument("--bend", action="append", type=_bend, default=[], metavar="ADDRESS=VALUE",
                        help="set an address before rendering, e.g. '#3/0/transform=invert'; repeatable, in order")
    render.add_argument("--log", default=None, metavar="FILE",
                        help="replay a bending log (.jsonl) over the file: each change at its time, from the "
                             "log's first entry on, quantised to the model's blocks")
    render.add_argument("--log-offset", type=float, default=None, metavar="S",
                        help="the log time (seconds since its session started) at the input's start "
                             "(default: the log's first entry)")
    render.add_argument("--seed", type=int, default=0, help="seed of the model's own randomness (default 0)")
    render.add_argument("--block", type=int, default=None, help="model block size in samples "
                        "(a multiple of the model's ratio; default: the smallest multiple >= 2048)")
    render.add_argument("--rate", type=int, default=None, help="output sample rate (default: the input's)")
    render.add_argument("--quiet", action="store_true", help="no progress bar")

    transforms = sub.add_parser("transforms", help="list transforms and their parameters")
    transforms.add_argument("--json", action="store_true")

    from performer.show.cli import add_parsers
    add_parsers(sub, _bend)
    from performer.scenes.cli import add_parsers as add_scene_parsers
    add_scene_parsers(sub)
    from performer.train.cli import add_parsers as add_train_parsers
    add_train_parsers(sub)
    from performer.sensitivity.cli import add_parsers as add_sensitivity_parsers
    add_sensitivity_parsers(sub)
    from performer.export.cli import add_parsers as add_export_parsers
    add_export_parsers(sub, _bend)
    return parser


def cmd_layers(args: argparse.Namespace) -> int:
    from performer.model import describe_tensors, load_model

    from performer.export import describe_export, read_export_info

    model = load_model(args.model)
    tensors = describe_tensors(model.module)
    exported = read_export_info(model.path)
    pairing = None
    if args.blend:
        from performer.bending.blend import shared_sources

        pairing = shared_sources().pairing(args.blend, {t.name: t.shape for t in tensors})
    found = None
    if args.sensitivity:
        from performer.sensitivity.cli import compute

        found = compute(args, model, quiet=args.json)
    if args.json:
        rows = [t.to_dict() for t in tensors]
        if found is not None:
            for row in rows:
                entry = found.to_dict(details=False)["tensors"].get(row["name"])
                row["sensitivity"] = entry and {"scores": entry["scores"], "summary": entry["summary"]}
        out = {"model": model.describe(), "tensors": rows, "export": exported}
        if pairing is not None:
            out["blend"] = {"source": args.blend, "matched": pairing.matched, "unpaired": pairing.unpaired()}
        print(json.dumps(out, indent=1))
        return 0
    info = model.describe()
    methods = "  ".join(f"{n}{v}" for n, v in info["methods"].items())
    print(f"{model.path}: {info['sample_rate']} Hz, {info['in_channels']} in / {info['out_channels']} out, "
          f"latent {info['latent_size']}, block multiple {info['block_multiple']}, "
          f"{'streaming' if info['streaming'] else 'not streaming'}")
    print(f"methods [in_ch, in_ratio, out_ch, out_ratio]: {methods}")
    total = sum(t.size for t in tensors)
    for line in describe_export(exported) if exported else ():
        print(line)
    for line in pairing.lines() if pairing is not None else ():
        print(f"blend: {line}")
    print(f"{len(tensors)} bendable tensors, {total:,} values\n")
    if found is not None:
        from performer.sensitivity.cli import HEADS, columns

        print("sensitivity: scores 0..1 (0.5: a change anyone hears); `performer sensitivity` has the details\n")
        print(f"{'#':>3}  {'name':<44} {'kind':<14} {'shape':<14} " + " ".join(f"{h:>6}" for h in HEADS.values())
              + "  summary")
        for t in tensors:
            shape = "x".join(map(str, t.shape)) or "scalar"
            result = found.tensors.get(t.name)
            cells = columns(result.scores) + f"  {result.summary}" if result else "  (not measured)"
            print(f"{t.index:>3}  {t.name[:44]:<44} {t.kind:<14} {shape:<14} {cells}")
        return 0
    print(f"{'#':>3}  {'name':<52} {'kind':<14} {'shape':<16} {'size':>10} {'mean':>9} {'std':>9} {'min':>9} {'max':>9}")
    for t in tensors:
        shape = "x".join(map(str, t.shape)) or "scalar"
        print(f"{t.index:>3}  {t.name:<52} {t.kind:<14} {shape:<16} {t.size:>10,} "
              f"{t.mean:>9.4f} {t.std:>9.4f} {t.min:>9.4f} {t.max:>9.4f}")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from performer.model import load_model
    from performer.render import render_file

    model = load_model(args.model)
    bend_log = []
    if args.log:
        from performer.scenes.bendlog import read_log

        bend_log = read_log(args.log)
    factory = None
    if not args.quiet:
        from tqdm import tqdm

        def factory(total: int):
            bar = tqdm(total=round(total / model.sample_rate, 2), unit="s", desc="render", file=sys.stderr,
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s audio [{elapsed}<{remaining}]")

            def update(frames: int) -> None:
                bar.update(min(frames / model.sample_rate, bar.total - bar.n))
                if bar.n >= bar.total:
                    bar.close()
            return update

    report = render_file(model, args.input, args.output, bends=args.bend, seed=args.seed, block_size=args.block,
                         output_rate=args.rate, progress_factory=factory, bend_log=bend_log,
                         log_offset=args.log_offset)
    for note in report.notes:
        print(f"performer: warning: {note}", file=sys.stderr)
    notes = []
    if report.guard_events:
        notes.append(f"{report.guard_events} blocks muted by the guard (NaN/Inf or runaway level)")
    if report.model_errors:
        notes.append(f"{report.model_errors} blocks silenced by model errors (see log)")
    print(f"{args.output}: {report.seconds:.2f} s at {report.output_rate} Hz, {report.blocks} blocks of "
          f"{report.block_size}, real-time factor {report.realtime_factor:.3f}" + ("; " + "; ".join(notes) if notes else ""))
    return 0


def cmd_transforms(args: argparse.Namespace) -> int:
    from performer.bending.transforms import TRANSFORMS

    if args.json:
        print(json.dumps({n: t.describe() for n, t in TRANSFORMS.items()}, indent=1))
        return 0
    for t in TRANSFORMS.values():
        params = ", ".join(
            f"{p.name}={p.default}" + (" [a file]" if p.path else f" [{'|'.join(p.choices)}]" if p.choices
                                        else f" [{p.min:g}..{p.max:g}]")
            for p in t.params)
        print(f"{t.name:<10} {t.doc}" + (f"\n{'':<10} params: {params}" if params else ""))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from performer.show.cli import cmd_serve as serve
    return serve(args)


def cmd_export(args: argparse.Namespace) -> int:
    from performer.export.cli import cmd_export as export
    return export(args)


def cmd_devices(args: argparse.Namespace) -> int:
    from performer.show.cli import cmd_devices as devices
    return devices(args)


def cmd_scenes(args: argparse.Namespace) -> int:
    from performer.scenes.cli import cmd_scenes as scenes
    return scenes(args)


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from performer.sensitivity.cli import cmd_sensitivity as sensitivity
    return sensitivity(args)


def cmd_train(args: argparse.Namespace) -> int:
    from performer.train.cli import cmd_train as train
    return train(args)


COMMANDS = {"layers": cmd_layers, "render": cmd_render, "transforms": cmd_transforms, "serve": cmd_serve,
            "devices": cmd_devices, "scenes": cmd_scenes, "train": cmd_train, "sensitivity": cmd_sensitivity,
            "export": cmd_export}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except PerformerError as exc:
        print(f"performer: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
