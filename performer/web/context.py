"""Everything the dashboard reads and drives, in one place: the Rig and what runs around it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass
class WebContext:
    rig: object  # performer.rig.Rig
    live: object | None = None  # LiveServer, while serving audio
    surfaces: object | None = None  # ControlSurfaces (MIDI, OSC)
    session: object | None = None  # SceneSession (scenes, autosave)
    modulation: object | None = None  # Modulation (modulators, macros, tempo)
    sensitivity: object | None = None  # SensitivityJob or ModelMaps (web/maps.py): what each tensor changes
    swap: object | None = None  # ModelSwap (show/swap.py): model/load, the models it can play, its results
    token: str | None = None  # required on every request when set (a network-reachable dashboard)
    web_dir: Path = REPO / "web"
    models_dir: Path = REPO / "models"
    uploads_dir: Path | None = None  # default: uploads/ in the user's data folder
    max_upload_bytes: int = 32 << 20

    def uploads(self) -> Path:
        if self.uploads_dir is None:
            from performer.scenes.paths import default_data_dir

            self.uploads_dir = default_data_dir() / "uploads"
        return self.uploads_dir

    def monitor(self):
        return getattr(self.live, "monitor", None)

    @property
    def scenes(self):
        return getattr(self.session, "manager", None)

    def status(self) -> dict:
        rig, model = self.rig, self.rig.model
        telemetry = getattr(self.live, "telemetry", None)
        snap = telemetry.snapshot() if telemetry is not None else {}
        control = self.surfaces.status() if self.surfaces is not None else {"midi": {}, "osc": {}}
        return {
            "model": Path(str(model.path)).name, "sample_rate": model.sample_rate,
            "block": snap.get("block", 0), "latency_ms": snap.get("latency_ms", 0.0),
            "rtf": snap.get("realtime_factor", 0.0), "xruns": snap.get("xruns_after_warmup", 0),
            "late_frames": snap.get("late_frames", 0), "blocks": snap.get("blocks", 0),
            "guard_events": snap.get("guard_events", 0), "model_errors": snap.get("model_errors", 0),
            "state": snap.get("state", "offline"), "midi": control.get("midi", {}), "osc": control.get("osc", {}),
        }
