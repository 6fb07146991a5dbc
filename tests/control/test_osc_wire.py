"""OSC 1.0 wire format: golden datagrams built by hand from the spec, strict rejection, encoding."""

import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from performer.control.osc_wire import IMMEDIATELY, MAX_DEPTH, Bundle, MalformedPacket, Message, encode_message, \
    ntp_to_unix, parse_packet, unix_to_ntp

# Golden datagrams, laid out by hand: strings are null-terminated and padded with nulls to a
# multiple of 4 bytes; numbers are big-endian; a bundle is "#bundle\0", an 8-byte NTP time tag,
# then elements each prefixed by its int32 size.
MIX_QUARTER = b"/performer/mix\x00\x00" + b",f\x00\x00" + b"\x3e\x80\x00\x00"  # 14 chars + 2 nulls
CTRL_LATENT = b"/ctrl\x00\x00\x00" + b",sf\x00" + b"latent/0/offset\x00" + b"\x3f\xc0\x00\x00"  # 1.5
BYPASS_TRUE = b"/performer/bypass\x00\x00\x00" + b",T\x00\x00"  # T carries no argument bytes
MIX_NO_TAGS = b"/performer/mix\x00\x00"  # OSC 1.0: a message may omit the type tag string
TRANSFORM = b"/performer/#3/0/transform\x00\x00\x00" + b",s\x00\x00" + b"scale\x00\x00\x00"  # 40 bytes
FACTOR = b"/performer/#3/0/factor\x00\x00" + b",i\x00\x00" + b"\x00\x00\x00\x02"  # 32 bytes
BUNDLE_NOW = (b"#bundle\x00" + b"\x00\x00\x00\x00\x00\x00\x00\x01"
              + b"\x00\x00\x00\x28" + TRANSFORM + b"\x00\x00\x00\x20" + FACTOR)


def message_bytes(address, *args):
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


@pytest.mark.parametrize("data,expected", [
    (MIX_QUARTER, Message("/performer/mix", (0.25,))),
    (CTRL_LATENT, Message("/ctrl", ("latent/0/offset", 1.5))),
    (BYPASS_TRUE, Message("/performer/bypass", (True,))),
    (MIX_NO_TAGS, Message("/performer/mix", ())),
    (BUNDLE_NOW, Bundle(IMMEDIATELY, (Message("/performer/#3/0/transform", ("scale",)),
                                      Message("/performer/#3/0/factor", (2,))))),
])
def test_golden_datagrams_parse(data, expected):
    assert len(data) % 4 == 0
    assert parse_packet(data) == expected


def test_every_argument_type_python_osc_sends_parses():
    builder = OscMessageBuilder("/all")
    for value, tag in [(1, "i"), (2**40, "h"), (0.5, "f"), (0.25, "d"), ("text", "s"), (b"\x01\x02\x03", "b"),
                       (True, "T"), (False, "F"), (None, "N"), ([1, [2.0]], None)]:
        builder.add_arg(value, tag) if tag else builder.add_arg(value)
    assert parse_packet(builder.build().dgram).args == (1, 2**40, 0.5, 0.25, "text", b"\x01\x02\x03", True, False,
                                                        None, [1, [2.0]])


def test_nested_bundles_keep_their_order_and_time_tags():
    inner = OscBundleBuilder(1234.5)
    inner.add_content(OscMessageBuilder("/b").build())
    outer = OscBundleBuilder(IMMEDIATELY)
    outer.add_content(OscMessageBuilder("/a").build())
    outer.add_content(inner.build())
    outer.add_content(OscMessageBuilder("/c").build())
    packet = parse_packet(outer.build().dgram)
    assert [type(e).__name__ for e in packet.elements] == ["Message", "Bundle", "Message"]
    assert [packet.elements[0].address, packet.elements[2].address] == ["/a", "/c"]
    assert packet.elements[1].timetag == unix_to_ntp(1234.5)
    assert packet.elements[1].elements == (Message("/b"),)


def nested(depth):
    data = b"#bundle\x00" + struct.pack(">Q", IMMEDIATELY) + b"\x00\x00\x00\x08/x\x00\x00,\x00\x00\x00"
    for _ in range(depth - 1):
        data = b"#bundle\x00" + struct.pack(">Q", IMMEDIATELY) + struct.pack(">i", len(data)) + data
    return data


@pytest.mark.parametrize("data,reason", [
    (b"", "neither a message"),
    (b"garbage!", "neither a message"),
    (b"/mix", "not null-terminated"),
    (b"/mix\x00", "missing its padding"),
    (b"/mix\x00\x00\x00\x00f\x00\x00\x00", "must start with ','"),
    (b"/mix\x00\x00\x00\x00,f\x00\x00\x3f\x00", "truncated"),
    (b"/mix\x00\x00\x00\x00,x\x00\x00", "unknown type tag 'x'"),
    (b"/mix\x00\x00\x00\x00,[\x00\x00", "'[' without ']'"),
    (b"/mix\x00\x00\x00\x00,]\x00\x00", "']' without '['"),
    (b"/mix\x00\x00\x00\x00,\x00\x00\x00\x00\x00\x00\x01", "bytes left after the arguments"),
    (b"/mix\x00\x00\x00\x00,b\x00\x00\x00\x00\x00\x10ab\x00\x00", "blob at byte 12 claims 16 bytes"),
    (b"/mix\x00\x00\x00\x00,b\x00\x00\xff\xff\xff\xff", "claims -1 bytes"),
    (b"/\xff\xfe\x00", "not valid UTF-8"),
    (b"#bundle\x00\x00\x00", "no complete time tag"),
    (b"#bundle\x00" + b"\x00" * 7 + b"\x01" + b"\x00\x00\x00\x10" + MIX_NO_TAGS[:8], "claims 16 bytes; 8 remain"),
    (b"#bundle\x00" + b"\x00" * 7 + b"\x01" + b"\x00\x00\x00\x06/x\x00\x00\x00\x00", "positive multiples of 4"),
    (b"#bundle\x00" + b"\x00" * 7 + b"\x01" + b"\x00\x00", "size truncated"),
    (b"#bundle\x00" + b"\x00" * 7 + b"\x01" + b"\x00\x00\x00\x04junk", "neither a message"),
    (nested(MAX_DEPTH + 1), "nested deeper"),
])
def test_malformed_datagrams_are_rejected_with_a_reason(data, reason):
    with pytest.raises(MalformedPacket, match=reason.replace("[", r"\[").replace("(", r"\(")):
        parse_packet(data)


def test_nesting_up_to_the_limit_parses():
    packet = parse_packet(nested(MAX_DEPTH))
    for _ in range(MAX_DEPTH - 1):
        packet = packet.elements[0]
    assert packet.elements == (Message("/x"),)


def test_encoded_reply_is_byte_exact():
    assert encode_message("/performer/mix", (0.25,)) == MIX_QUARTER
    assert encode_message("/performer/error", ("mix", "bad")) == (
        b"/performer/error\x00\x00\x00\x00" + b",ss\x00" + b"mix\x00" + b"bad\x00")
    assert encode_message("/x", (7, True, None)) == b"/x\x00\x00,iTN\x00\x00\x00\x00\x00\x00\x00\x07"
    assert encode_message("/x", (2**40,)) == b"/x\x00\x00,h\x00\x00" + struct.pack(">q", 2**40)


def test_ntp_conversion_round_trips_and_matches_the_epoch():
    assert ntp_to_unix(2_208_988_800 << 32) == 0.0  # 1970-01-01 in NTP era 0
    now = time.time()
    assert abs(ntp_to_unix(unix_to_ntp(now)) - now) < 1e-6
    stamped = OscBundleBuilder(now).build().dgram  # python-osc agrees on the conversion
    assert abs(ntp_to_unix(parse_packet(stamped).timetag) - now) < 1e-6


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_parse_or_raise_malformed_only(data):
    try:
        parse_packet(data)
    except MalformedPacket:
        pass


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(BUNDLE_NOW) - 1), st.integers(0, 255), st.integers(1, len(BUNDLE_NOW)))
def test_corrupted_golden_bundle_parses_or_raises_malformed_only(position, byte, cut):
    data = bytearray(BUNDLE_NOW)
    data[position] = byte
    try:
        parse_packet(bytes(data[:cut]))
    except MalformedPacket:
        pass
