"""OSC messages carried out on a real Rig (genuine RAVE export), without sockets.

The fixtures here (``osc_rig``, ``rig``, ``changes``) are shared with test_osc.py.
"""

import logging

import pytest

from performer.control.osc_handler import ERROR, OscHandler, OscStats
from performer.control.osc_wire import Message, parse_packet
from performer.model import load_model
from performer.rig import Rig
from performer.rig.addresses import GLOBALS
from tests.control.test_osc_wire import BYPASS_TRUE, CTRL_LATENT, MIX_NO_TAGS, MIX_QUARTER

pytestmark = pytest.mark.fixtures

NAMED = "decoder.net.2.weight"


@pytest.fixture(scope="module")
def osc_rig(small_model_path):
    """One Rig per module (building one takes a fifth of a second); ``rig`` resets it."""
    return Rig(load_model(small_model_path))


def reset_rig(rig):
    """Back to a freshly built rig's state: no bends, default globals and latents, no scenes."""
    rig.set("bends/reset", 1, source="test")
    rig.set("select/tensor", 0, source="test")
    for name, (_, _, default, _) in GLOBALS.items():
        rig.set(name, default, source="test")
    for i in range(rig.model.latent_size):
        rig.set(f"latent/{i}/offset", 0.0, source="test")
        rig.set(f"latent/{i}/scale", 1.0, source="test")
    if hasattr(rig, "scenes"):
        del rig.scenes


@pytest.fixture
def rig(osc_rig):
    initial = osc_rig.state()
    yield osc_rig
    reset_rig(osc_rig)
    assert osc_rig.state() == initial


@pytest.fixture
def changes(rig):
    """Every Change the rig emits during the test, in order."""
    seen = []
    rig.add_listener(seen.append)
    yield seen
    rig.remove_listener(seen.append)


@pytest.fixture
def handler(rig):
    return OscHandler(rig)


def send(handler, address, *args):
    return handler.handle(Message(address, args), ("127.0.0.1", 5555))


def error_of(replies):
    assert len(replies) == 1 and replies[0][0] == ERROR, replies
    return replies[0][1]


# -- sets -------------------------------------------------------------------------------------------
def test_golden_datagrams_apply(handler, rig):
    assert handler.handle(parse_packet(MIX_QUARTER)) == []
    assert handler.handle(parse_packet(CTRL_LATENT)) == []
    assert handler.handle(parse_packet(BYPASS_TRUE)) == []
    assert (rig.get("mix"), rig.get("latent/0/offset"), rig.get("bypass")) == (0.25, 1.5, 1.0)
    assert handler.handle(parse_packet(MIX_NO_TAGS)) == [("/performer/mix", (0.25,))]


@pytest.mark.parametrize("value,stored", [(0.5, 0.5), (1, 1.0), ("0.75", 0.75), (True, 1.0), (False, 0.0)])
def test_set_accepts_int_float_string_and_bool(handler, rig, value, stored):
    assert send(handler, "/performer/mix", value) == []
    assert rig.get("mix") == stored


def test_tensor_addresses_by_name_and_position(handler, rig):
    index = next(t.index for t in rig.tensors if t.name == NAMED)
    assert send(handler, f"/performer/{NAMED}/0/amount", 0.5) == []
    assert send(handler, f"/performer/#{index}/0/transform", "scale") == []
    assert send(handler, f"/performer/#{index}/0/factor", 2) == []
    chain = rig.chain(NAMED)
    assert (chain[0].amount, chain[0].transform, chain[0].current_params()["factor"]) == (0.5, "scale", 2.0)


def test_every_change_comes_from_osc(handler, changes):
    send(handler, "/performer/mix", 0.5)
    send(handler, "/ctrl", "output/gain", -6)
    send(handler, "/performer/latent/*/scale", 2.0)
    assert changes and {c.source for c in changes} == {"osc"}
    assert [c.address for c in changes[:2]] == ["mix", "output/gain"]


def test_resets(handler, rig):
    send(handler, "/performer/#3/0/amount", 0.5)
    send(handler, "/performer/#4/0/amount", 0.5)
    assert send(handler, "/performer/#3/reset") == []  # no value needed: a reset is an action
    assert rig.chain(3) == [] and len(rig.chain(4)) == 1
    assert send(handler, "/performer/bends/reset") == []
    assert rig.chain(4) == []


# -- queries ----------------------------------------------------------------------------------------
def test_query_replies_with_the_canonical_address(handler, rig):
    rig.set("#35/0/transform", "scale")
    rig.set("#35/0/factor", 1.5)
    rig.set("latent/3/offset", -1.5)
    assert send(handler, "/performer/#35/0/factor") == [(f"/performer/{rig.tensors[35].name}/0/factor", (1.5,))]
    assert send(handler, "/performer/latent/03/offset") == [("/performer/latent/3/offset", (-1.5,))]
    assert send(handler, "/performer/#35/0/transform") == [(f"/performer/{rig.tensors[35].name}/0/transform",
                                                            ("scale",))]
    assert send(handler, "/performer/#35/0/bypass") == [(f"/performer/{rig.tensors[35].name}/0/bypass", (0,))]
    assert send(handler, "/ctrl", "output/gain") == [("/performer/output/gain", (0.0,))]
    assert handler.stats.queries == 5


def test_bank_selection_over_osc(handler, rig):
    assert send(handler, "/performer/select/tensor", NAMED) == []
    index = rig.get("select/tensor")
    assert rig.tensors[index].name == NAMED
    assert send(handler, "/performer/selected/0/amount", 0.5) == []
    assert send(handler, "/performer/selected+1/0/amount", 0.25) == []
    assert send(handler, "/performer/selected/0/amount") == [(f"/performer/{NAMED}/0/amount", (0.5,))]
    after = rig.tensors[index + 1].name
    assert send(handler, "/performer/selected+1/0/amount") == [(f"/performer/{after}/0/amount", (0.25,))]
    assert send(handler, "/performer/select/next", 1) == []
    assert send(handler, "/performer/select/tensor") == [("/performer/select/tensor", (index + 1,))]
    assert send(handler, "/performer/sel*/*") == [("/performer/select/tensor", (index + 1,))]


def test_query_of_an_empty_slot_is_an_error(handler, rig):
    rig.set("#3/0/amount", 0.5)
    address, text = error_of(send(handler, "/performer/#3/2/amount"))
    assert address == "#3/2/amount" and "slot 2 is not in use (slots in use: 0)" in text


# -- patterns ---------------------------------------------------------------------------------------
def test_pattern_sets_every_latent_offset(handler, rig):
    assert send(handler, "/performer/latent/*/offset", 0.5) == []
    size = rig.model.latent_size
    assert [rig.get(f"latent/{i}/offset") for i in range(size)] == [0.5] * size
    assert [rig.get(f"latent/{i}/scale") for i in range(size)] == [1.0] * size
    assert handler.stats.applied == size


def test_pattern_forms(handler, rig):
    send(handler, "/performer/{input,output}/gain", -6)
    send(handler, "/performer/latent/[0-2]/scale", 2)
    send(handler, "/performer/latent/[!0-2]/scale", 0.5)
    assert (rig.get("input/gain"), rig.get("output/gain")) == (-6.0, -6.0)
    assert [rig.get(f"latent/{i}/scale") for i in range(5)] == [2.0, 2.0, 2.0, 0.5, 0.5]


def test_slot_patterns_match_only_slots_in_use(handler, rig):
    rig.set("#3/1/amount", 0.5)  # slot 0 becomes a placeholder ("none"), slot 1 a noise slot
    rig.set("#5/0/transform", "scale")
    assert send(handler, "/performer/#*/*/amount", 0.25) == []
    assert [s.amount for s in rig.chain(3)] == [0.25, 0.25] and rig.chain(5)[0].amount == 0.25
    assert rig.chain(4) == []
    # transform parameters match only the slots whose transform has them
    assert send(handler, "/performer/#*/*/factor", 3) == []
    assert rig.chain(5)[0].current_params()["factor"] == 3.0
    assert "factor" not in rig.chain(3)[1].current_params()


def test_patterns_by_name_and_by_position_do_not_double_up(handler, rig, changes):
    index = next(t.index for t in rig.tensors if t.name == NAMED)
    rig.set(f"{NAMED}/0/amount", 0.5)
    changes.clear()
    send(handler, "/performer/decoder.net.*/0/amount", 0.75)
    send(handler, f"/performer/#{index}/0/{{amount,percent}}", 0.75)
    assert [c.address for c in changes] == [f"{NAMED}/0/amount", f"{NAMED}/0/amount", f"{NAMED}/0/percent"]


def test_pattern_query_replies_once_per_match(handler, rig):
    rig.set("latent/1/offset", 2.0)
    assert send(handler, "/performer/latent/[01]/offset") == [("/performer/latent/0/offset", (0.0,)),
                                                              ("/performer/latent/1/offset", (2.0,))]


def test_a_query_pattern_never_triggers_a_reset(handler, rig):
    rig.set("#3/0/amount", 0.5)
    address, text = error_of(send(handler, "/performer/#3/*"))  # matches only #3/reset
    assert "matches no address" in text and len(rig.chain(3)) == 1
    assert send(handler, "/performer/#*/reset") == []  # a pattern that names resets triggers them
    assert rig.chain(3) == []


@pytest.mark.parametrize("pattern,message", [
    ("/performer/latent/*/nothing", "matches no address"),
    ("/performer/latent/[0/offset", "has no closing ']'"),
])
def test_pattern_errors(handler, pattern, message):
    address, text = error_of(send(handler, pattern, 0.5))
    assert address == pattern[len("/performer/"):] and message in text


def test_pattern_with_a_value_some_addresses_refuse(handler, rig):
    rig.set("#3/0/transform", "scale")
    rig.set("#4/0/transform", "scale")
    address, text = error_of(send(handler, "/performer/#[34]/0/{amount,factor}", 5.0))  # factor ok, amount not
    assert address == "#[34]/0/{amount,factor}"
    assert text.startswith("2 of 4 matched addresses refused the value; first: ")
    assert "amount must be in range 0..1" in text
    assert rig.chain(3)[0].current_params()["factor"] == 5.0  # OSC dispatches to each match independently


# -- /ctrl ------------------------------------------------------------------------------------------
def test_ctrl_alias(handler, rig, changes):
    assert send(handler, "/ctrl", "mix", 0.5) == []
    assert send(handler, "/ctrl", "latent/0/offset", 1.0) == []
    assert send(handler, "/ctrl", "latent/*/scale", 3) == []
    assert (rig.get("mix"), rig.get("latent/0/offset"), rig.get("latent/7/scale")) == (0.5, 1.0, 3.0)
    assert {c.source for c in changes} == {"osc"}


@pytest.mark.parametrize("args,message", [
    ((), "/ctrl expects an address string and a value"),
    ((1, 0.5), "/ctrl expects an address string and a value"),
    (("mix", 0.5, 0.7), "expects one value, got 2: 0.5 0.7"),
    (("nope", 0.5), "no tensor named 'nope'"),
])
def test_ctrl_errors(handler, args, message):
    assert message in error_of(send(handler, "/ctrl", *args))[1]


# -- errors -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("address,args,named,message", [
    ("/performer/mix", (3.0,), "mix", "mix must be in range 0..1 (dry 0 .. wet 1), got 3"),
    ("/performer/mix", ("loud",), "mix", "mix must be a number, got 'loud'"),
    ("/performer/mix", (b"\x00",), "mix", "mix must be a number, got bytes"),
    ("/performer/#3/0/transform", ("melt",), "#3/0/transform", "transform must be one of"),
    ("/performer/#999/0/amount", (0.5,), "#999/0/amount", "tensor position must be in range 0..60"),
    ("/performer/latent/9/offset", (1.0,), "latent/9/offset", "latent index must be in range 0..7"),
    ("/performer/mix", (0.5, 0.6), "mix", "expects one value, got 2"),
    ("/performer/", (0.5,), "", "empty address"),
    ("/dirt/play", ("s", "bd"), "/dirt/play", "unknown OSC address '/dirt/play'"),
])
def test_errors_are_replied_and_change_nothing(handler, rig, caplog, address, args, named, message):
    before = rig.state()
    with caplog.at_level(logging.WARNING, logger="performer.osc.in"):
        replies = send(handler, address, *args)
    assert error_of(replies)[0] == named
    assert message in error_of(replies)[1]
    assert rig.state() == before
    assert handler.stats.errors == 1 and handler.stats.applied == 0
    assert any(message in r.getMessage() and "127.0.0.1:5555" in r.getMessage() for r in caplog.records)


def test_error_logging_is_rate_limited(handler, caplog):
    with caplog.at_level(logging.WARNING, logger="performer.osc.in"):
        for _ in range(50):
            send(handler, "/performer/mix", 9.0)
    assert handler.stats.errors == 50
    assert 1 <= len(caplog.records) <= handler.log.burst


# -- scenes -----------------------------------------------------------------------------------------
def test_scene_recall_without_scenes(handler):
    replies = send(handler, "/performer/scene/recall", "verse")
    assert error_of(replies)[0] == "scene/recall"
    assert "scenes are not available yet" in error_of(replies)[1]


def test_scene_recall_is_an_address_like_any_other(handler, rig, tmp_path):
    """No OSC special case: a recall goes through Rig.set, so it emits a change event as a web or
    MIDI recall does."""
    from performer.scenes.manager import SceneManager
    from performer.scenes.store import SceneStore

    manager = SceneManager(rig, SceneStore(tmp_path / "scenes"), history=False)
    try:
        rig.set("mix", 0.25)
        manager.save("verse")
        rig.set("mix", 1.0)
        changes = []
        rig.add_listener(changes.append)
        assert send(handler, "/performer/scene/recall", "verse") == []
        assert rig.get("mix") == 0.25
        assert ("scene/recall", "osc") in [(c.address, c.source) for c in changes]
        assert "no scene 'chorus'" in error_of(send(handler, "/performer/scene/recall", "chorus"))[1]
        assert send(handler, "/ctrl", "scene/recall", "verse") == []
    finally:
        manager.close()


def test_stats_count_messages(rig):
    stats = OscStats()
    handler = OscHandler(rig, stats)
    send(handler, "/performer/mix", 0.5)
    send(handler, "/performer/mix")
    send(handler, "/performer/mix", 7)
    assert (stats.messages, stats.applied, stats.queries, stats.errors) == (3, 1, 1, 1)
