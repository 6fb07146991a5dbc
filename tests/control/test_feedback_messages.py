"""Feedback messages are built as mido messages: the bytes controllers expect, ranges checked."""

import mido
import pytest

from performer.control.feedback import encode, messages
from performer.control.mapping import Match


@pytest.mark.parametrize("match,position,expected", [
    (Match("cc", 1, 7), 1.0, [0xB0, 7, 127]),
    (Match("cc", 16, 20), 0.5, [0xBF, 20, 64]),
    (Match("note", 2, 60), 0.0, [0x91, 60, 0]),  # note-on velocity 0: LED off
    (Match("pressure", 3), 1.0, [0xD2, 127]),
    (Match("pitchbend", 1), 0.5, [0xE0, 0x00, 0x40]),  # 8192: the centre, LSB first on the wire
    (Match("pitchbend", 1), 1.0, [0xE0, 0x7F, 0x7F]),
    (Match("cc14", 1, 1), 0.5, [0xB0, 1, 64, 0xB0, 33, 0]),
    (Match("nrpn", 1, 300), 1.0, [0xB0, 99, 2, 0xB0, 98, 44, 0xB0, 6, 127, 0xB0, 38, 127]),
    (Match("rpn", 1, 0), 0.0, [0xB0, 101, 0, 0xB0, 100, 0, 0xB0, 6, 0, 0xB0, 38, 0]),
    (Match("cc", 1, 7), float("nan"), [0xB0, 7, 0]),
])
def test_the_bytes_on_the_wire(match, position, expected):
    assert list(encode(match, position)) == expected
    receiver = mido.Parser()  # a controller's view: the same messages, one by one
    receiver.feed(encode(match, position))
    sent = messages(match, position if position == position else 0.0)
    assert [m.bytes() for m in receiver] == [m.bytes() for m in sent]


def test_a_channel_or_number_out_of_range_raises_instead_of_garbling():
    with pytest.raises(ValueError):
        encode(Match("cc", 17, 7), 0.5)
    with pytest.raises(ValueError):
        encode(Match("cc", 1, 128), 0.5)
