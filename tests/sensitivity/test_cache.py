"""Maps cached per model file and settings: partial maps kept and resumed, stale ones ignored."""

from __future__ import annotations

import json

import pytest

from performer.sensitivity.build import build_map
from performer.sensitivity.cache import MapCache
from performer.sensitivity.run import Settings

QUICK = Settings(bends=("noise@100",), seconds=0.5)


@pytest.fixture(scope="module")
def model():
    from performer.model import load_model

    return load_model(None)


def measured(model, cache, tensors, settings=QUICK, refresh=False):
    names = []
    found = build_map(model, settings, tensors, cache=cache, refresh=refresh,
                      progress=lambda p: p.result and names.append(p.result.name))
    return found, names


def test_partial_maps_are_kept_and_resumed(model, tmp_path):
    cache = MapCache(tmp_path)
    found, names = measured(model, cache, ["decoder.harmonic_head.bias", "#2"])
    assert names == ["encoder.inlet.bias", "decoder.harmonic_head.bias"]  # model order
    assert not found.complete and len(found.order) == len(found.missing) + 2
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1 and not list(tmp_path.glob(".*.tmp"))
    data = json.loads(files[0].read_text())
    assert data["model"]["sha256"] == model.sha256 and data["measured"] == 2 and data["complete"] is False

    again, names = measured(model, cache, ["#1", "#2", "decoder.harmonic_head.bias"])
    assert names == ["encoder.inlet.weight"]  # the other two came from the cache
    assert again.tensors["encoder.inlet.bias"].bends == found.tensors["encoder.inlet.bias"].bends

    fresh, names = measured(model, cache, ["#2"], refresh=True)
    assert names == ["encoder.inlet.bias"]
    assert fresh.tensors["encoder.inlet.bias"].bends == found.tensors["encoder.inlet.bias"].bends  # seeded


def test_other_settings_damage_or_another_model_miss_the_cache(model, tmp_path, caplog):
    cache = MapCache(tmp_path)
    found, _ = measured(model, cache, ["#2"])
    info = dict(found.model)
    assert cache.load(info, QUICK) is not None
    assert cache.load(info, Settings(bends=("invert@100",), seconds=0.5)) is None
    assert cache.load({**info, "tensor_signature": "0" * 64}, QUICK) is None
    path = cache.path(info, QUICK)
    path.write_text(path.read_text()[:100])
    assert cache.load(info, QUICK) is None
    assert "ignoring the cached sensitivity map" in caplog.text


def test_no_cache_writes_nothing(model, tmp_path):
    found, names = measured(model, None, ["#2"])
    assert names == ["encoder.inlet.bias"] and not list(tmp_path.iterdir())
    assert found.to_dict(details=False)["tensors"]["encoder.inlet.bias"].keys() >= {"scores", "summary", "strongest"}
