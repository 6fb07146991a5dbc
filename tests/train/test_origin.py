"""An export says which architecture it is: the bench's random reference and bar depend on it."""

from dataclasses import replace
from types import SimpleNamespace

import torch

from performer.model import load_model
from performer.model.loader import MethodSpec
from performer.train.export import export_model
from performer.train.model import LIVE, PRESETS, build_model
from performer.train.origin import architecture, recorded_origin
from performer.train.quality import BARS, bar_for, model_block

TINY_LIVE = replace(LIVE, live_channels=8, harmonics=8, noise_bands=4, learned_latents=2)


def test_an_export_records_its_config_and_seed(tmp_path):
    torch.manual_seed(0)
    model = load_model(export_model(build_model(TINY_LIVE), tmp_path / "live.ts", seed=7))
    assert recorded_origin(model) == (TINY_LIVE, 7)
    assert architecture(model) == "live"
    assert model.sample_rate == 48000 and model_block(model) == 128
    assert bar_for(model) == BARS["live"] and bar_for(model)["rtf"] == 0.3


def fake(labels, encode_ratio, latent):
    module = SimpleNamespace(encode_output_labels=labels)
    return SimpleNamespace(module=module, methods={"encode": MethodSpec("encode", 1, 1, latent, encode_ratio)})


def test_exports_from_before_the_record_are_matched_by_hop():
    labels = ["(signal) pitch", "(signal) periodicity", "(signal) loudness"]
    studio, live = PRESETS["studio"], PRESETS["live"]
    assert recorded_origin(fake(labels, 1024, studio.latent_size)) == (studio, 0)
    assert recorded_origin(fake(labels, 128, live.latent_size)) == (live, 0)
    assert recorded_origin(fake(labels, 512, 11)) is None


def test_other_models_are_not_performers_and_get_the_studio_bar():
    rave = fake(None, 2048, 8)
    assert recorded_origin(rave) is None and architecture(rave) is None
    assert bar_for(rave) == BARS["studio"]
