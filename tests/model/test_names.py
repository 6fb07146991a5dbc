"""Embedded models by name: `performer serve studio` means models/studio.ts."""

from pathlib import Path

import pytest

from performer.errors import ModelLoadError
from performer.model import loader
from performer.model.loader import model_names, resolve_model


@pytest.fixture
def models(tmp_path, monkeypatch):
    """A models/ folder holding default.ts and studio.ts (resolution only looks at the names)."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("default", "studio"):
        (folder / f"{name}.ts").write_bytes(b"")
    monkeypatch.setattr(loader, "MODELS_DIR", folder)
    monkeypatch.setattr(loader, "DEFAULT_MODEL", folder / "default.ts")
    return folder


def test_a_bare_name_is_the_embedded_model_of_that_name(models):
    assert resolve_model("studio") == models / "studio.ts"
    assert resolve_model("default") == models / "default.ts"
    assert resolve_model(None) == models / "default.ts"
    assert model_names() == ["default", "studio"]


def test_files_stay_files(models, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "studio").write_bytes(b"")  # a file in the working folder wins over the name
    assert resolve_model("studio") == Path("studio")
    assert resolve_model("other.ts") == Path("other.ts")  # missing: load_model says "not found"
    assert resolve_model("sub/studio") == Path("sub/studio")


def test_an_unknown_name_lists_the_embedded_models(models):
    with pytest.raises(ModelLoadError, match=r"no model named 'live'.*default, studio"):
        resolve_model("live")


def test_the_default_model_missing_says_how_to_train_one(models):
    (models / "default.ts").unlink()
    with pytest.raises(ModelLoadError, match="performer train RUN"):
        resolve_model(None)
