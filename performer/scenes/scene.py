"""A scene: the whole bend state under a name, with the model it was made on.

File format (UTF-8 JSON, schema_version 1)::

    {"schema_version": 1, "name": "Ébauche 2",
     "created": "2025-03-01T20:15:02.114Z", "modified": "2025-03-01T20:31:40.002Z",
     "model": {"file": "v2.ts", "sha256": "<64 hex>", "tensor_signature": "<64 hex>",
               "tensor_count": 61, "shapes": {"decoder.net.2.weight": [64, 32, 3]}},
     "locks": ["mix", "output/gain"],
     "state": <Rig.state(): tensors, latent, globals, selected>}

``locks`` are addresses a recall leaves alone. ``model.shapes`` holds the bent tensors' shapes
only. Times are ISO 8601 in UTC.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterable

from performer.errors import ValueRangeError
from performer.rig.addresses import GLOBALS
from performer.rig.values import global_value, latent_value, number
from performer.scenes.errors import SceneError
from performer.scenes.identity import ModelIdentity, model_identity
from performer.scenes.names import validate_name

if TYPE_CHECKING:
    from performer.rig import Rig

SCHEMA_VERSION = 1
STATE_KEYS = ("tensors", "latent", "globals", "selected")


def utc_now() -> str:
    """Now as ISO 8601 UTC with milliseconds, e.g. ``2025-03-01T20:15:02.114Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _refuse_constant(token: str) -> float:
    raise ValueError(f"{token} is not a number JSON allows")


def parse_json(data: bytes | str) -> object:
    """json.loads that refuses NaN and Infinity (Python's json accepts them by default)."""
    return json.loads(data, parse_constant=_refuse_constant)


def dump_json(data: object) -> bytes:
    """Readable, diffable UTF-8 JSON (names stay readable: no \\u escapes)."""
    return (json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def validate_state(state: object, where: str = "state") -> dict:
    """Check a bend state (as Rig.state() returns it); return a deep copy, values coerced.

    Latent values and known globals pass the rig's value rule (``rig/values.py``), so a file
    takes what ``Rig.set`` takes (numeric text included) and stores the number. Slot fields and
    unknown globals are left to Rig.load_state, which reports what this model cannot apply."""
    if not isinstance(state, dict):
        raise SceneError(f"{where} must be an object, got {type(state).__name__}")
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise SceneError(f"{where} lacks {', '.join(missing)} (a state has {', '.join(STATE_KEYS)})")
    tensors = state["tensors"]
    if not isinstance(tensors, dict):
        raise SceneError(f"{where}.tensors must be an object of tensor name -> list of slots")
    for name, chain in tensors.items():
        if not isinstance(chain, list):
            raise SceneError(f"{where}.tensors[{name!r}] must be a list of slots, got {type(chain).__name__}")
        for i, slot in enumerate(chain):
            if not isinstance(slot, dict) or not isinstance(slot.get("transform"), str):
                raise SceneError(f"{where}.tensors[{name!r}][{i}] must be a slot object with a 'transform'")
            if not isinstance(slot.get("params", {}), dict):
                raise SceneError(f"{where}.tensors[{name!r}][{i}].params must be an object")
    state = copy.deepcopy(state)
    latent, globals_ = state["latent"], state["globals"]
    if not isinstance(latent, dict):
        raise SceneError(f"{where}.latent must be an object with 'scale' and 'offset' lists")
    for key in ("scale", "offset"):
        if not isinstance(latent.get(key), list):
            raise SceneError(f"{where}.latent.{key} must be a list of numbers, got {latent.get(key)!r}")
    if len(latent["scale"]) != len(latent["offset"]):
        raise SceneError(f"{where}.latent.scale and .offset must have the same length "
                         f"({len(latent['scale'])} != {len(latent['offset'])})")
    if not isinstance(globals_, dict):
        raise SceneError(f"{where}.globals must be an object of address -> number")
    try:
        for key in ("scale", "offset"):
            values = latent[key]
            for i, v in enumerate(values):
                values[i] = latent_value(v, f"{where}.latent.{key}[{i}]")
        for key, v in globals_.items():  # an unknown global (a newer file's): a number, reported at load
            label = f"{where}.globals[{key!r}]"
            globals_[key] = global_value(key, v, label) if key in GLOBALS else number(v, label)
    except ValueRangeError as exc:
        raise SceneError(str(exc)) from None
    selected = state["selected"]
    if not isinstance(selected, int) or isinstance(selected, bool) or selected < 0:
        raise SceneError(f"{where}.selected must be a tensor index >= 0, got {selected!r}")
    return state


def validate_time(value: object, where: str) -> str:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise SceneError(f"{where} must be an ISO 8601 time with a zone (e.g. 2025-03-01T20:15:02Z), got {value!r}")
    return value


def validate_locks(locks: object, where: str = "locks") -> tuple[str, ...]:
    """Addresses as a tuple, duplicates dropped (order kept)."""
    if isinstance(locks, str) or not isinstance(locks, (list, tuple)):
        raise SceneError(f"{where} must be a list of addresses, got {locks!r}")
    for i, lock in enumerate(locks):
        if not isinstance(lock, str) or not lock:
            raise SceneError(f"{where}[{i}] must be an address (non-empty text), got {lock!r}")
    return tuple(dict.fromkeys(locks))


@dataclass(frozen=True)
class Scene:
    """One saved bend state. Immutable: ``renamed`` and ``updated`` return new scenes."""

    name: str
    state: dict
    model: ModelIdentity
    created: str = field(default_factory=utc_now)
    modified: str = ""  # "" means: same as created
    locks: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", validate_name(self.name))
        object.__setattr__(self, "state", validate_state(self.state))  # a private copy
        if not isinstance(self.model, ModelIdentity):
            raise SceneError(f"model must be a ModelIdentity, got {type(self.model).__name__}")
        object.__setattr__(self, "locks", validate_locks(self.locks))
        if not self.modified:
            object.__setattr__(self, "modified", self.created)

    @classmethod
    def from_rig(cls, name: str, rig: "Rig", locks: Iterable[str] = ()) -> "Scene":
        """The rig's current state as a new scene (created and modified now)."""
        state = rig.state()
        return cls(name, state, model_identity(rig, state), locks=tuple(locks))

    def renamed(self, name: str) -> "Scene":
        return replace(self, name=name, modified=utc_now())

    def updated(self, state: dict | None = None, model: ModelIdentity | None = None,
                locks: Iterable[str] | None = None) -> "Scene":
        """The same scene (same created time) with new content, modified now."""
        return replace(self, state=self.state if state is None else state,
                       model=self.model if model is None else model,
                       locks=self.locks if locks is None else tuple(locks), modified=utc_now())

    def to_dict(self) -> dict:
        return {"schema_version": self.schema_version, "name": self.name, "created": self.created,
                "modified": self.modified, "model": self.model.to_dict(), "locks": list(self.locks),
                "state": copy.deepcopy(self.state)}

    def to_json(self) -> bytes:
        return dump_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: object, origin: str = "scene") -> "Scene":
        """Validate and build; a SceneError starts with ``origin`` (e.g. the file) and names the field."""
        try:
            return cls._from_dict(data)
        except SceneError as exc:
            raise SceneError(f"{origin}: {exc}") from None

    @classmethod
    def _from_dict(cls, data: object) -> "Scene":
        if not isinstance(data, dict):
            raise SceneError(f"a scene is a JSON object, got {type(data).__name__}")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
                raise SceneError(f"schema_version {version} is newer than this Performer reads "
                                 f"({SCHEMA_VERSION}); update Performer")
            raise SceneError(f"schema_version must be {SCHEMA_VERSION}, got {version!r}")
        for key in ("name", "created", "model", "state"):
            if key not in data:
                raise SceneError(f"missing {key!r}")
        created = validate_time(data["created"], "created")
        modified = validate_time(data.get("modified", created), "modified")
        return cls(name=data["name"], state=data["state"],
                   model=ModelIdentity.from_dict(data["model"]), created=created, modified=modified,
                   locks=validate_locks(data.get("locks", [])))

    @classmethod
    def from_json(cls, data: bytes | str, origin: str = "scene") -> "Scene":
        try:
            parsed = parse_json(data)
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
            raise SceneError(f"{origin}: not valid JSON ({exc})") from None
        return cls.from_dict(parsed, origin)
