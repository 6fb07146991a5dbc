"""Scenes: named bend states saved as files, the model identity that says where they apply, and
the autosave of the live state.

Store, autosave and CLI never import torch: ``performer scenes list`` starts fast.
"""

from performer.scenes.autosave import Autosave, LiveState, load_last
from performer.scenes.compat import COMPATIBLE, EXACT, PARTIAL, Compatibility, check_compatible, filter_state
from performer.scenes.errors import SceneError
from performer.scenes.identity import ModelIdentity, file_sha256, model_identity, tensor_signature
from performer.scenes.names import file_name, validate_name
from performer.scenes.paths import default_autosave_path, default_data_dir, default_scenes_dir
from performer.scenes.scene import SCHEMA_VERSION, Scene, utc_now, validate_state
from performer.scenes.store import Listing, SceneInfo, SceneStore, read_scene_file

__all__ = [
    "COMPATIBLE", "EXACT", "PARTIAL", "SCHEMA_VERSION", "Autosave", "Compatibility", "Listing", "LiveState",
    "ModelIdentity", "Scene", "SceneError", "SceneInfo", "SceneStore", "check_compatible", "default_autosave_path",
    "default_data_dir", "default_scenes_dir", "file_name", "file_sha256", "filter_state", "load_last",
    "model_identity", "read_scene_file", "tensor_signature", "utc_now", "validate_name", "validate_state",
]
