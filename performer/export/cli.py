"""``performer export MODEL OUT.ts``: bake bends (from --bend and/or a saved scene) into a new export."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parsers(sub, bend_type) -> None:
    export = sub.add_parser(
        "export", help="write a new nn~ export (.ts) with bends baked into its tensors",
        description="Loads MODEL afresh, applies --scene then each --bend in order, and writes OUT.ts: the same "
                    "methods, *_params, attributes and sample rate, playable in nn~, Max, Pd or Ableton without "
                    "Performer. Latent bends and engine settings (mix, gains) cannot live in a model file; they "
                    "are listed as not baked. The bends are recorded in the file (`performer layers OUT.ts`).")
    export.add_argument("model", help="the nn~ export (.ts) to bend, or an embedded model by name (studio)")
    export.add_argument("output", type=Path, help="the file to write (.ts); replaced atomically if it exists")
    export.add_argument("--bend", action="append", type=bend_type, default=[], metavar="ADDRESS=VALUE",
                        help="set an address, e.g. '#3/0/transform=noise'; repeatable, applied in order after --scene")
    export.add_argument("--scene", metavar="NAME", help="start from a saved scene's bends")
    export.add_argument("--scenes", type=Path, metavar="DIR",
                        help="scene folder (default: $XDG_DATA_HOME/performer/scenes or ~/.local/share/performer/scenes)")


def cmd_export(args: argparse.Namespace) -> int:
    from performer.export import export_bent
    from performer.model import resolve_model

    state = None
    if args.scene:
        from performer.scenes.store import SceneStore

        state = SceneStore(args.scenes).load(args.scene).state
    report = export_bent(resolve_model(args.model), args.output, state, args.bend, source="cli")
    for note in report.notes:
        print(f"performer: warning: scene {args.scene!r}: {note}", file=sys.stderr)
    for text in report.left_out:
        print(f"performer: warning: not baked: {text}", file=sys.stderr)
    print(f"{report.path}: {len(report.baked)} tensors bent, {report.size / 1e6:.1f} MB, {report.seconds:.1f} s"
          + ("" if report.baked else " (no tensor bent: a copy of the model)"))
    return 0
