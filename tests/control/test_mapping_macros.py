"""Macros in mapping files: ``[[macros]]`` parsed and checked up front, defined on the modulation
when the mappings load (with or without MIDI), and a bad one reported with its file and entry
while everything else loads."""

from __future__ import annotations

import tomllib

import pytest

from performer.control.learn import to_toml
from performer.control.mapping import (MacroMapping, MacroTargetMapping, MappingError, load_mapping,
                                       parse_mapping)
from performer.control.surfaces import ControlSurfaces, SurfaceOptions

HEAD = "schema_version = 1\nname = 'x'\n"
NANO = HEAD + """
[[controls]]
match = { type = "cc", channel = 1, number = 7 }
address = "macro/0"

[[macros]]
macro = 0
label = "wreck"
targets = [
    { address = "#3/0/amount", min = 0.2, max = 0.9, curve = "s" },
    { address = "output/gain", min = 0, max = -12 },   # louder bends, lower gain
]

[[macros]]
macro = 1
[[macros.targets]]
address = "mix"
curve = "exponential"
"""


def test_macros_parse_with_ranges_curves_and_labels_and_round_trip():
    mapping = parse_mapping(tomllib.loads(NANO), "nano")
    assert mapping.macros == [
        MacroMapping(0, (MacroTargetMapping("#3/0/amount", 0.2, 0.9, "s"),
                         MacroTargetMapping("output/gain", 0.0, -12.0, "linear")), label="wreck"),
        MacroMapping(1, (MacroTargetMapping("mix", None, None, "exp"),))]
    assert parse_mapping(tomllib.loads(to_toml(mapping)), "again").macros == mapping.macros


def test_the_macro_limits_are_the_modulations():
    from performer.control import mapping
    from performer.modulation import macros

    assert (mapping.MACROS, mapping.MAX_TARGETS) == (macros.MACROS, macros.MAX_TARGETS)


@pytest.mark.parametrize("text, expected", [
    ("[[macros]]\nmacro = 8\ntargets = [{ address = 'mix' }]",
     "macros[0]: macro must be an integer 0..7 (macro/0 .. macro/7), got 8"),
    ("[[macros]]\ntargets = [{ address = 'mix' }]", "macros[0]: macro must be an integer 0..7"),
    ("[[macros]]\nmacro = 0", "macros[0]: targets must be a non-empty array of tables"),
    ("[[macros]]\nmacro = 0\ntargets = []", "macros[0]: targets must be a non-empty array of tables"),
    ("[[macros]]\nmacro = 0\ntargets = [" + ", ".join(["{ address = 'mix' }"] * 9) + "]",
     "macros[0]: a macro takes up to 8 targets, got 9"),
    ("[[macros]]\nmacro = 0\ntargets = [{ address = 'mix' }, { min = 0 }]", "macros[0].targets[1]: missing address"),
    ("[[macros]]\nmacro = 0\ntargets = [{ address = 'mix', curve = 'cubic' }]",
     "macros[0].targets[0]: curve must be one of linear, exp, log, s (or exponential, logarithmic); got 'cubic'"),
    ("[[macros]]\nmacro = 0\ntargets = [{ address = 'mix', max = 'full' }]",
     "macros[0].targets[0]: max must be a number, got 'full'"),
    ("[[macros]]\nmacro = 0\ntargets = [{ adress = 'mix' }]",
     "macros[0].targets[0]: unknown key(s) ['adress']; valid: ['address', 'curve', 'max', 'min']"),
    ("[[macros]]\nmacro = 0\ntarget = [{ address = 'mix' }]", "macros[0]: unknown key(s) ['target']"),
    ("[[macros]]\nmacro = 2\ntargets = [{ address = 'mix' }]\n[[macros]]\nmacro = 2\ntargets = [{ address = 'mix' }]",
     "macros[1] defines macro/2 again (macros[0] did): one entry per macro"),
    ("macros = 3", "macros must be an array of tables ([[macros]])"),
])
def test_bad_macros_name_file_entry_and_problem(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(HEAD + text)
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert str(err.value).startswith(f"{path}: ")
    assert expected in str(err.value)


# -- defined when the mappings load (genuine model) ----------------------------------------------
@pytest.fixture
def show_parts(small_model):
    from performer.modulation import Modulation, Tempo
    from performer.rig import Rig

    rig = Rig(small_model)
    mod = Modulation(rig, Tempo(bpm=120.0, now=lambda: 0.0))
    yield rig, mod
    mod.close()


def surfaces(rig, mod, *paths, reports=None):
    return ControlSurfaces(rig, SurfaceOptions(mappings=list(paths), shipped=False, midi=False, osc=False),
                           report=(reports.append if reports is not None else print),
                           define_macro=None if mod is None else mod.define_macro)


@pytest.mark.fixtures
def test_a_mappings_macros_are_defined_when_it_loads(tmp_path, show_parts):
    rig, mod = show_parts
    (tmp_path / "nano.toml").write_text(NANO)
    reports: list[str] = []
    lines = surfaces(rig, mod, tmp_path / "nano.toml", reports=reports).start()
    assert reports == [] and "macros from mappings: macro/0 'wreck', macro/1" in lines
    tensor = rig.tensors[3].name
    assert rig.get("macro/0/target/0") == f"{tensor}/0/amount" and rig.get("macro/0/target/0/curve") == "s"
    assert rig.get("macro/1/target/0/curve") == "exp" and rig.get("macro/1/target/0/max") == 1.0
    rig.set("macro/0", 1.0, source="midi")  # what the mapped fader does
    assert rig.get(f"{tensor}/0/amount") == pytest.approx(0.9) and rig.get("output/gain") == -12.0


@pytest.mark.fixtures
def test_a_macro_that_does_not_fit_the_model_is_reported_and_loses_nothing(tmp_path, show_parts):
    rig, mod = show_parts
    (tmp_path / "a.toml").write_text(NANO)
    (tmp_path / "b.toml").write_text(HEAD + """
[[macros]]
macro = 0
targets = [{ address = "mix" }, { address = "output/gain", max = 40 }]

[[macros]]
macro = 2
targets = [{ address = "input/gain", min = -6, max = 6 }]
""")
    reports: list[str] = []
    surfaces(rig, mod, tmp_path, reports=reports).start()
    assert reports == [f"{tmp_path / 'b.toml'}: macros[0] (macro/0): macro/0/target/1/max must be in range -60..12 "
                       "(the range of output/gain), got 40; macro/0 left as it was"]
    assert rig.get("macro/0/target/1") == "output/gain" and rig.get("macro/0/target/1/max") == -12.0  # a.toml's
    assert rig.get("macro/2/target/0") == "input/gain"  # the rest of b.toml is defined


@pytest.mark.fixtures
def test_a_later_file_replaces_a_macro_and_says_so_and_without_modulation_nothing_is_lost(tmp_path, show_parts):
    rig, mod = show_parts
    (tmp_path / "a.toml").write_text(NANO)
    (tmp_path / "b.toml").write_text(HEAD + "[[macros]]\nmacro = 1\ntargets = [{ address = 'input/gain' }]\n")
    reports: list[str] = []
    surfaces(rig, mod, tmp_path, reports=reports).start()
    assert reports == [f"{tmp_path / 'b.toml'}: macros[0] (macro/1): replaces the definition from "
                       f"{tmp_path / 'a.toml'}"]
    assert rig.get("macro/1/target/0") == "input/gain"
    reports.clear()
    surfaces(rig, None, tmp_path / "b.toml", reports=reports).start()
    assert reports == [f"{tmp_path / 'b.toml'}: macros[0] (macro/1): not defined: this show has no modulation"]
