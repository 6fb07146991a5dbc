"""Loading genuine RAVE exports of every kind, and the errors for files that are not."""

import pytest
import torch

from performer.errors import ModelLoadError
from performer.model import describe_tensors, load_model
from tests.conftest import ALL_EXPORTS

pytestmark = pytest.mark.fixtures

EXPECTED = {  # name: (in_ch, out_ch, latent, block multiple, streaming)
    "v2_small_c8": (1, 1, 8, 512, True),
    "v2_c16": (1, 1, 8, 2048, True),
    "raspberry": (1, 1, 8, 2048, True),
    "v1_c8": (1, 1, 8, 2048, True),
    "discrete_c8": (1, 1, 16, 1024, True),
    "v2_small_c8_nonstream": (1, 1, 8, 512, False),
    "v2_small_c8_stereo": (2, 2, 8, 512, True),
    "v2_small_c8_nt15": (1, 1, 8, 512, True),
}


@pytest.mark.parametrize("name", ALL_EXPORTS)
def test_every_export_loads_with_its_nn_tilde_interface(rave_export, name):
    model = load_model(rave_export(name))
    in_ch, out_ch, latent, multiple, streaming = EXPECTED[name]
    assert model.sample_rate == 44100
    assert set(model.methods) == {"encode", "decode", "forward"}
    assert (model.in_channels, model.out_channels, model.latent_size) == (in_ch, out_ch, latent)
    assert model.block_multiple == multiple
    assert model.is_streaming is streaming


def test_nn_tilde_15_export_has_no_get_sample_rate_and_falls_back_to_sr(rave_export):
    model = load_model(rave_export("v2_small_c8_nt15"))
    assert not model.module._c._has_method("get_sample_rate")
    assert model.sample_rate == 44100


@pytest.mark.parametrize("name", ALL_EXPORTS)
def test_every_export_runs_one_block_of_its_multiple(rave_export, name):
    model = load_model(rave_export(name))
    n = model.block_multiple * 2
    with torch.inference_mode():
        y = model.run("forward", torch.zeros(1, model.in_channels, n))
    assert tuple(y.shape) == (1, model.out_channels, n)


@pytest.mark.parametrize("name", ALL_EXPORTS)
def test_tensors_listed_in_model_order_with_kinds(rave_export, name):
    model = load_model(rave_export(name))
    tensors = describe_tensors(model.module)
    names = [t.name for t in tensors]
    params = [n for n, _ in model.module.named_parameters()]
    assert [n for n in names if n in set(params)] == params  # every parameter, in model order
    assert [t.index for t in tensors] == list(range(len(tensors)))
    for t in tensors:
        assert t.size == torch.Size(t.shape).numel()
        assert t.kind in {"conv", "conv_transpose", "pqmf", "norm", "linear", "recurrent", "embedding", "other"}
    assert {"pqmf.forward_conv.weight", "pqmf.inverse_conv.weight"} <= set(names)


def test_norm_parameters_and_running_stats_are_bendable(rave_export):
    tensors = describe_tensors(load_model(rave_export("raspberry")).module)
    norm = [t for t in tensors if t.kind == "norm"]
    assert {t.role for t in norm} == {"weight", "bias", "running_mean", "running_var"}
    transposed = [t for t in tensors if t.kind == "conv_transpose"]
    assert transposed and all(t.channel_axis == 1 for t in transposed)


def test_reset_caches_makes_runs_bitwise_repeatable(small_model):
    x = torch.randn(1, 1, 4096, generator=torch.Generator().manual_seed(1)) * 0.3

    def run():
        small_model.reset_caches()
        torch.manual_seed(7)
        with torch.inference_mode():
            return small_model.run("forward", x).clone()

    first = run()
    with torch.inference_mode():
        small_model.run("forward", x)  # leaves history in the caches
    assert torch.equal(run(), first)


def test_sha256_identifies_the_file(small_model, small_model_path):
    import hashlib

    assert small_model.sha256 == hashlib.sha256(small_model_path.read_bytes()).hexdigest()


# -- errors ---------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match="model file not found"):
        load_model(tmp_path / "nope.ts")


def test_directory(tmp_path):
    with pytest.raises(ModelLoadError, match="is a directory"):
        load_model(tmp_path)


@pytest.mark.parametrize("content", [b"", b"\x00" * 10, b"not a model at all" * 100])
def test_not_torchscript(tmp_path, content):
    path = tmp_path / "junk.ts"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match="not a TorchScript archive.*rave export"):
        load_model(path)


def test_training_checkpoint_is_named_as_such(tmp_path):
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(3)}}, path)
    with pytest.raises(ModelLoadError, match="checkpoint.*not a TorchScript export"):
        load_model(path)


def test_torchscript_without_nn_tilde_methods(tmp_path):
    class Plain(torch.nn.Module):
        def forward(self, x):
            return x * 2

    path = tmp_path / "plain.ts"
    torch.jit.script(Plain()).save(str(path))
    with pytest.raises(ModelLoadError, match="lacks the nn~ methods.*forward_params|lacks the nn~ methods"):
        load_model(path)


def test_channel_mismatch_in_metadata(tmp_path):
    class Odd(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("encode_params", torch.tensor([1, 1, 8, 512]))
            self.register_buffer("decode_params", torch.tensor([4, 512, 1, 1]))
            self.sr = 44100

        @torch.jit.export
        def encode(self, x):
            return x[:, :, ::512].repeat(1, 8, 1)

        @torch.jit.export
        def decode(self, z):
            return z[:, :1].repeat_interleave(512, -1)

        def forward(self, x):
            return x

    path = tmp_path / "odd.ts"
    torch.jit.script(Odd()).save(str(path))
    with pytest.raises(ModelLoadError, match="channel mismatch.*encode gives 8 latent channels but decode takes 4"):
        load_model(path)


def test_latent_labels_come_from_the_export_or_are_numbered(small_model):
    labels = small_model.latent_labels
    assert len(labels) == small_model.latent_size
    assert all(isinstance(x, str) and x and not x.startswith("(signal)") for x in labels)
