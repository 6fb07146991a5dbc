"""Bake a bend state into a fresh load of a model and save it as a new nn~ export.

Exact by construction: the tensors are computed by the same Rig and TensorBank as the live path
(same chains, seeds, masks and blend partners), installed into a *fresh* load of the model file
and saved whole with ``torch.jit.save``, so methods, ``*_params`` buffers, attributes, sample
rate and streaming buffers are the original's. The live model is never touched.

What a model file cannot carry is reported, not faked:
- latent bends (``latent/<i>/scale|offset``) act between encode and decode. RAVE's latent PCA
  buffers serve both, and its encoder samples noise, so folding them into weights would change
  ``encode`` and ``decode`` for nn~ and would not be sample-exact;
- engine settings (mix, gains, bypass) belong to the player, not the model.

The bends are recorded in the archive as an extra file (``extra/performer.json``): nn~ and
``torch.jit.load`` ignore it, ``performer layers`` shows it.
"""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from performer import __version__
from performer.atomic import write_atomic
from performer.audio.delay import model_delay
from performer.audio.engine import default_block_size
from performer.errors import PerformerError
from performer.model.export_info import EXPORT_INFO_FILE, read_export_info
from performer.model.loader import NNModel
from performer.rig import Rig
from performer.rig.addresses import GLOBALS

INFO_FORMAT = 1


@dataclass
class ExportReport:
    path: Path
    source: Path
    baked: list[str]  # tensors whose values the file changes, in model order
    left_out: list[str]  # bends the file cannot carry, each with why
    notes: list[str] = field(default_factory=list)  # what the state could not apply to this model
    blend_sources: dict[str, str] = field(default_factory=dict)  # file -> sha256
    size: int = 0
    seconds: float = 0.0


def export_bent(model_path: str | os.PathLike, out_path: str | os.PathLike, state: dict | None = None,
                bends=(), *, source: str = "export", expect_tensors: list | None = None) -> ExportReport:
    """Load ``model_path`` afresh, apply ``state`` (as ``Rig.state()`` returns it) then ``bends``
    ((address, value) pairs, in order), and write the bent model to ``out_path`` atomically.

    Raises PerformerError (a bad address or value, an unloadable model, an unwritable path);
    on error nothing is written. Takes about as long as two loads of the model: call it off the
    audio and control threads."""
    from performer.model import load_model

    started = time.perf_counter()
    out = Path(out_path)
    if not out.parent.is_dir():
        raise PerformerError(f"cannot write {out}: folder {out.parent} does not exist")
    if Path(os.path.realpath(out)) == Path(os.path.realpath(model_path)):
        raise PerformerError(f"{out} is the model being exported: choose another file name")
    model = load_model(model_path)
    # measured unbent, as the live engine does before any bend, on its own load: measuring runs
    # the model, and the file must keep the original's streaming state
    delays = _delays(load_model(model_path))
    rig = Rig(model)
    if expect_tensors is not None and [(t.name, tuple(t.shape)) for t in rig.tensors] != expect_tensors:
        raise PerformerError(f"{model_path} changed on disk since it was loaded (its tensors differ); "
                             f"nothing exported: load it again first")
    notes = rig.load_state(state, source=source) if state is not None else []
    for address, value in bends:
        rig.set(address, value, source=source)
    rig.compute_pending()
    rig.install_pending()
    final = rig.state()
    baked = [t.name for t in rig.tensors if rig.bank.installed(t.index) is not rig.bank.original(t.index)]
    blends = _blend_sources(rig, final)
    info = {
        "format": INFO_FORMAT, "performer": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": {"file": Path(model_path).name, "sha256": model.sha256,
                  "export": read_export_info(model_path)},  # an export of an export keeps its history
        "delays": delays, "baked": baked, "left_out": _left_out(final), "blend_sources": blends,
        "state": {"tensors": final["tensors"], "latent": final["latent"], "globals": final["globals"]},
    }
    buffer = io.BytesIO()
    torch.jit.save(model.module, buffer, _extra_files={EXPORT_INFO_FILE: json.dumps(info, indent=1)})
    data = buffer.getvalue()
    try:
        write_atomic(out, data, keep_prev=False)  # a model file is large: no .prev copy
    except OSError as exc:
        raise PerformerError(f"cannot write {out}: {exc.strerror or exc}") from None
    return ExportReport(out, Path(model_path), baked, info["left_out"], notes, blends, len(data),
                        time.perf_counter() - started)


def export_rig(rig: Rig, out_path: str | os.PathLike) -> ExportReport:
    """``model/export`` for the live server: the rig's current bends, baked into a fresh load of
    its model file. The live model and its state are only read (one snapshot)."""
    return export_bent(rig.model.path, out_path, rig.state(), source="export",
                       expect_tensors=[(t.name, tuple(t.shape)) for t in rig.tensors])


def describe_export(info: dict) -> list[str]:
    """Lines for ``performer layers``: where the file came from and what was baked into it."""
    model = info.get("model", {})
    lines = [f"exported by Performer {info.get('performer', '?')} on {info.get('created', '?')} from "
             f"{model.get('file', '?')} (sha256 {str(model.get('sha256', '?'))[:12]})"]
    baked = info.get("baked", [])
    lines.append(f"bends baked into {len(baked)} tensors" + (": " + ", ".join(baked) if baked else ""))
    for name, chain in info.get("state", {}).get("tensors", {}).items():
        for i, slot in enumerate(chain):
            params = slot.get("params", {}).get(slot.get("transform"), {})
            extra = "".join(f" {k}={v}" for k, v in params.items())
            lines.append(f"  {name}/{i}: {slot.get('transform')} amount={slot.get('amount')} "
                         f"percent={slot.get('percent')} mode={slot.get('mode')} seed={slot.get('seed')}{extra}")
    for path, sha in info.get("blend_sources", {}).items():
        lines.append(f"blended with {path} (sha256 {sha[:12]})")
    lines += [f"not baked: {text}" for text in info.get("left_out", [])]
    if model.get("export"):
        lines.append("the model it was made from was itself an export: " + describe_export(model["export"])[0])
    return lines


def _left_out(state: dict) -> list[str]:
    out = []
    latent = state.get("latent", {})
    for kind, neutral in (("scale", 1.0), ("offset", 0.0)):
        for i, value in enumerate(latent.get(kind, [])):
            if value != neutral:
                out.append(f"latent/{i}/{kind}={value:g}: latent bends act between encode and decode, which "
                           f"share RAVE's latent buffers; set it in nn~ between encode~ and decode~")
    for name, value in state.get("globals", {}).items():
        if name in GLOBALS and name != "record" and value != GLOBALS[name][2]:
            out.append(f"{name}={value:g}: an engine setting, not part of the model")
    return out


def _blend_sources(rig: Rig, state: dict) -> dict[str, str]:
    files = {slot.get("params", {}).get("blend", {}).get("source")
             for chain in state["tensors"].values() for slot in chain if slot.get("transform") == "blend"}
    return {f: rig.bank.sources.sha256(f) for f in sorted(x for x in files if x)}


def _delays(model: NNModel) -> dict[str, int]:
    """The unbent model's delay at the block size Performer uses by default, so a render or a
    show of the export lines up as the original's did (each measure costs 16 model blocks; other
    block sizes are measured on the bent weights when used)."""
    size = default_block_size(model.block_multiple)
    return {str(size): model_delay(model, size)}
