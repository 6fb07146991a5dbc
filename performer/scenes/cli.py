"""``performer scenes list|show|export|import``: the scene folder from a terminal.

Errors are SceneErrors (PerformerError): ``performer.cli.main`` prints them as one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from performer.scenes.paths import default_scenes_dir
from performer.scenes.scene import Scene
from performer.scenes.store import SceneStore


def add_parsers(sub) -> None:
    """Register ``scenes`` and its actions on the main parser's subparsers."""
    where = "scene folder (default: $XDG_DATA_HOME/performer/scenes or ~/.local/share/performer/scenes)"
    scenes = sub.add_parser("scenes", help="list, show, export and import saved scenes",
                            description="Saved scenes: one JSON file per scene in the scene folder.")
    scenes.add_argument("--scenes", type=Path, metavar="DIR", help=where)
    # The same option after the action too; SUPPRESS keeps a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--scenes", type=Path, metavar="DIR", default=argparse.SUPPRESS, help=where)
    actions = scenes.add_subparsers(dest="scenes_command", required=True, metavar="ACTION")

    listing = actions.add_parser("list", parents=[common], help="the scenes, sorted by name (exit 1 if a file is bad)")
    listing.add_argument("--json", action="store_true", help="one JSON object: scenes and unreadable files")

    show = actions.add_parser("show", parents=[common], help="what a scene holds")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="the scene file's JSON")
    show.add_argument("--model", type=Path, metavar="MODEL",
                      help="also say what of the scene applies to this model (.ts)")

    export = actions.add_parser("export", parents=[common], help="write one scene to a file (to share it)")
    export.add_argument("name")
    export.add_argument("file", type=Path, help="the file to write (.json), or a folder")
    export.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")

    imp = actions.add_parser("import", parents=[common],
                             help="add a scene file (or an autosave, to recover it) to the scene folder")
    imp.add_argument("file", type=Path)
    imp.add_argument("--name", help="save it under this name (default: the name inside the file)")
    imp.add_argument("--overwrite", action="store_true", help="replace a scene of the same name")


def _local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _warn(message: object) -> None:
    print(f"performer: warning: {message}", file=sys.stderr)


def cmd_list(store: SceneStore, args: argparse.Namespace) -> int:
    listing = store.list()
    if args.json:
        print(json.dumps({
            "directory": str(store.directory),
            "scenes": [{"name": s.name, "file": str(s.path), "created": s.created, "modified": s.modified,
                        "model": s.model_file, "bent_tensors": s.bent_tensors, "locks": list(s.locks)}
                       for s in listing.scenes],
            "errors": [{"file": str(e.path) if e.path else None, "error": str(e)} for e in listing.errors],
        }, indent=1, ensure_ascii=False))
    elif not listing.scenes:
        print(f"no scenes in {store.directory}")
    else:
        width = max(12, *(len(s.name) for s in listing.scenes))
        print(f"{'name':<{width}}  {'modified':<19}  {'bent':>4}  model")
        for s in listing.scenes:
            print(f"{s.name:<{width}}  {_local(s.modified)}  {s.bent_tensors:>4}  {s.model_file or '?'}"
                  + (f"  (locks: {', '.join(s.locks)})" if s.locks else ""))
    if not args.json:
        for error in listing.errors:
            _warn(error)
    return 1 if listing.errors else 0


def _slot(slot: dict) -> str:
    # params are kept per transform (for switching back); show the current transform's
    current = slot.get("params", {}).get(slot["transform"], {})
    params = " ".join(f"{k}={v}" for k, v in current.items()) if isinstance(current, dict) else ""
    text = (f"{slot['transform']} amount {slot.get('amount')} percent {slot.get('percent')} "
            f"mode {slot.get('mode')} seed {slot.get('seed')}")
    return text + (f" {params}" if params else "") + (" (bypassed)" if slot.get("bypass") else "")


def format_scene(scene: Scene, path: Path) -> str:
    """A scene for people: identity, then only what it changes."""
    model = scene.model
    state = scene.state
    lines = [f"name      {scene.name}", f"file      {path}",
             f"created   {_local(scene.created)}", f"modified  {_local(scene.modified)}",
             f"model     {model.file or '?'} (sha256 {model.sha256[:12] or '?'}, {model.tensor_count} tensors)",
             f"locks     {', '.join(scene.locks) or 'none'}",
             "globals   " + ", ".join(f"{k} {v}" for k, v in state["globals"].items()),
             f"selected  #{state['selected']}"]
    latent = state["latent"]
    moved = [f"{i}: scale {s} offset {o}" for i, (s, o) in enumerate(zip(latent["scale"], latent["offset"]))
             if s != 1.0 or o != 0.0]
    lines.append("latent    " + ("; ".join(moved) if moved else f"untouched ({len(latent['scale'])} dimensions)"))
    lines.append(f"bends     {len(state['tensors'])} tensors" + (":" if state["tensors"] else ""))
    for name, chain in state["tensors"].items():
        for i, slot in enumerate(chain):
            lines.append(f"  {name}/{i}: {_slot(slot)}")
    return "\n".join(lines)


def cmd_show(store: SceneStore, args: argparse.Namespace) -> int:
    scene = store.load(args.name)
    if args.json:
        print(scene.to_json().decode("utf-8"), end="")
    else:
        print(format_scene(scene, store.path_for(scene.name)))
    if args.model is not None:
        from performer.model import load_model
        from performer.rig import Rig
        from performer.scenes.compat import check_compatible

        compat = check_compatible(scene, Rig(load_model(args.model)))
        print(f"\n{args.model}: {compat.summary()}")
        for line in compat.report():
            print(f"  {line}")
    return 0


def cmd_export(store: SceneStore, args: argparse.Namespace) -> int:
    dest = store.export(args.name, args.file, overwrite=args.overwrite)
    print(f"exported {args.name!r} to {dest}")
    return 0


def cmd_import(store: SceneStore, args: argparse.Namespace) -> int:
    scene = store.import_file(args.file, name=args.name, overwrite=args.overwrite)
    print(f"imported {scene.name!r} into {store.path_for(scene.name)}")
    return 0


ACTIONS = {"list": cmd_list, "show": cmd_show, "export": cmd_export, "import": cmd_import}


def cmd_scenes(args: argparse.Namespace) -> int:
    store = SceneStore(args.scenes if args.scenes is not None else default_scenes_dir())
    return ACTIONS[args.scenes_command](store, args)
