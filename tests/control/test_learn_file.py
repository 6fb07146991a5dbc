"""learned.toml: written with a TOML writer (any Unicode, the performer's comments kept)."""

import tomllib
from pathlib import Path

from performer.control.learn import save_learned, to_toml
from performer.control.mapping import ControlMapping, Mapping, Match, OutputMapping, load_mapping, parse_mapping

ODD = "Knöb 🎛️ \U0001d11e \"quoted\" \\ back\\slash\ttab"  # outside the BMP, quotes, escapes


def test_names_labels_and_devices_outside_the_bmp_read_back(tmp_path):
    mapping = Mapping(name=ODD, device="Launch 🚀.*", description="line one\nline two",
                      controls=[ControlMapping(Match("cc", 1, 20), "mix", label=ODD, min=-1, max=2.5, invert=True)],
                      outputs=[OutputMapping("mix", Match("cc", 1, 20), label="🔊")])
    again = parse_mapping(tomllib.loads(to_toml(mapping)), "roundtrip")
    assert (again.name, again.device, again.description) == (ODD, "Launch 🚀.*", "line one\nline two")
    assert again.controls == mapping.controls and again.outputs == mapping.outputs

    path = tmp_path / "learned.toml"
    save_learned(path, ControlMapping(Match("note", 2, 60), "bypass", label="🥁", button="toggle"))
    assert load_mapping(path).controls[0].label == "🥁"


def test_saving_keeps_the_files_comments_and_replaces_the_same_control(tmp_path):
    path = tmp_path / "learned.toml"
    path.write_text(
        "# my BeatStep, set up before the gig\n"
        "schema_version = 1\nname = \"Learned\"\n\n"
        "[[controls]]\n# the big knob\nmatch = { type = \"cc\", channel = 1, number = 7 }\n"
        "address = \"mix\"  # dry/wet\n\n"
        "[[controls]]\nmatch = { type = \"cc\", channel = 1, number = 8 }\naddress = \"output/gain\"\n",
        encoding="utf-8")
    saved = save_learned(path, ControlMapping(Match("cc", 1, 8), "input/gain", min=-60.0, max=24.0))
    text = path.read_text(encoding="utf-8")
    for comment in ("# my BeatStep, set up before the gig", "# the big knob", "# dry/wet"):
        assert comment in text
    assert [(c.match.number, c.address) for c in saved.controls] == [(7, "mix"), (8, "input/gain")]
    assert saved.controls[1].min == -60.0 and load_mapping(path) == saved
    assert (tmp_path / "learned.toml.prev").exists()  # the atomic writer keeps the previous file


def test_the_shipped_profiles_round_trip():
    for path in sorted(Path("mappings").glob("*.toml")):
        m = load_mapping(path)
        again = parse_mapping(tomllib.loads(to_toml(m)), "roundtrip")
        assert (again.controls, again.outputs, again.name, again.device) == (m.controls, m.outputs, m.name, m.device)
