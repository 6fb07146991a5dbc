"""`performer sensitivity` and `performer layers --sensitivity`."""

from __future__ import annotations

import json

import pytest

from performer.cli import main

QUICK = ["--bends", "invert@100", "--seconds", "0.5"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_json_map_of_a_few_tensors(capsys):
    assert main(["sensitivity", "--json", "--tensors", "harmonic_head.bias,#0", *QUICK]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["tensors"]) == ["encoder.pqmf.conv.weight", "decoder.harmonic_head.bias"]
    entry = data["tensors"]["decoder.harmonic_head.bias"]
    assert set(entry["scores"]) == {"pitch", "loudness", "brightness", "noise", "timing", "timbre"}
    assert list(entry["bends"]) == ["invert@100"] and isinstance(entry["summary"], str)
    assert data["settings"] == {"bends": ["invert@100"], "seconds": 0.5, "seed": 0, "version": 1}
    assert data["measured"] == 2 and data["total"] == 80 and data["complete"] is False


def test_table_and_layers_columns_read_the_cache(capsys):
    assert main(["sensitivity", "--quiet", "--tensors", "#62", "--sort", "loudness", *QUICK]) == 0
    out = capsys.readouterr().out
    assert "1 of 80 tensors measured" in out and " 62  decoder.harmonic_head.weight" in out
    assert "pitch   loud bright  noise timing timbre  summary" in out
    # the rest of the map as if measured before (copies of #62), so layers only reads the cache
    from performer.model import load_model
    from performer.sensitivity.cache import MapCache
    from performer.sensitivity.run import Settings, TensorResult

    cache, settings = MapCache(), Settings(bends=("invert@100",), seconds=0.5)
    model = load_model(None)
    from performer.model.tensors import describe_tensors
    from performer.sensitivity.cache import model_info

    found = cache.load(model_info(model, describe_tensors(model.module)), settings)
    measured = found.tensors["decoder.harmonic_head.weight"]
    for index, name in enumerate(found.order):
        found.tensors.setdefault(name, TensorResult(index, name, {"invert@100": {"loudness_db": 0.0}}))
    cache.save(found)
    assert main(["layers", "--sensitivity", *QUICK]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line[:3].strip().isdigit() and "  " in line[:5]]
    assert len(rows) == 80 and "0.00   0.00   0.00   0.00   0.00   0.00  almost inaudible" in rows[0]
    assert rows[62].endswith(measured.summary) and "conv_transpose" in rows[38]
    assert main(["layers", "--sensitivity", "--json", *QUICK]) == 0
    tensors = json.loads(capsys.readouterr().out)["tensors"]
    assert tensors[62]["sensitivity"] == {"scores": measured.scores, "summary": measured.summary}


def test_errors_name_what_is_valid(capsys):
    assert main(["sensitivity", "--tensors", "no_such_layer", *QUICK]) == 2
    assert "no tensor matches 'no_such_layer'" in capsys.readouterr().err
    assert main(["sensitivity", "--bends", "wobble"]) == 2
    assert "unknown transform 'wobble'" in capsys.readouterr().err
    assert main(["sensitivity", "--seconds", "0.1"]) == 2
    assert "--seconds must be in range 0.5..60" in capsys.readouterr().err
