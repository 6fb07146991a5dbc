"""Every genuine RAVE export: the command completes on the whole model, and the same seed gives
the same map (a fresh load and a fresh reference, measured again)."""

from __future__ import annotations

import json

import pytest

from performer.cli import main
from tests.conftest import ALL_EXPORTS

pytestmark = [pytest.mark.fixtures, pytest.mark.slow]

QUICK = ["--bends", "invert@100", "--seconds", "0.5"]  # the cheapest map that still measures everything


@pytest.mark.parametrize("name", ALL_EXPORTS)
def test_map_of_every_export_completes_and_repeats(name, rave_export, tmp_path, capsys):
    from performer.model import load_model
    from performer.sensitivity.build import build_map
    from performer.sensitivity.run import Settings

    path = rave_export(name)
    assert main(["sensitivity", str(path), "--json", "--cache-dir", str(tmp_path), *QUICK]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["complete"] and found["measured"] == found["total"] > 0
    for entry in found["tensors"].values():
        assert all(0.0 <= s < 1.0 for s in entry["scores"].values()) and entry["summary"]
        assert set(entry["bends"]) == {"invert@100"}
    heard = [n for n, e in found["tensors"].items() if e["summary"] != "almost inaudible"]
    assert heard, "no tensor of the export changes the sound"

    names = list(found["tensors"])
    spread = [names[0], names[len(names) // 2], names[-1]]
    again = build_map(load_model(path), Settings(bends=("invert@100",), seconds=0.5), spread, cache=None)
    for n in spread:
        assert again.tensors[n].bends == found["tensors"][n]["bends"], n
