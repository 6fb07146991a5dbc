"""Scenes without a model (fast, no torch): states whose every slot carries a version number,
so a reader can tell a complete file of one version from a mix or a truncation."""

from __future__ import annotations

from performer.scenes import ModelIdentity, Scene

IDENTITY = ModelIdentity(file="fake.ts", sha256="a" * 64, tensor_signature="b" * 64, tensor_count=64,
                         shapes={f"t{i}": (8, 4, 3) for i in range(64)})


def make_state(version: int = 0, tensors: int = 3, slots: int = 2) -> dict:
    slot = {"transform": "noise", "amount": 0.5, "percent": 1.0, "mode": "random", "seed": version,
            "bypass": False, "params": {"noise": {"sigma": 1.0}}}
    return {"tensors": {f"t{i}": [dict(slot) for _ in range(slots)] for i in range(tensors)},
            "latent": {"scale": [1.0] * 8, "offset": [float(version % 8)] + [0.0] * 7},
            "globals": {"mix": 1.0, "input/gain": 0.0, "output/gain": 0.0, "bypass": 0.0, "record": 0.0},
            "selected": 0}


def make_scene(name: str, version: int = 0, tensors: int = 3, slots: int = 2, **kw) -> Scene:
    return Scene(name, make_state(version, tensors, slots), IDENTITY, **kw)


def version_of(state: dict) -> int:
    """The version a state was made with; AssertionError if its slots disagree (a torn write)."""
    seeds = {slot["seed"] for chain in state["tensors"].values() for slot in chain}
    assert len(seeds) == 1, f"slots of several versions in one state: {sorted(seeds)}"
    version = seeds.pop()
    assert state["latent"]["offset"][0] == version % 8
    return version
