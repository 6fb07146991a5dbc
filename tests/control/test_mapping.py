"""Mapping files: the shipped profiles load and bind to a real model; bad files say where and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from performer.control.mapping import MappingError, load_mapping, load_mappings, parse_mapping
from performer.rig import Rig

REPO = Path(__file__).resolve().parents[2]
PROFILES = sorted((REPO / "mappings").glob("*.toml"))
GOOD = """
schema_version = 1
name = "Test"
device = "nano"
[[controls]]
match = { type = "cc", channel = 1, number = 16 }
address = "mix"
"""


def test_five_profiles_ship():
    names = {load_mapping(p).name for p in PROFILES}
    assert {"Korg nanoKONTROL2", "Novation Launch Control XL", "Akai MIDImix", "Arturia BeatStep",
            "Generic 8 knobs"} <= names


@pytest.mark.fixtures
@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_profile_addresses_exist_on_a_real_model(path, small_model):
    rig = Rig(small_model)
    mapping = load_mapping(path)
    for entry in [*mapping.controls, *mapping.outputs]:
        rig.get(entry.address)  # raises AddressError for an address this model lacks
    assert mapping.controls


def test_device_pattern_matches_port_names():
    mapping = parse_mapping(__import__("tomllib").loads(GOOD), "t")
    assert mapping.matches_port("nanoKONTROL2:nanoKONTROL2 _ CTRL 20:0")
    assert not mapping.matches_port("Launch Control XL")


@pytest.mark.parametrize("text, expected", [
    ("schema_version = 1\nname = 'x'\n[[controls]]\nmatch = { type = 'cc', channel = 17, number = 1 }\naddress = 'mix'",
     "controls[0].match: channel must be an integer 1..16"),
    ("schema_version = 1\nname = 'x'\n[[controls]]\nmatch = { type = 'cc', channel = 1, number = 200 }\naddress = 'mix'",
     "controls[0].match: cc needs number 0..127"),
    ("schema_version = 1\nname = 'x'\n[[controls]]\nmatch = { type = 'knob', channel = 1 }\naddress = 'mix'",
     "controls[0].match: type must be one of"),
    ("schema_version = 1\nname = 'x'\n[[controls]]\nmatch = { type = 'cc', number = 1 }\naddres = 'mix'",
     "controls[0]: unknown key(s) ['addres']"),
    ("schema_version = 1\nname = 'x'\n[[controls]]\nmatch = { type = 'cc', number = 1 }\naddress = 'mix'\ncurve = 'cubic'",
     "controls[0]: curve must be one of linear, exponential, logarithmic"),
    ("schema_version = 1\nname = 'x'\n[[controls]]\nmatch = { type = 'note', number = 1 }\naddress = 'mix'\nmode = 'relative'",
     "controls[0]: mode = \"relative\" needs a cc, nrpn or rpn match"),
    ("schema_version = 1\nname = 'x'\n[[controls]]\nmatch = { type = 'cc', number = 1 }\naddress = 'mix'\n"
     "[[controls]]\nmatch = { type = 'cc', number = 1 }\naddress = 'bypass'",
     "controls[1] matches the same message as controls[0] (cc 1 on channel 1)"),
    ("schema_version = 2\nname = 'x'", "schema_version must be 1, got 2"),
    ("name = 'x'", "schema_version must be 1, got None"),
    ("schema_version = 1", "missing name"),
    ("schema_version = 1\nname = 'x'\ndevice = '(['", "device pattern '([' is not a valid regular expression"),
    ("schema_version = 1\nname = 'x'\n[[outputs]]\naddress = 'bypass'\nsend = { type = 'program' }",
     "outputs[0].send: feedback cannot be a program change"),
    ("schema_version = 1\nname = 'x'\ncontrols = 3", "controls must be an array of tables"),
])
def test_bad_entries_name_file_entry_and_problem(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_not_toml_and_missing_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("schema_version = = 1")
    with pytest.raises(MappingError, match="broken.toml: not valid TOML"):
        load_mapping(path)
    with pytest.raises(MappingError, match="no such mapping file"):
        load_mapping(tmp_path / "absent.toml")


def test_one_bad_file_does_not_stop_the_others(tmp_path):
    (tmp_path / "a_good.toml").write_text(GOOD)
    (tmp_path / "b_bad.toml").write_text("schema_version = 1\nname = 'x'\n[[controls]]\nmatch = 3\naddress = 'mix'")
    good, bad = load_mappings([tmp_path])
    assert [m.name for m in good] == ["Test"]
    assert len(bad) == 1 and "b_bad.toml: controls[0].match: missing or not a table" in str(bad[0])


def test_serve_opens_every_shipped_controller_by_default():
    from performer.control.surfaces import default_midi_inputs

    mappings, errors = load_mappings([REPO / "mappings"])
    assert not errors
    assert default_midi_inputs(mappings) == ["Arturia BeatStep", "Launch Control XL", "MIDI Mix", "nanoKONTROL2"]
