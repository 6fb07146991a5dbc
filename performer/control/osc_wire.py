"""OSC 1.0 packets on the wire: strict parsing into messages and bundles, replies encoded.

Incoming datagrams are parsed here rather than by python-osc's ``OscPacket`` because a live
server must reject *every* bad datagram with one exception it can count, and python-osc lets
some through or out: unknown type tags are skipped with a root-logger warning (shifting every
later argument), invalid UTF-8 escapes as ``UnicodeDecodeError``, a bundle element that claims
more bytes than remain is silently truncated, nesting recurses without a bound, and bundle time
tags come back as lossy floats. Replies are built with python-osc's ``OscMessageBuilder``.

Time tags stay raw 64-bit NTP integers (seconds since 1900 in the high 32 bits, fraction in
the low 32); ``IMMEDIATELY`` (1) is the spec's "now".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Union

from pythonosc.osc_message_builder import OscMessageBuilder

BUNDLE_TAG = b"#bundle\x00"
IMMEDIATELY = 1
NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01
MAX_DEPTH = 16  # bundles within bundles; UDP's 64 KiB would allow ~3000 levels, enough to blow the stack

_INT32 = struct.Struct(">i")
_UINT64 = struct.Struct(">Q")
_FIXED = {"i": (">i", 4), "f": (">f", 4), "h": (">q", 8), "d": (">d", 8), "c": (">I", 4),
          "r": (">I", 4), "m": (">4B", 4), "t": (">Q", 8)}
_CONSTANTS = {"T": True, "F": False, "N": None, "I": float("inf")}


class MalformedPacket(ValueError):
    """A datagram that is not a well-formed OSC 1.0 message or bundle; the text says where."""


@dataclass(frozen=True)
class Message:
    address: str
    args: tuple[object, ...] = ()


@dataclass(frozen=True)
class Bundle:
    timetag: int  # raw NTP time tag; IMMEDIATELY (1) or anything in the past means now
    elements: tuple[Union[Message, "Bundle"], ...] = ()


Packet = Union[Message, Bundle]


def parse_packet(data: bytes) -> Packet:
    """Parse one datagram; raise MalformedPacket on anything the OSC 1.0 spec does not allow."""
    return _parse(bytes(data), 0)


def _parse(data: bytes, depth: int) -> Packet:
    if data.startswith(BUNDLE_TAG):
        return _parse_bundle(data, depth)
    if data.startswith(b"/"):
        return _parse_message(data)
    raise MalformedPacket(f"neither a message (starts with '/') nor a bundle (#bundle): {data[:16]!r}")


def _parse_bundle(data: bytes, depth: int) -> Bundle:
    if depth >= MAX_DEPTH:
        raise MalformedPacket(f"bundles nested deeper than {MAX_DEPTH} levels")
    if len(data) < 16:
        raise MalformedPacket(f"bundle of {len(data)} bytes has no complete time tag")
    (timetag,) = _UINT64.unpack_from(data, 8)
    elements: list[Packet] = []
    index = 16
    while index < len(data):
        if index + 4 > len(data):
            raise MalformedPacket(f"bundle element size truncated at byte {index}")
        (size,) = _INT32.unpack_from(data, index)
        index += 4
        if size <= 0 or size % 4 or index + size > len(data):
            raise MalformedPacket(
                f"bundle element at byte {index - 4} claims {size} bytes; {len(data) - index} remain "
                "(sizes are positive multiples of 4)")
        elements.append(_parse(data[index:index + size], depth + 1))
        index += size
    return Bundle(timetag, tuple(elements))


def _parse_message(data: bytes) -> Message:
    address, index = _read_string(data, 0, "address")
    if index == len(data):  # OSC 1.0 allows a message with no type tag string: no arguments
        return Message(address)
    tags, index = _read_string(data, index, "type tag string")
    if not tags.startswith(","):
        raise MalformedPacket(f"{address}: type tag string must start with ',', got {tags!r}")
    args: list[object] = []
    stack = [args]
    for tag in tags[1:]:
        if tag in _FIXED:
            fmt, size = _FIXED[tag]
            if index + size > len(data):
                raise MalformedPacket(f"{address}: argument '{tag}' truncated at byte {index}")
            values = struct.unpack_from(fmt, data, index)
            value: object = values if tag == "m" else values[0]
            if tag == "c":
                if value >= 0x110000:
                    raise MalformedPacket(f"{address}: char argument {value} is not a code point")
                value = chr(value)
            index += size
        elif tag in "sS":
            value, index = _read_string(data, index, f"argument '{tag}'")
        elif tag == "b":
            value, index = _read_blob(data, index, address)
        elif tag in _CONSTANTS:
            value = _CONSTANTS[tag]
        elif tag == "[":
            stack[-1].append([])
            stack.append(stack[-1][-1])  # type: ignore[arg-type]
            continue
        elif tag == "]":
            if len(stack) == 1:
                raise MalformedPacket(f"{address}: ']' without '[' in type tags {tags!r}")
            stack.pop()
            continue
        else:
            raise MalformedPacket(f"{address}: unknown type tag {tag!r} in {tags!r}")
        stack[-1].append(value)
    if len(stack) != 1:
        raise MalformedPacket(f"{address}: '[' without ']' in type tags {tags!r}")
    if index != len(data):
        raise MalformedPacket(f"{address}: {len(data) - index} bytes left after the arguments {tags!r}")
    return Message(address, tuple(args))


def _read_string(data: bytes, index: int, what: str) -> tuple[str, int]:
    end = data.find(b"\x00", index)
    if end < 0:
        raise MalformedPacket(f"{what} at byte {index} is not null-terminated")
    padded = (end + 4) & ~3  # the null, then zero to three more, to a multiple of four
    if padded > len(data):
        raise MalformedPacket(f"{what} at byte {index} is missing its padding")
    try:
        text = data[index:end].decode("utf-8")  # OSC says ASCII; UTF-8 is what clients send
    except UnicodeDecodeError as exc:
        raise MalformedPacket(f"{what} at byte {index} is not valid UTF-8: {exc.reason}") from None
    return text, padded


def _read_blob(data: bytes, index: int, address: str) -> tuple[bytes, int]:
    if index + 4 > len(data):
        raise MalformedPacket(f"{address}: blob size truncated at byte {index}")
    (size,) = _INT32.unpack_from(data, index)
    start = index + 4
    end = start + ((size + 3) & ~3) if size >= 0 else -1
    if size < 0 or end > len(data):
        raise MalformedPacket(f"{address}: blob at byte {index} claims {size} bytes; {len(data) - start} remain")
    return data[start:start + size], end


def encode_message(address: str, args: tuple[object, ...] | list[object] = ()) -> bytes:
    """One OSC message as bytes: int -> i (h beyond 32 bits), float -> f, str -> s, bool -> T/F,
    None -> N, bytes -> b. Floats go out as 32-bit 'f', what every OSC client reads."""
    builder = OscMessageBuilder(address)
    for arg in args:
        if isinstance(arg, bool):
            builder.add_arg(arg, "T" if arg else "F")
        elif isinstance(arg, int):
            builder.add_arg(arg, "i" if -2**31 <= arg < 2**31 else "h")
        elif isinstance(arg, float):
            builder.add_arg(arg, "f")
        elif isinstance(arg, str):
            builder.add_arg(arg, "s")
        elif isinstance(arg, bytes):
            builder.add_arg(arg, "b")
        elif arg is None:
            builder.add_arg(None, "N")
        else:
            raise TypeError(f"cannot encode {type(arg).__name__} {arg!r} as an OSC argument")
    return builder.build().dgram


def ntp_to_unix(timetag: int) -> float:
    """Seconds since the Unix epoch for a raw NTP time tag (era 0, i.e. until 2036)."""
    return timetag / 2**32 - NTP_UNIX_OFFSET


def unix_to_ntp(seconds: float) -> int:
    """The raw NTP time tag of a Unix time."""
    return int((seconds + NTP_UNIX_OFFSET) * 2**32)
