"""The OSC server over real UDP sockets on 127.0.0.1: replies, bundles and time tags, bad datagrams.

Timing assertions are one-sided or generous: a future bundle must not land *before* its time
tag (checked with the time stamp of the rig's change event), and must land within seconds after.
"""

import logging
import re
import socket
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from performer.control.osc import DEFAULT_HOST, DEFAULT_PORT, OscServer
from performer.control.osc_wire import MalformedPacket, Message, parse_packet
from tests.control.test_osc_handler import changes, osc_rig, reset_rig, rig  # noqa: F401 (fixtures)
from tests.control.test_osc_wire import BUNDLE_NOW, MIX_QUARTER

pytestmark = pytest.mark.fixtures

MIX_QUARTER_REPLY = b"/performer/mix\x00\x00" + b",f\x00\x00" + b"\x3e\x80\x00\x00"


@pytest.fixture
def server(rig):
    with OscServer(rig, port=0) as running:
        yield running


class Peer:
    """A plain UDP socket: sends raw datagrams to the server, reads its replies with a timeout."""

    def __init__(self, port):
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(3.0)

    def send(self, data):
        self.sock.sendto(data, ("127.0.0.1", self.port))

    def message(self, address, *args):
        builder = OscMessageBuilder(address)
        for arg in args:
            builder.add_arg(arg)
        self.send(builder.build().dgram)

    def reply(self):
        data, sender = self.sock.recvfrom(65536)
        assert sender[1] == self.port  # replies come from the server's own port
        return data

    def no_reply(self, wait=0.2):
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(3.0)
        raise AssertionError(f"unexpected reply {data!r}")


@pytest.fixture
def peer(server):
    p = Peer(server.port)
    yield p
    p.sock.close()


def wait_for(condition, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached within the timeout")
        time.sleep(0.002)


def bundle(timetag, *contents):
    builder = OscBundleBuilder(timetag)
    for content in contents:
        builder.add_content(content)
    return builder.build()


def msg(address, *args):
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build()


# -- lifecycle --------------------------------------------------------------------------------------
def test_defaults_avoid_the_live_coding_ports():
    assert DEFAULT_HOST == "127.0.0.1"
    assert DEFAULT_PORT not in (57110, 57120, 57121, 6010, 4560, 8080, 8000, 9000)
    assert 1024 < DEFAULT_PORT < 32768  # no privileges needed; below Linux's ephemeral range


def test_start_stop_and_restart(rig):
    server = OscServer(rig, port=0)
    assert not server.running
    server.start()
    assert server.running and server.port > 0
    with pytest.raises(RuntimeError, match="already started"):
        server.start()
    server.stop()
    server.stop()  # twice is fine
    assert not server.running
    with server:  # and again, as a context manager
        p = Peer(server.port)
        p.message("/performer/mix")
        assert parse_packet(p.reply()) == Message("/performer/mix", (1.0,))
        p.sock.close()
    assert not server.running


def test_a_taken_port_is_an_actionable_error(rig, server):
    with pytest.raises(OSError, match=rf"cannot listen for OSC on 127.0.0.1:{server.port}: .*pass another port"):
        OscServer(rig, port=server.port).start()


def test_port_range_is_checked(rig):
    with pytest.raises(ValueError, match=r"OSC port must be in range 0..65535"):
        OscServer(rig, port=70000)


# -- messages over UDP ------------------------------------------------------------------------------
def test_round_trip_with_python_osc_client(server, rig):
    client = SimpleUDPClient("127.0.0.1", server.port)
    client.send_message("/performer/mix", 0.25)
    client.send_message("/performer/mix", [])  # no argument: a query
    assert client.receive(3.0) == MIX_QUARTER_REPLY  # byte-exact reply
    assert rig.get("mix") == 0.25
    client.send_message("/performer/latent/*/offset", 0.5)
    client.send_message("/performer/latent/[01]/offset", [])
    replies = [parse_packet(client.receive(3.0)) for _ in range(2)]
    assert replies == [Message("/performer/latent/0/offset", (0.5,)), Message("/performer/latent/1/offset", (0.5,))]
    client.close()
    assert (server.stats.received, server.stats.applied, server.stats.queries) == (4, 1 + 8, 3)


def test_golden_datagrams_over_the_wire(server, rig, peer):
    peer.send(MIX_QUARTER)
    peer.send(BUNDLE_NOW)
    peer.message("/performer/#3/0/factor")
    name = rig.tensors[3].name
    assert parse_packet(peer.reply()) == Message(f"/performer/{name}/0/factor", (2.0,))
    assert rig.get("mix") == 0.25 and rig.chain(3)[0].transform == "scale"


def test_errors_are_replied_to_the_sender(server, rig, peer):
    peer.message("/performer/mix", 3.0)
    peer.message("/ctrl", "latent/0/offset", 99)
    first, second = parse_packet(peer.reply()), parse_packet(peer.reply())
    assert first == Message("/performer/error", ("mix", "mix must be in range 0..1 (dry 0 .. wet 1), got 3"))
    assert second.address == "/performer/error" and second.args[0] == "latent/0/offset"
    assert "range -8..8" in second.args[1]
    assert rig.get("mix") == 1.0 and server.stats.errors == 2


def test_ctrl_over_the_wire(server, rig, peer):
    peer.message("/ctrl", "mix", 0.5)
    peer.message("/ctrl", "mix")
    assert parse_packet(peer.reply()) == Message("/performer/mix", (0.5,))


def test_sets_send_no_reply(server, peer):
    peer.message("/performer/mix", 0.5)
    assert peer.no_reply()


# -- bundles and time tags --------------------------------------------------------------------------
def test_immediate_and_past_bundles_apply_now_in_order(server, rig, peer, changes):
    peer.send(bundle(IMMEDIATELY, msg("/performer/mix", 0.2), msg("/performer/mix", 0.3), msg("/performer/mix")).dgram)
    assert parse_packet(peer.reply()) == Message("/performer/mix", (pytest.approx(0.3),))
    peer.send(bundle(time.time() - 60, msg("/performer/output/gain", -3.0), msg("/performer/mix")).dgram)
    assert parse_packet(peer.reply()).args == (pytest.approx(0.3),)
    assert [c.value for c in changes] == [pytest.approx(0.2), pytest.approx(0.3), -3.0]
    assert server.stats.scheduled == 0


def test_future_bundle_waits_for_its_time_tag(server, rig, peer, changes):
    due = time.time() + 0.5
    peer.send(bundle(due, msg("/performer/mix", 0.25), msg("/performer/mix")).dgram)
    wait_for(lambda: server.stats.scheduled == 1)
    if time.time() < due - 0.1:  # a stalled machine may already be past it; the stamp check below still holds
        assert rig.get("mix") == 1.0
    assert parse_packet(peer.reply()) == Message("/performer/mix", (0.25,))  # sent when applied
    (change,) = changes
    assert change.time >= due - 0.02  # never early
    assert change.time < due + 2.0


def test_future_bundles_apply_in_time_order_then_arrival_order(server, rig, peer, changes):
    now = time.time()
    peer.send(bundle(now + 0.4, msg("/performer/mix", 0.4)).dgram)
    peer.send(bundle(now + 0.2, msg("/performer/mix", 0.2)).dgram)
    peer.send(bundle(now + 0.4, msg("/performer/mix", 0.5)).dgram)  # same time as the first: after it
    wait_for(lambda: len(changes) == 3)
    assert [c.value for c in changes] == [pytest.approx(v) for v in (0.2, 0.4, 0.5)]
    assert changes[0].time >= now + 0.2 - 0.02 and changes[1].time >= now + 0.4 - 0.02


def test_nested_bundles_keep_order_and_their_own_time(server, rig, peer, changes):
    later = time.time() + 0.3
    inner = bundle(later, msg("/performer/latent/0/offset", 2.0))
    peer.send(bundle(IMMEDIATELY, msg("/performer/mix", 0.1), inner, msg("/performer/mix", 0.2)).dgram)
    wait_for(lambda: len(changes) == 3)
    assert [c.address for c in changes] == ["mix", "mix", "latent/0/offset"]
    assert changes[2].time >= later - 0.02
    # an immediate bundle inside a future one waits for the outer time tag
    changes.clear()
    outer_time = time.time() + 0.3
    peer.send(bundle(outer_time, bundle(IMMEDIATELY, msg("/performer/mix", 0.7))).dgram)
    wait_for(lambda: len(changes) == 1)
    assert changes[0].time >= outer_time - 0.02


def test_stop_drops_bundles_not_yet_due(rig, changes):
    server = OscServer(rig, port=0).start()
    p = Peer(server.port)
    p.send(bundle(time.time() + 30, msg("/performer/mix", 0.5)).dgram)
    wait_for(lambda: server.stats.scheduled == 1)
    server.stop()
    p.sock.close()
    assert server.stats.dropped == 1 and changes == [] and rig.get("mix") == 1.0


def test_pending_bundles_are_capped(rig, caplog):
    with OscServer(rig, port=0, max_pending=2) as server:
        p = Peer(server.port)
        for _ in range(3):
            p.send(bundle(time.time() + 30, msg("/performer/mix", 0.5)).dgram)
        wait_for(lambda: server.stats.received == 3)
        assert (server.stats.scheduled, server.stats.dropped) == (2, 1)
        p.sock.close()


# -- bad datagrams ----------------------------------------------------------------------------------
def test_malformed_flood_is_counted_logged_sparingly_and_survived(server, peer, caplog):
    with caplog.at_level(logging.WARNING, logger="performer.osc.in"):
        for i in range(100):
            peer.send(b"\x00garbage" if i % 2 else MIX_QUARTER[:-2])
        wait_for(lambda: server.stats.received == 100)
    assert server.stats.malformed == 100 and server.stats.messages == 0
    malformed_lines = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert 1 <= len(malformed_lines) <= server.endpoint.log.burst
    assert "dropped a malformed datagram" in malformed_lines[0].getMessage()
    peer.message("/performer/mix")  # still serving
    assert parse_packet(peer.reply()) == Message("/performer/mix", (1.0,))


@pytest.fixture(scope="module")
def fuzz_server(osc_rig):
    with OscServer(osc_rig, port=0) as running:
        peer = Peer(running.port)
        yield running, peer
        peer.sock.close()
    reset_rig(osc_rig)  # random datagrams may hold valid sets


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=120),
                      st.binary(max_size=60).map(lambda b: b"/performer/" + b),
                      st.binary(max_size=60).map(lambda b: b"#bundle\x00" + b)))
def test_random_datagrams_never_break_the_server(fuzz_server, data):
    server, peer = fuzz_server
    try:
        parse_packet(data)
        expect_malformed = False
    except MalformedPacket:
        expect_malformed = True
    before = (server.stats.received, server.stats.malformed)
    peer.send(data)
    wait_for(lambda: server.stats.received == before[0] + 1)
    assert server.stats.malformed == before[1] + expect_malformed
    assert server.running


# -- the documentation's Python client ---------------------------------------------------------------
def test_python_client_snippet_in_the_docs_runs(server, rig, capsys):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "osc.md").read_text()
    snippet = next(block for block in re.findall(r"```python\n(.*?)```", doc, re.S) if "SimpleUDPClient" in block)
    exec(compile(snippet.replace("9130", str(server.port)), "docs/osc.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["/performer/mix [0.5]", "['mix', 'mix must be in range 0..1 (dry 0 .. wet 1), got 7']"]
    assert rig.get("latent/0/offset") == 0.0
    wait_for(lambda: rig.get("output/gain") == -6.0)


def test_a_network_address_needs_an_allow_list(rig):
    with pytest.raises(ValueError, match="--osc-allow"):
        OscServer(rig, host="0.0.0.0", port=0)


def test_senders_outside_the_allow_list_are_dropped(rig):
    # Bound to every interface but allowing one far-away address: our local sender is refused...
    with OscServer(rig, host="0.0.0.0", port=0, allow=["192.0.2.7"]) as server:
        assert "127.0.0.1" in server.allow  # ...except that loopback always stays allowed
    with OscServer(rig, host="0.0.0.0", port=0, allow=["192.0.2.7"]) as server:
        server.endpoint.allow = frozenset({"192.0.2.7"})  # now loopback too is a stranger
        before = rig.get("mix")
        SimpleUDPClient("127.0.0.1", server.port).send_message("/performer/mix", 0.125)
        wait_for(lambda: server.endpoint.refused == 1)
        assert rig.get("mix") == before and server.stats.received == 0
