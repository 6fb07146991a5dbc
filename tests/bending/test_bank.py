"""TensorBank on a genuine RAVE export: compute, publish, install, restore, spares."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from performer.bending.bank import TensorBank
from performer.bending.chain import Slot
from performer.bending.masks import draw_ranks, threshold
from performer.bending.randomness import generator
from performer.model import describe_tensors

pytestmark = pytest.mark.fixtures


@pytest.fixture
def setup(small_model):
    infos = describe_tensors(small_model.module)
    bank = TensorBank(small_model.module, infos)
    return small_model, infos, bank


def live(model, name: str) -> torch.Tensor:
    params = dict(model.module.named_parameters())
    if name in params:
        return params[name]
    return dict(model.module.named_buffers())[name]


def first(infos, kind: str, ndim: int = 3):
    return next(i for i in infos if i.kind == kind and len(i.shape) == ndim)


def slot(transform: str, **kw) -> Slot:
    params = kw.pop("params", {})
    return Slot(transform=transform, params={transform: params} if params else {}, **kw)


def noise_draw(info, seed: int) -> torch.Tensor:
    return torch.randn(info.shape, generator=generator(info.name, seed, "gaussian"), dtype=torch.float32)


def mask_of(info, mode: str, seed: int, percent: float) -> torch.Tensor:
    ranks, levels = draw_ranks(info.name, info.shape, mode, seed, info.channel_axis)
    return ranks < threshold(percent, levels)


# -- identity ------------------------------------------------------------------------------

def test_empty_chain_returns_the_original(setup):
    model, infos, bank = setup
    for info in infos:
        assert bank.compute(info.index, []) is bank.original(info.index)


IDENTITY_CHAINS = {
    "amount0": [Slot(transform="scale", amount=0.0)],
    "percent0": [Slot(transform="noise", percent=0.0)],
    "bypass": [Slot(transform="ablate", bypass=True)],
    "none": [Slot(transform="none")],
    "tiny-percent": [Slot(transform="scale", percent=1e-6)],  # rounds to no element at all
    "all-identity": [Slot(transform="ones", amount=0.0), Slot(transform="invert", bypass=True),
                     Slot(transform="uniform", percent=0.0)],
}


def test_identity_slots_return_the_original(setup):
    # One model load for every case: loading dominates the run time of these tests.
    model, infos, bank = setup
    for label, chain in IDENTITY_CHAINS.items():
        for info in (infos[0], first(infos, "conv"), first(infos, "conv_transpose")):
            before = bank.original(info.index).clone()
            result = bank.compute(info.index, chain)
            assert result is bank.original(info.index), label
            assert torch.equal(result, before), label


def test_identity_slots_in_a_chain_are_skipped(setup):
    model, infos, bank = setup
    info = first(infos, "conv")
    orig = bank.original(info.index).clone()
    chain = [Slot(transform="ablate", bypass=True), slot("scale", params={"factor": 3.0}),
             Slot(transform="ones", amount=0.0), Slot(transform="none")]
    assert torch.equal(bank.compute(info.index, chain), orig * 3.0)


# -- results against plain torch -------------------------------------------------------------

def test_chain_matches_a_reference_computation(setup):
    model, infos, bank = setup
    info = first(infos, "conv")
    orig = bank.original(info.index).clone()
    unit = info.std
    chain = [
        slot("scale", params={"factor": 2.0}),
        slot("offset", amount=0.5, params={"value": 1.5}),
        slot("noise", percent=0.3, mode="random", seed=5, params={"sigma": 0.7}),
        slot("invert", percent=0.5, mode="channels", seed=2, amount=0.25),
    ]
    result = bank.compute(info.index, chain)

    x = orig * 2.0
    x = x + 0.5 * ((x + 1.5 * unit) - x)
    x = torch.where(mask_of(info, "random", 5, 0.3), x + 0.7 * unit * noise_draw(info, 5), x)
    x = torch.where(mask_of(info, "channels", 2, 0.5), x + 0.25 * (-x - x), x)

    assert result.shape == orig.shape and result.dtype == orig.dtype
    torch.testing.assert_close(result, x, rtol=1e-5, atol=1e-6)
    assert torch.equal(bank.original(info.index), orig), "computing changed the original"


def test_masked_slot_leaves_unselected_elements_bitwise(setup):
    model, infos, bank = setup
    info = first(infos, "conv_transpose")  # output channels on axis 1
    assert info.channel_axis == 1
    orig = bank.original(info.index).clone()
    for mode in ("random", "spread", "channels"):
        for percent in (0.1, 0.5, 0.9):
            result = bank.compute(info.index, [slot("scale", percent=percent, mode=mode, seed=11,
                                                    params={"factor": -3.0})])
            mask = mask_of(info, mode, 11, percent)
            assert torch.equal(result[~mask], orig[~mask]), (mode, percent)
            assert torch.equal(result[mask], orig[mask] * -3.0), (mode, percent)
            if mode == "channels":
                levels = info.shape[info.channel_axis]
                changed = (result != orig).movedim(info.channel_axis, 0).reshape(levels, -1).any(dim=1)
                assert int(changed.sum()) == round(percent * levels)
            else:
                assert int((result != orig).sum()) == round(percent * info.size)


def test_same_chain_same_result_and_seed_matters(setup):
    model, infos, bank = setup
    info = first(infos, "conv")
    a = bank.compute(info.index, [slot("noise", seed=3)]).clone()
    b = bank.compute(info.index, [slot("noise", seed=3)]).clone()
    c = bank.compute(info.index, [slot("noise", seed=4)]).clone()
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_every_tensor_keeps_shape_dtype_and_original(setup):
    model, infos, bank = setup
    originals = [bank.original(i.index).clone() for i in infos]
    for transform in ("scale", "offset", "noise", "shuffle", "quantize", "reverse", "roll", "sign_flip",
                      "threshold", "clamp", "uniform", "ablate"):
        for info in infos:
            result = bank.compute(info.index, [slot(transform, amount=0.7, percent=0.6, seed=1)])
            assert result.shape == bank.original(info.index).shape, transform
            assert result.dtype == bank.original(info.index).dtype, transform
            assert torch.isfinite(result).all(), transform
            assert result is not bank.original(info.index)
    for info, orig in zip(infos, originals):
        assert torch.equal(bank.original(info.index), orig)


# -- publish and install ---------------------------------------------------------------------

def test_install_with_nothing_pending(setup):
    model, infos, bank = setup
    assert not bank.has_pending
    assert bank.install_pending() == 0


def test_publish_install_and_restore_swap_the_live_parameter(setup):
    model, infos, bank = setup
    info = first(infos, "conv")
    before = live(model, info.name).detach().clone()
    bent = bank.compute(info.index, [slot("scale", params={"factor": -2.0})])
    # Computing alone does not touch the model.
    assert torch.equal(live(model, info.name), before)

    bank.publish({info.index: bent})
    assert bank.has_pending
    assert torch.equal(live(model, info.name), before), "publish must not install"
    assert bank.install_pending() == 1
    assert not bank.has_pending
    assert torch.equal(live(model, info.name), before * -2.0)
    assert live(model, info.name).data_ptr() == bent.data_ptr()
    assert bank.installed(info.index) is bent

    bank.publish({info.index: bank.compute(info.index, [])})
    assert bank.install_pending() == 1
    restored = live(model, info.name)
    assert torch.equal(restored, before)
    assert restored.data_ptr() == bank.original(info.index).data_ptr()
    assert bank.installed(info.index) is bank.original(info.index)


def test_install_changes_the_model_output_and_restore_is_exact(setup):
    model, infos, bank = setup
    x = torch.from_numpy(_sine(4 * model.block_multiple))[None, None]

    def render() -> torch.Tensor:
        model.reset_caches()
        torch.manual_seed(0)  # RAVE samples its latent and noise: seed them
        with torch.no_grad():
            return model.run("forward", x).clone()

    clean = render()
    decoder = [i for i in infos if i.name.startswith("decoder.")]
    bank.publish({i.index: bank.compute(i.index, [slot("scale", params={"factor": -1.0})]) for i in decoder})
    assert bank.install_pending() == len(decoder)
    bent = render()
    assert not torch.equal(bent, clean)
    bank.publish({i.index: bank.compute(i.index, []) for i in decoder})
    assert bank.install_pending() == len(decoder)
    assert torch.equal(render(), clean)


def test_a_scene_of_many_tensors_lands_together(setup):
    model, infos, bank = setup
    before = {i.name: live(model, i.name).detach().clone() for i in infos}
    results = {i.index: bank.compute(i.index, [slot("ablate")]) for i in infos}
    bank.publish(results)
    for i in infos:
        assert torch.equal(live(model, i.name), before[i.name])
    assert bank.install_pending() == len(infos)
    for i in infos:
        assert not live(model, i.name).any()


def test_newer_publish_replaces_and_recycles_the_older(setup):
    model, infos, bank = setup
    info = first(infos, "conv")
    orig = bank.original(info.index).clone()
    older = bank.compute(info.index, [slot("scale", params={"factor": 2.0})])
    bank.publish({info.index: older})
    newer = bank.compute(info.index, [slot("scale", params={"factor": 3.0})])
    assert newer is not older
    bank.publish({info.index: newer})
    assert any(t is older for t in bank._spares[info.index]), "the replaced result was not recycled"
    assert bank.install_pending() == 1
    assert torch.equal(live(model, info.name), orig * 3.0)
    # The recycled buffer is reused, and writing into it never touches the installed tensor.
    third = bank.compute(info.index, [slot("scale", params={"factor": 4.0})])
    assert third is older
    assert torch.equal(live(model, info.name), orig * 3.0)


def test_computing_never_writes_into_the_installed_tensor(setup):
    model, infos, bank = setup
    info = first(infos, "conv")
    bank.publish({info.index: bank.compute(info.index, [slot("noise", seed=1)])})
    bank.install_pending()
    installed = live(model, info.name).detach().clone()
    for seed in range(10):
        result = bank.compute(info.index, [slot("noise", seed=seed + 2), slot("scale", amount=0.5)])
        assert result.data_ptr() != live(model, info.name).data_ptr()
        if seed % 2:
            bank.publish({info.index: result})  # published, not installed
    assert torch.equal(live(model, info.name), installed)


def test_publishing_the_original_while_it_is_installed(setup):
    model, infos, bank = setup
    info = first(infos, "conv")
    orig = bank.original(info.index)
    for _ in range(3):
        bank.publish({info.index: bank.compute(info.index, [])})
        assert bank.install_pending() == 1
    assert bank.installed(info.index) is orig
    assert len(bank._spares[info.index]) == 0, "the original must never become a spare"


def test_spares_stay_bounded_over_many_cycles(setup):
    model, infos, bank = setup
    info = first(infos, "conv")
    other = first(infos, "conv_transpose")
    bank.prepare(info.index)
    assert len(bank._spares[info.index]) == 2
    rng = np.random.default_rng(0)
    originals = {i: bank.original(i).clone() for i in (info.index, other.index)}
    for step in range(60):
        action = rng.integers(0, 4)
        chain = [] if action == 0 else [slot("noise", seed=int(rng.integers(0, 5)), amount=float(rng.random()))]
        results = {info.index: bank.compute(info.index, chain), other.index: bank.compute(other.index, chain)}
        bank.publish(results)
        if action != 3:  # sometimes several publishes before one install
            bank.install_pending()
        for index in (info.index, other.index):
            assert len(bank._spares[index]) <= 3, f"spares grew at step {step}"
            assert torch.equal(bank.original(index), originals[index])
    bank.install_pending()
    for index in (info.index, other.index):
        assert len(bank._spares[index]) <= 3


def test_compute_does_not_change_the_original(setup):
    model, infos, bank = setup
    info = first(infos, "conv")
    orig = bank.original(info.index)
    before = orig.clone()
    for transform in ("scale", "offset", "ablate", "ones", "shuffle", "threshold", "noise"):
        bank.publish({info.index: bank.compute(info.index, [slot(transform), slot("invert", amount=0.3)])})
        bank.install_pending()
    assert torch.equal(orig, before)
    assert torch.equal(bank.original(info.index), before)


def _sine(n: int, rate: int = 44100, freq: float = 220.0) -> np.ndarray:
    t = np.arange(n) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
