"""The dashboard's HTTP API and WebSocket (FastAPI), and the static page from ``web/``.

Every request goes through ``Rig.set``/``Rig.get`` like MIDI and OSC do. With a token (required
when the dashboard listens beyond 127.0.0.1) every API request and the WebSocket must carry it:
``?token=`` (the page takes it from its own URL) or an ``Authorization: Bearer`` header. WebSocket connections must come
from the dashboard's own origin. Names in paths never reach the file system unchecked.
"""

from __future__ import annotations

import hmac
import re
import threading
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request, UploadFile, WebSocket, status
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from performer.atomic import AtomicWriter
from performer.errors import PerformerError
from performer.web.context import WebContext
from performer.web.hub import Hub
from performer.web.views import heatmap, tensor_list

class SetRequest(BaseModel):
    address: str = Field(..., max_length=512, description="a Rig address, e.g. mix or decoder.net.2.weight/0/amount")
    value: Any = Field(None, description="number, string (transform or mode names) or bool")


class SetResult(BaseModel):
    address: str
    value: Any


class LearnRequest(BaseModel):
    address: str = Field(..., max_length=512)


class Problem(BaseModel):
    detail: str


def _provided_token(request: Request | WebSocket) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query_params.get("token")


def create_app(context: WebContext) -> FastAPI:
    hub = Hub(context)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await hub.start()
        yield
        await hub.stop()

    app = FastAPI(title="Performer", version="1", lifespan=lifespan,
                  description="Bend a neural audio model live: the Rig's address space over HTTP and a WebSocket.",
                  responses={401: {"model": Problem}})
    app.state.hub = hub
    app.state.context = context
    if context.sensitivity is not None:  # the map's progress reaches every page through the hub
        context.sensitivity.listen(hub.event)

    @app.middleware("http")
    async def authorised(request: Request, call_next):
        if context.token is not None and request.url.path.startswith("/api"):
            given = _provided_token(request)
            if not given or not hmac.compare_digest(given, context.token):
                return JSONResponse({"detail": "a token is required: open the URL `performer serve` printed "
                                               "(it ends in ?token=...)"}, status_code=status.HTTP_401_UNAUTHORIZED)
        return await call_next(request)

    @app.exception_handler(PerformerError)
    async def performer_error(request: Request, exc: PerformerError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.get("/api/status", summary="Engine, audio and control status")
    def get_status() -> dict:
        return context.status()

    @app.get("/api/state", summary="The whole bend state (chains, latent, globals, selection)")
    def get_state() -> dict:
        return context.rig.state()

    @app.get("/api/addresses", summary="The address space of the loaded model, with ranges")
    def get_addresses() -> dict:
        return context.rig.describe_addresses()

    @app.get("/api/tensors", summary="Every bendable tensor in model order, in plain words")
    def get_tensors() -> list[dict]:
        return tensor_list(context.rig)

    @app.get("/api/tensors/{index}/heatmap", summary="A tensor before and after its bend, with the mask",
             responses={404: {"model": Problem}})
    def get_heatmap(index: int, rows: int = 64, cols: int = 128) -> dict:
        if not 0 <= index < len(context.rig.tensors):
            raise HTTPException(404, f"no tensor #{index}: this model has #0..#{len(context.rig.tensors) - 1}")
        return heatmap(context.rig, index, rows=min(max(rows, 1), 256), cols=min(max(cols, 1), 512))

    @app.get("/api/modulation", summary="Modulators, macros and tempo: settings and live values",
             responses={404: {"model": Problem}})
    def get_modulation() -> dict:
        if context.modulation is None:
            raise HTTPException(404, "this server runs without modulation")
        return context.modulation.describe()

    @app.get("/api/sensitivity", summary="What each tensor changes (pitch, loudness, ...): the map so far and "
             "its progress", responses={409: {"model": Problem}})
    def get_sensitivity() -> dict:
        return _sensitivity(context).snapshot()

    @app.post("/api/sensitivity/start", status_code=202, summary="Measure the map in the background (idle priority)",
              responses={409: {"model": Problem}})
    def start_sensitivity() -> dict:
        return _sensitivity(context).start()

    @app.post("/api/sensitivity/stop", summary="Stop measuring (what was measured is kept)",
              responses={409: {"model": Problem}})
    def stop_sensitivity() -> dict:
        job = _sensitivity(context)
        job.stop()
        return {"state": job.state}

    @app.post("/api/set", summary="Set one address (what a knob does)", response_model=SetResult,
              responses={422: {"model": Problem}})
    def post_set(request: SetRequest) -> SetResult:
        stored = context.rig.set(request.address, request.value, source="web")
        return SetResult(address=context.rig.resolve(request.address), value=_plain(stored))

    @app.get("/api/scenes", summary="Saved scenes, the current one and the set list")
    def get_scenes() -> dict:
        manager = _scenes(context)
        listing = manager.store.list()
        return {"scenes": [{"name": info.name, "modified": getattr(info, "modified", "")} for info in listing.scenes],
                "errors": [str(e) for e in listing.errors], "current": manager.current,
                "setlist": manager.setlist, "position": manager.position,
                "a": context.rig.get("scene/a"), "b": context.rig.get("scene/b"), "morph": context.rig.get("scene/morph")}

    @app.post("/api/scenes/{name}/save", summary="Save the current state as a scene", responses={422: {"model": Problem}})
    def save_scene(name: str) -> dict:
        return {"name": context.rig.set("scene/save", name, source="web")}

    @app.post("/api/scenes/{name}/recall", summary="Recall a scene", responses={422: {"model": Problem}})
    def recall_scene(name: str) -> dict:
        context.rig.set("scene/recall", name, source="web")
        return {"name": name, "report": _scenes(context).last_report}

    @app.get("/api/mappings", summary="Loaded MIDI mappings with live values")
    def get_mappings() -> dict:
        router = getattr(context.surfaces, "router", None)
        mappings = router.mappings if router is not None else getattr(context.surfaces, "mappings", [])
        return {"midi": router is not None, "mappings": [
            {"name": m.name, "device": m.device, "controls": [
                {"match": {"type": c.match.type, "channel": c.match.channel, "number": c.match.number},
                 "address": c.address, "label": c.label, "mode": c.mode, "takeover": c.takeover,
                 "value": _current(context.rig, c.address)} for c in m.controls]} for m in mappings]}

    @app.post("/api/learn", status_code=202, summary="Bind the next MIDI control moved to an address",
              responses={409: {"model": Problem}, 422: {"model": Problem}})
    def post_learn(request: LearnRequest) -> dict:
        router = getattr(context.surfaces, "router", None)
        if router is None:
            raise HTTPException(409, "MIDI is off in this server (started with --no-midi, or no MIDI system)")
        context.rig.resolve(request.address)  # an unknown address fails now

        def wait() -> None:
            control = router.learn(request.address, timeout=30)
            hub.event({"type": "learn", "address": request.address, "control": None if control is None else {
                "type": control.match.type, "channel": control.match.channel, "number": control.match.number,
                "mode": control.mode}})

        threading.Thread(target=wait, daemon=True, name="performer-web-learn").start()
        return {"address": request.address, "waiting_s": 30}

    @app.get("/api/inputs", summary="Example inputs, uploaded files, and what the engine hears now")
    def get_inputs() -> dict:
        from performer.audio.examples import EXAMPLES

        folder = context.uploads()
        uploads = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES) if folder.is_dir() else []
        live = context.live
        return {"examples": list(EXAMPLES), "uploads": uploads, "current": getattr(live, "input_name", None),
                "device": live is not None and live.has_device_input}

    @app.post("/api/inputs/{name}", summary="Loop an example or an upload as the input ('device' goes back)",
              responses={404: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem}})
    def post_input(name: str) -> dict:
        from performer.audio.files import read_audio
        from performer.audio.examples import EXAMPLES, example

        live = context.live
        if live is None:
            raise HTTPException(409, "no live engine in this server")
        if getattr(live, "telemetry", None) is None:  # the dashboard starts before the audio
            raise HTTPException(409, "the live engine is still starting: try again in a moment")
        if name == "device":
            live.switch_input(None)
        elif name in EXAMPLES:
            live.switch_input(example(name, live.rate), live.rate, name)
        else:
            path = _upload_path(context, name)
            audio, rate = read_audio(path)
            live.switch_input(audio, rate, name)
        return {"current": name}

    @app.post("/api/upload", summary="Upload audio to loop as the input (WAV, FLAC or OGG)",
              responses={413: {"model": Problem}, 415: {"model": Problem}})
    async def upload(file: UploadFile) -> dict:
        folder = context.uploads()
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(file.filename or "upload").stem).strip("._")[:60] or "upload"
        suffix = Path(file.filename or "").suffix.lower()
        if suffix not in AUDIO_SUFFIXES:
            raise HTTPException(415, f"upload WAV, FLAC or OGG audio ({', '.join(AUDIO_SUFFIXES)}), not {suffix or 'this'}")
        size = 0
        with AtomicWriter(folder, f"upload{suffix}") as upload:  # the name is picked once it is audio
            while chunk := await file.read(1 << 16):
                size += len(chunk)
                if size > context.max_upload_bytes:
                    raise HTTPException(413, f"uploads are limited to {context.max_upload_bytes >> 20} MB")
                upload.file.write(chunk)
            upload.file.flush()
            try:
                import soundfile

                soundfile.info(str(upload.path))
            except Exception:
                raise HTTPException(415, "that file is not audio that can be read (WAV, FLAC or OGG)") from None
            target = folder / f"{stem}{suffix}"
            counter = 1
            while target.exists():
                counter += 1
                target = folder / f"{stem}-{counter}{suffix}"
            upload.commit(target)
        return {"name": target.name, "bytes": size}

    @app.get("/api/models", summary="The models model/load can play (program-change order), the one playing, "
             "the crossfade, the last swap and the failures")
    def get_models() -> dict:
        return _models(context)

    @app.websocket("/api/ws")
    async def websocket(socket: WebSocket) -> None:
        if context.token is not None:
            given = _provided_token(socket)
            if not given or not hmac.compare_digest(given, context.token):
                await socket.close(code=4401)
                return
        if not _same_origin(socket):
            await socket.close(code=4403)
            return
        await socket.accept()
        await hub.serve(socket)

    if context.web_dir.is_dir():  # the page and its scripts (not secret; the API is what the token guards)
        app.mount("/", StaticFiles(directory=context.web_dir, html=True), name="page")
    return app


AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def _upload_path(context: WebContext, name: str) -> Path:
    """An uploaded file by name: only a plain file name that is in the uploads folder."""
    folder = context.uploads()
    if name != Path(name).name or name.startswith(".") or Path(name).suffix.lower() not in AUDIO_SUFFIXES:
        raise HTTPException(404, f"no input named {name!r}: an example, 'device', or an uploaded file's name")
    path = folder / name
    if not path.is_file():
        raise HTTPException(404, f"no input named {name!r}: an example, 'device', or an uploaded file's name")
    return path


def _models(context: WebContext) -> dict:
    """``folder``/``models``: the .ts files of the models folder; ``loaded``: the playing model's
    file. With a ModelSwap (``swap`` true): ``names`` in program-change order, ``paths`` by name,
    ``playing`` (its name in that list, else its file's stem), ``crossfade_ms``, ``busy`` while a
    swap waits or runs, ``last`` (the last swap's timings), ``failures`` (the last few) and
    ``failed`` (how many in all). ``sources``: model files a blend slot can take."""
    folder = context.models_dir
    files = sorted(p.name for p in folder.glob("*.ts")) if folder.is_dir() else []
    loaded = Path(str(context.rig.model.path))
    out = {"folder": str(folder), "models": files, "loaded": str(loaded), "playing": loaded.stem,
           "swap": False, "names": [], "paths": {}, "crossfade_ms": None, "busy": False, "last": None,
           "failures": [], "failed": 0, "sources": [str(folder / f) for f in files]}
    swap = context.swap
    if swap is None:
        return out
    available = swap.available()
    last = swap.results[-1] if swap.results else None
    failures = list(swap.failures)
    out.update(swap=True, names=list(available), paths={n: str(p) for n, p in available.items()},
               playing=swap.playing(), crossfade_ms=swap.crossfade_ms, busy=not swap.wait_idle(0),
               failures=failures[-5:], failed=len(failures), sources=[str(p) for p in available.values()],
               last=None if last is None else {k: (round(v, 1) if isinstance(v, float) else v)
                                               for k, v in asdict(last).items() if k != "began"})
    return out


def _scenes(context: WebContext):
    manager = context.scenes
    if manager is None:
        raise HTTPException(409, "scenes are off in this server")
    return manager


def _sensitivity(context: WebContext):
    if context.sensitivity is None:
        raise HTTPException(409, "sensitivity maps are off in this server")
    return context.sensitivity


def _current(rig, address: str):
    try:
        return _plain(rig.get(address))
    except PerformerError:
        return None


def _plain(value):
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def _same_origin(socket: WebSocket) -> bool:
    """Browsers send Origin on WebSocket upgrades: it must be the dashboard's own host. Clients
    without one (scripts, benches) pass: they cannot ride on a performer's browser session."""
    origin = socket.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == socket.headers.get("host", "")
