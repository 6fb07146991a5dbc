"""The blend transform and its shared sources, on two genuine RAVE v2_small exports of one config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from performer.bending.bank import TensorBank
from performer.bending.blend import BlendSources
from performer.bending.chain import Slot
from performer.errors import ValueRangeError
from performer.model import describe_tensors, load_model
from performer.model.loader import DEFAULT_MODEL
from performer.rig import Rig
from tests.conftest import tone

pytestmark = pytest.mark.fixtures


@pytest.fixture(scope="module")
def partner_path(rave_export):
    return rave_export("v2_small_c8_seed1")


@pytest.fixture(scope="module")
def audio():
    return tone(8192 / 44100, 44100)  # 16 frames of v2_small


def blend_every_tensor(rig: Rig, source, **fields) -> None:
    for t in rig.tensors:
        rig.set(f"#{t.index}/0/transform", "blend")
        rig.set(f"#{t.index}/0/source", str(source))
        for name, value in fields.items():
            rig.set(f"#{t.index}/0/{name}", value)


def blend_slot(source, **kw) -> Slot:
    return Slot(transform="blend", params={"blend": {"source": str(source)}}, **kw)


def test_the_two_fixtures_share_an_architecture_but_not_their_weights(small_model_path, partner_path):
    a, b = describe_tensors(load_model(small_model_path).module), describe_tensors(load_model(partner_path).module)
    assert [(t.name, t.shape) for t in a] == [(t.name, t.shape) for t in b]
    assert sum(x.std != y.std for x, y in zip(a, b)) > len(a) // 2


def model_output(rig: Rig, audio: np.ndarray) -> torch.Tensor:
    """The model's own output (bends installed, fresh caches, seed 0): what the engine plays
    before its dry/wet, safety and alignment stages, which depend on a measured delay."""
    rig.compute_pending()
    rig.install_pending()
    rig.model.reset_caches()
    torch.manual_seed(0)
    with torch.inference_mode():
        return rig.model.run("forward", torch.from_numpy(audio)[None]).clone()


def test_amount_0_and_1_give_each_models_output_bitwise(small_model_path, partner_path, audio):
    own = model_output(Rig(load_model(small_model_path)), audio)
    other = model_output(Rig(load_model(partner_path)), audio)
    assert not torch.equal(own, other)

    rig = Rig(load_model(small_model_path))
    blend_every_tensor(rig, partner_path, amount=1.0)
    assert torch.equal(model_output(rig, audio), other)
    for t in rig.tensors:  # amount 0: the slot does nothing, the original storage is back
        rig.set(f"#{t.index}/0/amount", 0.0)
    assert torch.equal(model_output(rig, audio), own)
    rig.set("#5/0/amount", 0.5)  # in between: neither
    assert not torch.equal(model_output(rig, audio), own)


def test_amount_is_a_crossfade_in_weight_space(small_model, partner_path):
    infos = describe_tensors(small_model.module)
    bank = TensorBank(small_model.module, infos, sources=BlendSources())
    index = max(range(len(infos)), key=lambda i: infos[i].size)
    ours = bank.original(index).clone()
    theirs = bank.sources.load(partner_path)[infos[index].name]
    out = bank.compute(index, [blend_slot(partner_path, amount=0.25)])
    assert torch.equal(out, torch.lerp(ours, theirs, 0.25))
    assert torch.equal(bank.original(index), ours)  # the original is never written


@pytest.mark.parametrize("mode", ["random", "spread", "channels"])
def test_masks_take_each_element_from_one_model(small_model, partner_path, mode):
    infos = describe_tensors(small_model.module)
    bank = TensorBank(small_model.module, infos, sources=BlendSources())
    index = max(range(len(infos)), key=lambda i: infos[i].size)
    ours, theirs = bank.original(index), bank.sources.load(partner_path)[infos[index].name]
    out = bank.compute(index, [blend_slot(partner_path, percent=0.3, mode=mode, seed=5)])
    from_them = out == theirs
    assert bool(((out == ours) | from_them).all())
    share = float(from_them.float().mean())
    assert 0.2 < share < 0.4
    if mode == "channels":  # whole output channels, nothing in between
        per_channel = from_them.flatten(1).float().mean(1)
        assert bool(((per_channel == 0) | (per_channel == 1)).all())
    # nested: a higher percent keeps every element the lower one took
    more = bank.compute(index, [blend_slot(partner_path, percent=0.6, mode=mode, seed=5)])
    assert bool((more == theirs)[from_them].all())


def test_a_source_is_loaded_once_and_its_tensors_shared(small_model_path, partner_path, monkeypatch):
    import performer.model.loader as loader

    loads = []
    real = loader.load_model
    monkeypatch.setattr(loader, "load_model", lambda path=None: loads.append(path) or real(path))
    sources = BlendSources()
    banks = []
    for _ in range(2):  # two rigs' worth of banks, every tensor blended, two slots each
        model = load_model(small_model_path)
        infos = describe_tensors(model.module)
        bank = TensorBank(model.module, infos, sources=sources)
        for i in range(len(infos)):
            bank.compute(i, [blend_slot(partner_path, amount=0.5), blend_slot(partner_path, amount=0.5)])
        banks.append((bank, infos))
    assert len(loads) == 1
    held = sources.load(partner_path)
    expected = sum(t.numel() * t.element_size() for t in held.values())
    assert sources.nbytes(partner_path) == sources.nbytes() == expected
    for bank, infos in banks:
        for info in infos:  # the contexts hand out the one held tensor, not copies
            assert bank._contexts[info.index].partner(str(partner_path)) is held[info.name]


def test_tensors_without_a_partner_are_listed_and_left_alone(small_model_path, rave_export):
    other_arch = rave_export("v2_c16")  # same names, other shapes
    sources = BlendSources()
    model = load_model(small_model_path)
    infos = describe_tensors(model.module)
    pairing = sources.pairing(other_arch, {t.name: t.shape for t in infos})
    assert pairing.matched and pairing.mismatched and pairing.missing  # some of each
    assert len(pairing.matched) + len(pairing.unpaired()) == len(infos)
    assert any("left alone" in line for line in pairing.lines())
    bank = TensorBank(model.module, infos, sources=sources)
    for name in pairing.unpaired():
        index = next(t.index for t in infos if t.name == name)
        assert torch.equal(bank.compute(index, [blend_slot(other_arch)]), bank.original(index))
    # another architecture altogether: no names in common
    default = sources.pairing(DEFAULT_MODEL, {t.name: t.shape for t in infos})
    assert not default.matched and len(default.missing) == len(infos)


def test_source_must_be_an_existing_file(small_model, tmp_path):
    rig = Rig(small_model)
    rig.set("#0/0/transform", "blend")
    with pytest.raises(ValueRangeError, match="no such file"):
        rig.set("#0/0/source", str(tmp_path / "missing.ts"))
    with pytest.raises(ValueRangeError, match="file path"):
        rig.set("#0/0/source", 3)
    assert rig.get("#0/0/source") == ""  # nothing changed; "" blends with nothing
    rig.compute_pending()
    rig.install_pending()
    assert rig.bank.installed(0).equal(rig.bank.original(0))


def test_a_blend_survives_a_state_round_trip(small_model, partner_path):
    rig = Rig(small_model)
    rig.set("#2/0/transform", "blend")
    rig.set("#2/0/source", str(partner_path))
    rig.set("#2/0/amount", 0.5)
    state = rig.state()
    other = Rig(load_model(small_model.path))
    assert other.load_state(state) == []
    assert other.state()["tensors"] == state["tensors"]


def test_a_source_read_in_a_child_process_is_the_same_and_a_bad_file_says_why(small_model_path, tmp_path):
    """A live show reads sources in a child (a read here would hold Python's lock for ~200 ms)."""
    import torch

    from performer.bending.blend import BlendSources
    from performer.errors import PerformerError

    here, child = BlendSources(), BlendSources()
    child.read_in_child()
    theirs, ours = child.load(small_model_path), here.load(small_model_path)
    assert theirs.keys() == ours.keys() and all(torch.equal(theirs[n], ours[n]) for n in ours)
    assert child.sha256(small_model_path) == here.sha256(small_model_path)
    bad = tmp_path / "bad.ts"
    bad.write_bytes(b"not a model")
    with pytest.raises(PerformerError, match="cannot load .*bad.ts: it is not a TorchScript archive"):
        child.load(bad)
