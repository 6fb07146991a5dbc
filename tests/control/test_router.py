"""MIDI bytes through mappings into a real Rig (genuine RAVE export): shaping, takeover,
encoders, 14-bit, NRPN, buttons, banks, errors, learn and feedback."""

from __future__ import annotations

import threading
import time
import tomllib

import pytest

from performer.control.learn import detect_control, to_toml
from performer.control.mapping import load_mapping, parse_mapping
from performer.control.midi import ControlEvent
from performer.control.router import MidiRouter
from performer.rig import Rig

pytestmark = pytest.mark.fixtures
PORT = "nanoKONTROL2:out"


def mapping(controls: str, outputs: str = "", device: str = "nano"):
    text = f'schema_version = 1\nname = "t"\ndevice = "{device}"\n{controls}\n{outputs}'
    return parse_mapping(tomllib.loads(text), "test")


def cc(number, value, channel=1):
    return bytes([0xB0 | (channel - 1), number, value])


@pytest.fixture
def rig(small_model):
    return Rig(small_model)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_cc_with_range_and_curve(rig):
    m = mapping('[[controls]]\nmatch = { type = "cc", number = 7 }\naddress = "output/gain"\nmin = -30\nmax = 6\n'
                'takeover = "none"')
    router = MidiRouter(rig, [m])
    router.handle(PORT, cc(7, 127))
    assert rig.get("output/gain") == 6.0  # the first move of a control applies at once
    router.handle(PORT, cc(7, 0))
    router.flush_waiting()  # a quick second move waits for the flusher (at most 2 ms)
    assert rig.get("output/gain") == -30.0
    router.handle("other-controller:out", cc(7, 127))  # the device pattern does not match
    assert rig.get("output/gain") == -30.0
    router.handle("performer-midi:Performer", cc(7, 127))  # our virtual port takes every mapping
    router.flush_waiting()
    assert rig.get("output/gain") == 6.0


def test_pickup_ignores_a_far_knob_until_it_crosses_the_value(rig):
    clock = Clock()
    router = MidiRouter(rig, [mapping('[[controls]]\nmatch = { type = "cc", number = 1 }\naddress = "mix"')],
                        clock=clock)
    rig.set("mix", 0.8, source="osc")  # changed elsewhere: the knob (at 0) no longer matches
    for value in (0, 10, 40, 90):
        clock.now += 0.2
        router.handle(PORT, cc(1, value))
        assert rig.get("mix") == 0.8, value
    clock.now += 0.2
    router.handle(PORT, cc(1, 110))  # crossed 0.8 (=101.6): picked up
    assert rig.get("mix") == pytest.approx(110 / 127)
    assert router.stats.ignored_by_takeover == 4


def test_relative_encoder_and_step(rig):
    controls = ('[[controls]]\nmatch = { type = "cc", number = 10 }\naddress = "mix"\nmode = "relative"\n'
                'encoding = "binary_offset"\n'
                '[[controls]]\nmatch = { type = "cc", number = 11 }\naddress = "select/tensor"\nmode = "relative"\n'
                'encoding = "twos_complement"\nmin = 0\nmax = 10\nstep = 1')
    router = MidiRouter(rig, [mapping(controls)])
    rig.set("mix", 0.5)
    router.handle(PORT, cc(10, 65))
    router.handle(PORT, cc(10, 65))
    assert rig.get("mix") == pytest.approx(0.5 + 2 / 128)
    router.handle(PORT, cc(10, 60))  # -4
    assert rig.get("mix") == pytest.approx(0.5 - 2 / 128)
    router.handle(PORT, cc(11, 1))
    router.handle(PORT, cc(11, 1))
    assert rig.get("select/tensor") == 2
    router.handle(PORT, cc(11, 127))
    assert rig.get("select/tensor") == 1


@pytest.mark.parametrize("order", ["msb_first", "lsb_first"])
def test_14_bit_pairs_in_either_order(rig, order):
    router = MidiRouter(rig, [mapping('[[controls]]\nmatch = { type = "cc14", number = 1 }\naddress = "mix"\n'
                                      'takeover = "none"')])
    value = 12345
    msb, lsb = cc(1, value >> 7), cc(33, value & 0x7F)
    for message in ((msb, lsb) if order == "msb_first" else (lsb, msb)) * 2:
        router.handle(PORT, message)
    router.flush_waiting()
    assert rig.get("mix") == pytest.approx(value / 16383, abs=1e-9)


def test_nrpn_data_entry_and_increment(rig):
    router = MidiRouter(rig, [mapping('[[controls]]\nmatch = { type = "nrpn", number = 300 }\naddress = "mix"\n'
                                      'takeover = "none"')])
    for message in (cc(99, 300 >> 7), cc(98, 300 & 0x7F), cc(6, 64), cc(38, 0)):
        router.handle(PORT, message)
    assert rig.get("mix") == pytest.approx(8192 / 16383, abs=1e-4)
    router.handle(PORT, cc(96, 0))  # data increment: one step up
    assert rig.get("mix") > 8192 / 16383


def test_note_toggle_and_momentary_buttons(rig):
    controls = ('[[controls]]\nmatch = { type = "note", number = 40 }\naddress = "bypass"\nbutton = "toggle"\n'
                '[[controls]]\nmatch = { type = "note", number = 41 }\naddress = "mix"\nvelocity = true')
    router = MidiRouter(rig, [mapping(controls)])
    on, off = bytes([0x90, 40, 100]), bytes([0x80, 40, 0])
    router.handle(PORT, on)
    router.handle(PORT, off)
    assert rig.get("bypass") == 1.0
    router.handle(PORT, on)
    router.handle(PORT, bytes([0x90, 40, 0]))  # note-on velocity 0 is a release
    assert rig.get("bypass") == 0.0
    router.handle(PORT, bytes([0x90, 41, 64]))
    assert rig.get("mix") == pytest.approx(64 / 127)
    router.handle(PORT, bytes([0x80, 41, 0]))
    assert rig.get("mix") == 0.0


def test_bank_buttons_page_through_tensors(rig):
    controls = ('[[controls]]\nmatch = { type = "cc", number = 59 }\naddress = "select/next"\nmin = 0\nmax = 8\n'
                '[[controls]]\nmatch = { type = "cc", number = 0 }\naddress = "selected+1/0/amount"\ntakeover = "none"')
    router = MidiRouter(rig, [mapping(controls)])
    router.handle(PORT, cc(59, 127))
    router.handle(PORT, cc(59, 0))  # release: stays
    assert rig.get("select/tensor") == 8
    router.handle(PORT, cc(0, 127))
    assert rig.chain(9)[0].amount == 1.0


def test_a_control_the_model_lacks_is_counted_and_the_others_work(rig, caplog):
    controls = ('[[controls]]\nmatch = { type = "cc", number = 1 }\naddress = "latent/99/offset"\n'
                '[[controls]]\nmatch = { type = "cc", number = 2 }\naddress = "mix"\ntakeover = "none"')
    router = MidiRouter(rig, [mapping(controls)])
    for _ in range(3):
        router.handle(PORT, cc(1, 64))
    router.handle(PORT, cc(2, 0))
    assert router.stats.errors == 3 and rig.get("mix") == 0.0
    assert sum("latent/99/offset" in r.message for r in caplog.records) == 1  # logged once


def test_a_sweeping_knob_is_coalesced_to_its_latest_value(rig):
    clock = Clock()
    router = MidiRouter(rig, [mapping('[[controls]]\nmatch = { type = "cc", number = 1 }\naddress = "mix"\n'
                                      'takeover = "none"')], clock=clock)
    changes = []
    rig.add_listener(changes.append)
    for value in range(0, 128):  # a whole sweep within one coalescing interval
        router.handle(PORT, cc(1, value))
    assert len(changes) == 1  # the first applied at once; the rest wait
    time.sleep(0.1)  # the flusher applies the latest
    assert len(changes) == 2 and rig.get("mix") == 1.0
    router.close()


def test_garbage_bytes_never_raise(rig):
    router = MidiRouter(rig, [mapping('[[controls]]\nmatch = { type = "cc", number = 1 }\naddress = "mix"')])
    for message in (b"", b"\x01\x02", b"\xb0", b"\xb0\xff\xff", b"\xf0\x7e\x00\xf7", bytes(range(256))):
        router.handle(PORT, message)
    assert router.stats.messages == 6


def test_shipped_profile_drives_a_real_model(rig):
    router = MidiRouter(rig, [load_mapping(__import__("pathlib").Path("mappings/korg_nanokontrol2.toml"))])
    rig.set("#0/0/transform", "scale")
    router.handle("nanoKONTROL2 nanoKONTROL2 _ CTRL", cc(0, 0))  # fader 1 near amount 0? picks up at 1.0 only
    router.handle("nanoKONTROL2 nanoKONTROL2 _ CTRL", cc(7, 64))  # fader 8: mix, far from 1.0: ignored
    assert rig.get("mix") == 1.0
    router.handle("nanoKONTROL2 nanoKONTROL2 _ CTRL", cc(46, 127))  # CYCLE toggles bypass
    assert rig.get("bypass") == 1.0


def test_feedback_not_echoed_deduplicated_and_rate_limited(rig):
    sent: list[tuple[bytes, str | None]] = []
    outputs = '[[outputs]]\naddress = "mix"\nsend = { type = "cc", number = 7 }'
    controls = '[[controls]]\nmatch = { type = "cc", number = 7 }\naddress = "mix"\ntakeover = "none"'
    router = MidiRouter(rig, [mapping(controls, outputs)], send=lambda m, p: sent.append((m, p)))
    try:
        router.handle(PORT, cc(7, 100))  # from the controller itself: no echo
        time.sleep(0.05)
        assert sent == []
        rig.set("mix", 0.0, source="osc")
        assert sent == [(cc(7, 0), "nano")]
        rig.set("mix", 0.0, source="osc")  # same value again: dropped
        for i in range(100):  # a flood from OSC: at most 50 a second per control, the last wins
            rig.set("mix", i / 99, source="osc")
        time.sleep(0.1)
        assert len(sent) <= 4
        assert sent[-1] == (cc(7, 127), "nano")
    finally:
        router.close()


def test_learn_detects_a_14_bit_pair_and_saves_it(rig, tmp_path):
    learned_file = tmp_path / "learned.toml"
    router = MidiRouter(rig, [], learn_file=learned_file)
    result = {}
    thread = threading.Thread(target=lambda: result.update(control=router.learn("mix", timeout=5)))
    thread.start()
    time.sleep(0.05)
    for v in (8000, 8100, 8200):
        router.handle("some controller", cc(3, v >> 7))
        router.handle("some controller", cc(35, v & 0x7F))
    thread.join()
    control = result["control"]
    assert (control.match.type, control.match.number) == ("cc14", 3)
    saved = load_mapping(learned_file)
    assert [(c.match.type, c.address) for c in saved.controls] == [("cc14", "mix")]
    router.handle("some controller", cc(3, 127))  # bound at once (7-bit half: MSB alone updates)
    router.handle("some controller", cc(35, 127))
    router.flush_waiting()
    assert rig.get("mix") == pytest.approx(1.0, abs=1e-3)


def test_learn_detects_relative_encoders_and_notes():
    def events(values, number=20):
        return [("p", ControlEvent("cc", 1, number, v, 127)) for v in values]

    assert detect_control(events([65, 65, 66]), "mix")[1].encoding == "binary_offset"
    assert detect_control(events([127, 127, 126]), "mix")[1].encoding == "twos_complement"
    assert detect_control(events([40, 41, 42, 44]), "mix")[1].mode == "absolute"
    note = detect_control([("p", ControlEvent("note", 2, 60, 100, 127, on=True))], "bypass")[1]
    assert (note.match.type, note.match.channel, note.button) == ("note", 2, "toggle")


def test_learned_file_round_trips(tmp_path):
    m = load_mapping(__import__("pathlib").Path("mappings/arturia_beatstep.toml"))
    text = to_toml(m)
    again = parse_mapping(tomllib.loads(text), "roundtrip")
    assert again.controls == m.controls and again.outputs == m.outputs


def test_a_learned_knob_sweeps_its_address_range(rig):
    from performer.control.learn import with_address_range
    from performer.control.mapping import ControlMapping, Match

    knob = Match("cc", 1, 20)
    assert (with_address_range(rig, ControlMapping(knob, "output/gain")).min,
            with_address_range(rig, ControlMapping(knob, "output/gain")).max) == (-60.0, 12.0)
    rig.set("#3/0/transform", "scale")
    factor = with_address_range(rig, ControlMapping(knob, "#3/0/factor"))
    assert factor.min < factor.max and (factor.min, factor.max) != (0.0, 1.0)
    assert with_address_range(rig, ControlMapping(knob, "#3/0/transform")).max == 1.0  # not a number: unchanged
