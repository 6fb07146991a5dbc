"""MidiStreamParser: channel messages, 14-bit pairs in both orders, NRPN/RPN, bad input."""

from __future__ import annotations

import mido
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from performer.control.midi import RES7, RES14, ControlEvent, MidiStreamParser

PROPS = settings(max_examples=200, deadline=None)


def cc(channel: int, number: int, value: int) -> list[int]:
    return [0xB0 | (channel - 1), number, value]


def feed_all(parser: MidiStreamParser, *messages: list[int]) -> list[ControlEvent]:
    return [event for message in messages for event in parser.feed(message)]


def values(events: list[ControlEvent]) -> list[int]:
    return [e.value for e in events]


# --- single messages -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ([0x90, 60, 100], ControlEvent("note", 1, 60, 100, RES7, on=True)),
        ([0x9F, 60, 1], ControlEvent("note", 16, 60, 1, RES7, on=True)),
        ([0x90, 60, 0], ControlEvent("note", 1, 60, 0, RES7, on=False)),  # velocity 0 = off
        ([0x85, 61, 64], ControlEvent("note", 6, 61, 64, RES7, on=False)),  # release velocity kept
        ([0xB0, 74, 127], ControlEvent("cc", 1, 74, 127, RES7)),
        ([0xBF, 0, 0], ControlEvent("cc", 16, 0, 0, RES7)),
        ([0xC2, 0], ControlEvent("program", 3, None, 0, RES7)),  # 0-based, as on the wire
        ([0xC2, 127], ControlEvent("program", 3, None, 127, RES7)),
        ([0xD1, 90], ControlEvent("pressure", 2, None, 90, RES7)),
        ([0xA1, 60, 33], ControlEvent("polypressure", 2, 60, 33, RES7)),
        ([0xE0, 0x00, 0x40], ControlEvent("pitchbend", 1, None, 8192, RES14)),  # centre 2000H
        ([0xE0, 0x00, 0x00], ControlEvent("pitchbend", 1, None, 0, RES14)),
        ([0xE0, 0x7F, 0x7F], ControlEvent("pitchbend", 1, None, 16383, RES14)),
        ([0xE0, 0x01, 0x00], ControlEvent("pitchbend", 1, None, 1, RES14)),  # LSB comes first
        ([0xE0, 0x00, 0x01], ControlEvent("pitchbend", 1, None, 128, RES14)),
    ],
)
def test_single_messages(message: list[int], expected: ControlEvent) -> None:
    parser = MidiStreamParser()
    assert parser.feed(message) == [expected]
    assert parser.feed(bytes(message)) == [expected]
    assert (parser.malformed, parser.ignored) == (0, 0)


def test_mido_messages_are_accepted() -> None:
    parser = MidiStreamParser()
    assert parser.feed(mido.Message("pitchwheel", channel=2, pitch=-8192)) == [
        ControlEvent("pitchbend", 3, None, 0, RES14)
    ]
    assert parser.feed(mido.Message("note_on", note=1, velocity=0))[0].on is False


@pytest.mark.parametrize(
    "message",
    [
        [],
        b"",
        [0x40],  # a data byte: no running status
        [0x40, 0x40],
        [0x90, 60],  # short
        [0x90, 60, 100, 1],  # long
        [0xC0],
        [0xC0, 1, 2],
        [0xE0, 0],
        [0x90, 128, 1],  # data byte > 127
        [0xB0, 7, 0xF0],  # a status byte that is not realtime inside a message
        [0xF4],
        [0xF5],  # undefined system common
        [0xF9],
        [0xFD],  # undefined realtime
        [0xF7],  # end of sysex alone
        [0xF0, 0x7E, 0x01],  # unterminated sysex
        [0xF0, 0x80, 0xF7],  # sysex with a status byte inside
        [0xF8, 0xF8],
        [0xF1],
        [0xF2, 1],
        [0xF3, 200],
        [256],
        [-1, 0, 0],
        [0x90, 60.0, 100],
        "\x90<d",
        None,
        3,
        object(),
    ],
)
def test_malformed_input_is_counted_never_raised(message: object) -> None:
    parser = MidiStreamParser(cc14=[(1, 7)])
    assert parser.feed(message) == []  # type: ignore[arg-type]
    assert (parser.malformed, parser.ignored) == (1, 0)


@pytest.mark.parametrize(
    "message",
    [[0xF8], [0xFA], [0xFB], [0xFC], [0xFE], [0xFF], [0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7], [0xF0, 0xF7],
     [0xF1, 0x10], [0xF2, 0x00, 0x10], [0xF3, 5], [0xF6]],
)
def test_system_messages_are_ignored_and_counted(message: list[int]) -> None:
    parser = MidiStreamParser()
    assert parser.feed(message) == []
    assert (parser.malformed, parser.ignored) == (0, 1)


def test_realtime_inside_a_channel_message_is_dropped() -> None:
    parser = MidiStreamParser()
    assert parser.feed([0xB0, 0xF8, 7, 0xFE, 64]) == [ControlEvent("cc", 1, 7, 64, RES7)]
    assert (parser.malformed, parser.ignored) == (0, 2)


def test_a_raising_bytes_method_is_malformed() -> None:
    class Broken:
        def bytes(self) -> list[int]:
            raise RuntimeError("nope")

    parser = MidiStreamParser()
    assert parser.feed(Broken()) == []  # type: ignore[arg-type]
    assert parser.malformed == 1


# --- 14-bit CC pairs ---------------------------------------------------------------------------

def pair(channel: int, msb_number: int, value: int, order: str) -> list[list[int]]:
    msb, lsb = cc(channel, msb_number, value >> 7), cc(channel, msb_number + 32, value & 0x7F)
    return [msb, lsb] if order == "msb_first" else [lsb, msb]


def send(parser: MidiStreamParser, value: int, order: str, channel: int = 1, number: int = 1) -> list[ControlEvent]:
    return feed_all(parser, *pair(channel, number, value, order))


@pytest.mark.parametrize("order", ["msb_first", "lsb_first"])
@pytest.mark.parametrize(
    ("before", "after"),
    [(0x2080, 0x207F), (0x207F, 0x2080), (0, 16383), (16383, 0), (0x1FFF, 0x2000), (5, 5)],
)
def test_cc14_crossing_an_msb_boundary_has_no_intermediate_value(order: str, before: int, after: int) -> None:
    parser = MidiStreamParser(cc14=[(1, 1, order)])
    send(parser, 1000, order)  # the first pair shows that the sender pairs
    assert values(send(parser, before, order)) == [before]
    assert send(parser, after, order) == [ControlEvent("cc14", 1, 1, after, RES14)]


def test_first_pairs_msb_first_emit_coarse_then_fine() -> None:
    parser = MidiStreamParser(cc14=[(1, 1)])
    assert values(send(parser, 0x2085, "msb_first")) == [0x2080, 0x2085]  # not yet known to pair
    assert values(send(parser, 0x2105, "msb_first")) == [0x2105]


def test_first_pair_lsb_first_waits_for_the_msb() -> None:
    parser = MidiStreamParser(cc14=[(1, 1, "lsb_first")])
    assert parser.feed(cc(1, 33, 5)) == []  # no MSB seen yet: no value to report
    assert values(parser.feed(cc(1, 1, 0x40))) == [0x2005]


@given(st.lists(st.integers(0, 16383), min_size=1, max_size=60), st.sampled_from(["msb_first", "lsb_first"]))
@PROPS
def test_cc14_full_pairs_in_either_order_emit_exactly_the_sent_values(sent: list[int], order: str) -> None:
    parser = MidiStreamParser(cc14=[(2, 31, order)])
    emitted = [values(send(parser, v, order, channel=2, number=31)) for v in sent]
    assert emitted[0][-1] == sent[0]
    assert [e for es in emitted[1:] for e in es] == sent[1:]


@given(st.lists(st.integers(0, 16383), min_size=2, max_size=60))
@PROPS
def test_cc14_msb_first_sender_omitting_unchanged_msb(sent: list[int]) -> None:
    """The MIDI forum's "it is possible to send only the LSB if the MSB has not changed"."""
    parser = MidiStreamParser(cc14=[(1, 1)])
    emitted: list[int] = []
    msb = None
    for v in sent:
        if v >> 7 != msb:
            emitted += values(parser.feed(cc(1, 1, v >> 7)))
            msb = v >> 7
        emitted += values(parser.feed(cc(1, 33, v & 0x7F)))
    assert emitted[-1] == sent[-1]
    assert set(emitted) <= set(sent) | {sent[0] & ~0x7F}  # only the very first MSB is coarse


@given(st.lists(st.integers(0, 16383), min_size=1, max_size=60))
@PROPS
def test_cc14_msb_first_sender_relying_on_the_lsb_reset(sent: list[int]) -> None:
    """An MSB alone means LSB 0 (MIDI 1.0); such an MSB waits for the next message at most."""
    parser = MidiStreamParser(cc14=[(1, 1)])
    emitted: list[int] = []
    for v in sent:
        emitted += values(parser.feed(cc(1, 1, v >> 7)))
        if v & 0x7F:
            emitted += values(parser.feed(cc(1, 33, v & 0x7F)))
    emitted += [e.value for e in parser.feed([0x90, 1, 1]) if e.kind == "cc14"]
    assert emitted[-1] == sent[-1]
    assert set(emitted) <= set(sent) | {v & ~0x7F for v in sent}  # no stale LSB ever shows


@given(st.lists(st.integers(0, 16383), min_size=1, max_size=60))
@PROPS
def test_cc14_lsb_first_sender_omitting_unchanged_msb_ends_right(sent: list[int]) -> None:
    parser = MidiStreamParser(cc14=[(1, 1, "lsb_first")])
    emitted: list[int] = []
    msb = None
    for v in sent:
        emitted += values(parser.feed(cc(1, 33, v & 0x7F)))
        if v >> 7 != msb:
            emitted += values(parser.feed(cc(1, 1, v >> 7)))
            msb = v >> 7
    emitted += [e.value for e in parser.feed([0x90, 1, 1]) if e.kind == "cc14"]
    assert emitted[-1] == sent[-1]


def test_cc14_msb_only_sender_gets_every_message() -> None:
    parser = MidiStreamParser(cc14=[(1, 1)])
    assert values(feed_all(parser, cc(1, 1, 10), cc(1, 1, 11), cc(1, 1, 127))) == [1280, 1408, 16256]


def test_cc14_lone_leader_is_released_by_the_next_message() -> None:
    parser = MidiStreamParser(cc14=[(1, 1)])
    send(parser, 1000, "msb_first")  # the sender pairs: strict
    assert parser.feed(cc(1, 1, 0x41)) == []  # held for its LSB
    note = [0x90, 60, 100]
    events = parser.feed(note)
    assert events == [ControlEvent("cc14", 1, 1, 0x2080, RES14), ControlEvent("note", 1, 60, 100, RES7, on=True)]
    # The sender sends lone MSBs now and then: they go through at once until a pair is seen again.
    assert values(parser.feed(cc(1, 1, 0x42))) == [0x2100]
    assert values(parser.feed(cc(1, 33, 3))) == [0x2103]  # back to back: strict again
    assert parser.feed(cc(1, 1, 0x43)) == []


def test_cc14_repeated_leader_releases_the_held_one() -> None:
    parser = MidiStreamParser(cc14=[(1, 1, "lsb_first")])
    send(parser, 1000, "lsb_first")  # the sender pairs: strict
    assert parser.feed(cc(1, 33, 1)) == []
    assert values(parser.feed(cc(1, 33, 2))) == [(1000 & ~0x7F) | 1, (1000 & ~0x7F) | 2]


def test_cc14_realtime_and_sysex_between_halves_do_not_break_the_pair() -> None:
    parser = MidiStreamParser(cc14=[(1, 1)])
    send(parser, 1000, "msb_first")
    events = feed_all(parser, cc(1, 1, 0x10), [0xF8], [0xF0, 1, 0xF7], [0x90, 1], cc(1, 33, 0x20))
    assert values(events) == [0x0820]
    assert (parser.ignored, parser.malformed) == (2, 1)


def test_cc14_pairs_are_per_channel_and_controller() -> None:
    parser = MidiStreamParser(cc14=[(1, 1)])
    parser.declare_cc14(1, 2)
    parser.declare_cc14(2, 1)
    assert parser.feed(cc(3, 1, 5)) == [ControlEvent("cc", 3, 1, 5, RES7)]  # not declared there
    assert parser.feed(cc(3, 33, 5)) == [ControlEvent("cc", 3, 33, 5, RES7)]
    send(parser, 100, "msb_first", channel=1, number=1)
    send(parser, 200, "msb_first", channel=1, number=2)
    send(parser, 300, "msb_first", channel=2, number=1)
    assert send(parser, 4000, "msb_first", channel=1, number=2) == [ControlEvent("cc14", 1, 2, 4000, RES14)]
    assert send(parser, 5000, "msb_first", channel=2, number=1) == [ControlEvent("cc14", 2, 1, 5000, RES14)]


def test_reset_forgets_strictness_but_keeps_declarations() -> None:
    parser = MidiStreamParser(cc14=[(1, 1)])
    send(parser, 1000, "msb_first")
    parser.reset()
    assert values(send(parser, 0x2085, "msb_first")) == [0x2080, 0x2085]


@pytest.mark.parametrize(
    ("channel", "number", "error"),
    [(0, 1, ValueError), (17, 1, ValueError), (1, 32, ValueError), (1, -1, ValueError), ("1", 1, TypeError)],
)
def test_declare_cc14_checks_ranges(channel: object, number: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        MidiStreamParser().declare_cc14(channel, number)  # type: ignore[arg-type]


def test_orders_are_checked() -> None:
    with pytest.raises(ValueError, match="order"):
        MidiStreamParser().declare_cc14(1, 1, "auto")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="data_entry_order"):
        MidiStreamParser(data_entry_order="lsb")  # type: ignore[arg-type]


# --- NRPN / RPN --------------------------------------------------------------------------------

def nrpn(channel: int, number: int) -> list[list[int]]:
    return [cc(channel, 99, number >> 7), cc(channel, 98, number & 0x7F)]


def rpn(channel: int, number: int) -> list[list[int]]:
    return [cc(channel, 101, number >> 7), cc(channel, 100, number & 0x7F)]


def data(channel: int, value: int) -> list[list[int]]:
    return [cc(channel, 6, value >> 7), cc(channel, 38, value & 0x7F)]


def test_nrpn_full_sequence() -> None:
    parser = MidiStreamParser()
    first = feed_all(parser, *nrpn(1, 0x0123), *data(1, 0x2085))
    assert values(first) == [0x2080, 0x2085]  # not yet known to pair
    assert first[-1] == ControlEvent("nrpn", 1, 0x0123, 0x2085, RES14)
    assert feed_all(parser, *nrpn(1, 0x0123), *data(1, 0x207F)) == [ControlEvent("nrpn", 1, 0x0123, 0x207F, RES14)]
    assert feed_all(parser, *data(1, 0x3FFF)) == [ControlEvent("nrpn", 1, 0x0123, 0x3FFF, RES14)]  # running


def test_nrpn_data_entry_lsb_only_updates_keep_the_parameters_msb() -> None:
    parser = MidiStreamParser()
    feed_all(parser, *nrpn(1, 10), *data(1, 0x1000))
    feed_all(parser, *nrpn(1, 11), *data(1, 0x3000))
    assert feed_all(parser, cc(1, 38, 5)) == [ControlEvent("nrpn", 1, 11, 0x3005, RES14)]
    assert feed_all(parser, *nrpn(1, 10), cc(1, 38, 7)) == [ControlEvent("nrpn", 1, 10, 0x1007, RES14)]


def test_nrpn_lsb_first_data_entry_has_no_intermediate_value() -> None:
    parser = MidiStreamParser(data_entry_order="lsb_first")
    feed_all(parser, *nrpn(1, 10), cc(1, 38, 0x00), cc(1, 6, 0x41))
    assert values(feed_all(parser, cc(1, 38, 0x7F), cc(1, 6, 0x40))) == [0x207F]


def test_seven_bit_nrpn_data_msb_only() -> None:
    parser = MidiStreamParser()
    assert values(feed_all(parser, *nrpn(1, 5), cc(1, 6, 100))) == [100 << 7]
    assert [e.value >> 7 for e in feed_all(parser, *nrpn(1, 5), cc(1, 6, 3))] == [3]


def test_lone_data_msb_is_released_by_the_next_selection() -> None:
    parser = MidiStreamParser()
    feed_all(parser, *nrpn(1, 5), *data(1, 1000))  # the sender pairs: strict
    assert feed_all(parser, *nrpn(1, 6), cc(1, 6, 2)) == []  # held for a data LSB
    events = feed_all(parser, *nrpn(1, 7))
    assert events == [ControlEvent("nrpn", 1, 6, 2 << 7, RES14)]


@pytest.mark.parametrize(("number", "delta"), [(96, 1), (97, -1)])
def test_nrpn_increment_decrement(number: int, delta: int) -> None:
    parser = MidiStreamParser()
    events = feed_all(parser, *nrpn(2, 300), cc(2, number, 0), cc(2, number, 1))
    assert events == [
        ControlEvent("nrpn", 2, 300, 0, RES7, delta=delta),
        ControlEvent("nrpn", 2, 300, 1, RES7, delta=delta),
    ]


def test_rpn_and_the_null_rpn() -> None:
    parser = MidiStreamParser()
    # RPN 0: pitch bend sensitivity, 2 semitones 0 cents.
    assert feed_all(parser, *rpn(1, 0), *data(1, 2 << 7))[-1] == ControlEvent("rpn", 1, 0, 256, RES14)
    assert feed_all(parser, cc(1, 96, 0)) == [ControlEvent("rpn", 1, 0, 0, RES7, delta=1)]
    assert feed_all(parser, *rpn(1, 0x3FFF)) == []  # null: deselects
    assert feed_all(parser, cc(1, 6, 9), cc(1, 38, 1), cc(1, 97, 0)) == [
        ControlEvent("cc", 1, 6, 9, RES7),
        ControlEvent("cc", 1, 38, 1, RES7),
        ControlEvent("cc", 1, 97, 0, RES7),
    ]


def test_nrpn_127_127_is_a_parameter_not_a_null() -> None:
    parser = MidiStreamParser()
    assert feed_all(parser, *nrpn(1, 0x3FFF), cc(1, 6, 1))[-1].key == ("nrpn", 1, 0x3FFF)


def test_rpn_and_nrpn_selection_switch_and_keep_their_numbers() -> None:
    parser = MidiStreamParser()
    feed_all(parser, *nrpn(1, 0x0203), *rpn(1, 1))
    assert feed_all(parser, cc(1, 96, 0))[0].key == ("rpn", 1, 1)
    assert feed_all(parser, cc(1, 98, 4), cc(1, 96, 0))[0].key == ("nrpn", 1, 0x0204)  # LSB alone: MSB kept
    assert feed_all(parser, cc(1, 101, 0), cc(1, 96, 0))[0].key == ("rpn", 1, 1)  # MSB alone: LSB kept


def test_reset_all_controllers_deselects_and_is_reported() -> None:
    parser = MidiStreamParser()
    events = feed_all(parser, *nrpn(1, 5), cc(1, 121, 0), cc(1, 6, 1))
    assert events == [ControlEvent("cc", 1, 121, 0, RES7), ControlEvent("cc", 1, 6, 1, RES7)]


def test_half_selected_parameter_swallows_data() -> None:
    parser = MidiStreamParser()
    assert feed_all(parser, cc(1, 99, 1), cc(1, 6, 1), cc(1, 96, 0)) == []
    assert values(feed_all(parser, cc(1, 98, 1), cc(1, 6, 1))) == [128]


def test_parameter_numbers_are_per_channel() -> None:
    parser = MidiStreamParser()
    feed_all(parser, *nrpn(1, 5))
    assert parser.feed(cc(2, 6, 3)) == [ControlEvent("cc", 2, 6, 3, RES7)]


def test_parameter_numbers_off_leaves_plain_ccs() -> None:
    parser = MidiStreamParser(parameter_numbers=False)
    events = feed_all(parser, *nrpn(1, 5), *data(1, 1000))
    assert [e.key for e in events] == [("cc", 1, 99), ("cc", 1, 98), ("cc", 1, 6), ("cc", 1, 38)]


def test_declared_cc14_on_data_entry_applies_when_no_parameter_is_selected() -> None:
    parser = MidiStreamParser(cc14=[(1, 6)])
    assert values(feed_all(parser, *data(1, 1000))) == [(1000 >> 7) << 7, 1000]
    assert feed_all(parser, *nrpn(1, 5), *data(1, 1000))[-1].kind == "nrpn"


# --- properties ----------------------------------------------------------------------------------

bytes_lists = st.lists(st.integers(0, 255), max_size=8)
messages = st.one_of(
    bytes_lists,
    st.binary(max_size=8),
    st.tuples(st.integers(0x80, 0xEF), st.integers(0, 127), st.integers(0, 127)).map(list),  # mostly valid
    st.tuples(st.sampled_from([0xB0, 0xB1]), st.sampled_from([1, 33, 6, 38, 96, 97, 98, 99, 100, 101, 121]),
              st.integers(0, 127)).map(list),
)


def well_formed_channel_message(message: list[int] | bytes) -> bool:
    m = list(message)
    if not m or not 0x80 <= m[0] <= 0xEF:
        return False
    length = 2 if m[0] & 0xF0 in (0xC0, 0xD0) else 3
    return len(m) == length and all(b < 0x80 for b in m[1:])


@given(st.lists(messages, max_size=80))
@PROPS
def test_random_streams_never_raise_and_are_counted(stream: list[list[int] | bytes]) -> None:
    parser = MidiStreamParser(cc14=[(1, 1), (2, 1)])
    for message in stream:
        before = parser.malformed + parser.ignored
        events = parser.feed(message)
        for e in events:
            assert 1 <= e.channel <= 16
            assert 0 <= e.value <= e.resolution
            assert e.resolution in (RES7, RES14)
        if not well_formed_channel_message(message):
            assert parser.malformed + parser.ignored > before
            stripped = [b for b in list(message)[1:] if b not in (0xF8, 0xFA, 0xFB, 0xFC, 0xFE, 0xFF)]
            # Only messages with realtime bytes inside can still yield events.
            assert events == [] or (len(stripped) < len(message) - 1)
