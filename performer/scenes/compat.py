"""Can a scene apply to the loaded model, and which of its bends?

- exact: the same export file (sha256);
- compatible: same ordered tensor names and shapes (a retrained or re-exported model): all applies;
- partial: another architecture: a bend applies where the tensor exists with the same shape.
  Latent values are fitted to the model's latent size, a selection beyond its tensors is reset.
``filter_state`` gives the state to hand to ``Rig.load_state`` and one line per thing left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from performer.scenes.identity import ModelIdentity, model_identity
from performer.scenes.scene import Scene, validate_state

if TYPE_CHECKING:
    from performer.rig import Rig

EXACT, COMPATIBLE, PARTIAL = "exact", "compatible", "partial"
LATENT_DEFAULTS = {"scale": 1.0, "offset": 0.0}


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "scalar"


@dataclass(frozen=True)
class Compatibility:
    """How a scene's model relates to the rig's, and what of its bend state applies."""

    level: str  # EXACT, COMPATIBLE or PARTIAL
    scene_model: ModelIdentity | None
    rig_model: ModelIdentity
    matching: tuple[str, ...]  # bent tensors that apply
    missing: tuple[str, ...]  # bent tensors the rig's model lacks
    mismatched: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]  # (name, scene shape, model shape)
    by_name_only: tuple[str, ...]  # bent tensors whose shape the scene does not record: applied by name
    latent_sizes: tuple[int, int]  # (scene, model)
    selected: int  # the scene's selected tensor index

    @property
    def applies_fully(self) -> bool:
        """True when every bend, latent value and the selection apply as saved."""
        return (not self.missing and not self.mismatched and self.latent_sizes[0] == self.latent_sizes[1]
                and self.selected < self.rig_model.tensor_count)

    def summary(self) -> str:
        """One line for people: the level and how much applies."""
        rig = self.rig_model
        if self.level == EXACT:
            return f"exact: made on this model file ({rig.file})"
        if self.level == COMPATIBLE:
            return (f"compatible: made on {self.scene_model.file}, same {rig.tensor_count} tensors as {rig.file} "
                    f"(names and shapes); all bends apply")
        made_on = (f"made on {self.scene_model.file} ({self.scene_model.tensor_count} tensors)"
                   if self.scene_model else "made on an unknown model")
        bent = len(self.matching) + len(self.missing) + len(self.mismatched)
        return (f"partial: {made_on}, this is {rig.file} ({rig.tensor_count}); "
                f"{len(self.matching)} of {bent} bent tensors apply")

    def report(self) -> list[str]:
        """One line per thing that does not apply as saved; empty when all does."""
        lines = [f"{name}: not in this model, bend left out" for name in self.missing]
        lines += [f"{name}: shape {_shape(s)} in the scene, {_shape(m)} in this model, bend left out"
                  for name, s, m in self.mismatched]
        lines += [f"{name}: shape not recorded in the scene, bend applied by name" for name in self.by_name_only]
        have, want = self.latent_sizes
        if have != want:
            lines.append(f"latent: the scene has {have} dimensions, this model {want}: "
                         + ("extra values left out" if have > want else "the others stay at their defaults"))
        if self.selected >= self.rig_model.tensor_count:
            lines.append(f"selected: tensor #{self.selected} is beyond this model's "
                         f"{self.rig_model.tensor_count} tensors, #0 selected instead")
        return lines


def _compare(state: dict, scene_model: ModelIdentity | None, rig: "Rig") -> Compatibility:
    rig_model = model_identity(rig)
    if scene_model is not None and scene_model.same_file(rig_model):
        level = EXACT
    elif scene_model is not None and scene_model.same_tensors(rig_model):
        level = COMPATIBLE
    else:
        level = PARTIAL
    shapes = {t.name: tuple(t.shape) for t in rig.tensors}
    recorded = scene_model.shapes if scene_model is not None else {}
    matching, missing, mismatched, by_name = [], [], [], []
    for name in state["tensors"]:
        if name not in shapes:
            missing.append(name)
        elif level != PARTIAL or tuple(recorded.get(name, shapes[name])) == shapes[name]:
            matching.append(name)
            if level == PARTIAL and name not in recorded:
                by_name.append(name)
        else:
            mismatched.append((name, tuple(recorded[name]), shapes[name]))
    latent = (len(state["latent"]["scale"]), rig.model.latent_size or 0)
    return Compatibility(level, scene_model, rig_model, tuple(matching), tuple(missing), tuple(mismatched),
                         tuple(by_name), latent, state["selected"])


def check_compatible(scene: Scene, rig: "Rig") -> Compatibility:
    """How ``scene`` relates to the rig's model (see the module doc)."""
    return _compare(scene.state, scene.model, rig)


def filter_state(state: dict | Scene, rig: "Rig", model: ModelIdentity | None = None) -> tuple[dict, list[str]]:
    """The part of ``state`` that applies to the rig's model, and one line per thing left out.

    ``state`` is a Scene (its model identity is used) or a plain state with the ``model`` it was
    made on (without one, tensors match by name only). The result is a new, complete state for
    ``Rig.load_state``: left-out tensors are absent, latent lists fit the model, the selection is
    within range; globals pass unchanged."""
    if isinstance(state, Scene):
        state, model = state.state, state.model
    state = validate_state(state)
    compat = _compare(state, model, rig)
    keep = set(compat.matching)
    state["tensors"] = {name: chain for name, chain in state["tensors"].items() if name in keep}
    size = compat.latent_sizes[1]
    for key, default in LATENT_DEFAULTS.items():
        values = state["latent"][key][:size]
        state["latent"][key] = values + [default] * (size - len(values))
    if state["selected"] >= len(rig.tensors):
        state["selected"] = 0
    return state, compat.report()
