"""``performer sensitivity`` and the columns ``performer layers --sensitivity`` adds."""

from __future__ import annotations

import argparse
import json
import os
import sys

from performer.sensitivity.summary import DIMENSIONS

HEADS = {"pitch": "pitch", "loudness": "loud", "brightness": "bright", "noise": "noise", "timing": "timing",
         "timbre": "timbre"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The measuring options (shared by ``sensitivity`` and ``layers --sensitivity``)."""
    parser.add_argument("--bends", default=None, metavar="LIST",
                        help="comma-separated bends, TRANSFORM[:PARAM=VALUE...][@PERCENT] (default: "
                             "noise@100,noise@10,scale:factor=0@100,scale:factor=0@10,invert@100,invert@10)")
    parser.add_argument("--seconds", type=float, default=2.5, help="probe length in seconds (default 2.5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the probe and the model's noise (default 0)")
    parser.add_argument("--refresh", action="store_true", help="measure again, ignoring the cached map")


def add_parsers(sub) -> None:
    p = sub.add_parser("sensitivity", help="measure what each tensor does to pitch, loudness, brightness, noise, "
                                           "timing and timbre",
                       description="Bends every tensor with a few standard bends, renders a seeded probe (pitched, "
                                   "noisy and percussive material) offline, and measures the change from the "
                                   "unbent render. Maps are cached per model file; a stopped run goes on where "
                                   "it stopped.")
    p.add_argument("model", nargs="?", default=None,
                   help="an nn~ export (.ts) or an embedded model by name (default, studio: models/NAME.ts); default: default")
    p.add_argument("--json", action="store_true", help="the whole map as JSON (every bend's measures)")
    add_arguments(p)
    p.add_argument("--tensors", default=None, metavar="LIST",
                   help="comma-separated tensor names, name fragments or #positions (default: all)")
    p.add_argument("--sort", choices=tuple(DIMENSIONS), default=None, help="strongest first in this dimension")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="where maps are cached (default: $XDG_CACHE_HOME/performer/sensitivity)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--background", action="store_true", help=argparse.SUPPRESS)  # the dashboard's worker


def settings_from(args: argparse.Namespace):
    from performer.errors import ValueRangeError
    from performer.sensitivity.bends import parse_bends
    from performer.sensitivity.run import Settings

    if not 0.5 <= args.seconds <= 60:
        raise ValueRangeError(f"--seconds must be in range 0.5..60, got {args.seconds:g}")
    return Settings(tuple(b.spec for b in parse_bends(args.bends)), float(args.seconds), int(args.seed))


def compute(args: argparse.Namespace, model, tensors=None, quiet: bool = False, background: bool = False):
    from performer.sensitivity.build import build_map
    from performer.sensitivity.cache import MapCache

    report = _json_lines if background else (None if quiet else _bar())
    return build_map(model, settings_from(args), tensors=tensors,
                     cache=None if getattr(args, "no_cache", False) else MapCache(getattr(args, "cache_dir", None)),
                     refresh=args.refresh, progress=report)


def cmd_sensitivity(args: argparse.Namespace) -> int:
    # One BLAS thread (before numpy loads, when it has not): the measures are many small matrix
    # products, and BLAS threads spinning against each other on a busy machine cost 10-20x.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if args.background:
        lower_priority()
    from performer.model import load_model

    model = load_model(args.model)
    tensors = [t.strip() for t in args.tensors.split(",") if t.strip()] if args.tensors else None
    found = compute(args, model, tensors, quiet=args.quiet or args.json, background=args.background)
    if args.background:
        print(json.dumps({"type": "done", "measured": len(found.tensors), "total": len(found.order)}), flush=True)
        return 0
    if args.json:
        print(json.dumps(found.to_dict(), indent=1, allow_nan=False))
        return 0
    names = found.ranking(args.sort) if args.sort else [n for n in found.order if n in found.tensors]
    print(f"{model.path}: {len(found.tensors)} of {len(found.order)} tensors measured; probe {found.settings.seconds:g} s "
          f"(seed {found.settings.seed}); bends {', '.join(found.settings.bends)}")
    print("scores 0..1 per dimension (0.5: a change anyone hears), the mean over the bends\n")
    print(f"{'#':>3}  {'name':<44} " + " ".join(f"{h:>6}" for h in HEADS.values()) + "  summary")
    for name in names:
        result = found.tensors[name]
        print(f"{result.index:>3}  {name[:44]:<44} " + columns(result.scores) + f"  {result.summary}")
    return 0


def columns(scores: dict[str, float]) -> str:
    return " ".join(f"{scores[d]:>6.2f}" for d in HEADS)


def lower_priority() -> None:
    """The dashboard's worker gives way to the audio: the idle scheduling class where Linux has
    it, else the lowest nice; one torch thread."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        try:
            os.nice(19)
        except OSError:
            pass
    import torch

    torch.set_num_threads(1)


def _json_lines(p) -> None:
    """Progress for the dashboard's worker: one JSON object a line on stdout."""
    message = {"type": "progress", "done": p.done, "total": p.total, "tensor": p.tensor,
               "elapsed": round(p.elapsed, 2), "eta": None if p.eta is None else round(p.eta, 1)}
    if p.result is not None:
        message["result"] = p.result.to_dict()
    print(json.dumps(message, allow_nan=False), flush=True)


def _bar():
    from tqdm import tqdm

    bar = None

    def update(p) -> None:
        nonlocal bar
        if bar is None:
            if not p.total:
                return
            bar = tqdm(total=p.total, unit="tensor", desc="sensitivity", file=sys.stderr)
        if p.done > bar.n:
            bar.set_postfix_str(p.tensor[-40:], refresh=False)
            bar.update(p.done - bar.n)
        if bar.n >= bar.total:
            bar.close()
    return update
