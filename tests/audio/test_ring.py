import numpy as np
import pytest

from performer.audio.ring import FrameRing


def frames(start, n, channels=2):
    return (np.arange(start, start + n, dtype=np.float32)[:, None] * np.ones(channels, np.float32))


def test_push_take_wraps_and_keeps_order():
    ring = FrameRing.allocate(8, 2)
    got = []
    for start in range(0, 40, 5):
        ring.push(frames(start, 5))
        out, dropped = ring.take()
        assert dropped == 0
        got.append(out)
    assert np.array_equal(np.concatenate(got)[:, 0], np.arange(40, dtype=np.float32))


def test_take_reports_frames_lost_to_an_overrun():
    ring = FrameRing.allocate(8, 1)
    for start in range(0, 20, 4):
        ring.push(frames(start, 4, 1))
    out, dropped = ring.take()
    assert dropped == 20 - 4  # skipped to the newest half of the ring
    assert np.array_equal(out[:, 0], np.arange(16, 20, dtype=np.float32))


def test_clocked_reader_plays_late_frames_as_silence_and_keeps_latency():
    ring = FrameRing.allocate(64, 1)
    ring.reset(written=8)  # 8 frames of prefill = the latency
    out = np.empty((4, 1), np.float32)
    assert ring.pull_clocked(out) == 0 and ring.read == 4
    assert ring.write_at(8, frames(100, 4, 1)) == 0
    assert ring.pull_clocked(out) == 0
    assert ring.pull_clocked(out) == 0 and np.array_equal(out[:, 0], [100, 101, 102, 103])
    assert ring.pull_clocked(out) == 4 and not out.any()  # the writer was late: silence, counted
    # the late frames are dropped, the rest lands where the fixed latency says
    assert ring.write_at(12, frames(200, 8, 1)) == 4
    assert ring.pull_clocked(out) == 0 and np.array_equal(out[:, 0], [204, 205, 206, 207])


def test_writer_ahead_of_the_device_is_refused():
    ring = FrameRing.allocate(16, 1)
    with pytest.raises(OverflowError, match="ahead of the device"):
        ring.write_at(10, frames(0, 8, 1))


def test_channel_view_shares_counters():
    ring = FrameRing.allocate(8, 4)
    mono = ring.with_channels(1)
    mono.push(np.ones((3, 1), np.float32))
    assert ring.unread() == 3 and ring.data[:3, 0].sum() == 3 and not ring.data[:, 1:].any()


def test_rejects_channel_major_buffers():
    with pytest.raises(ValueError, match="frames, channels"):
        FrameRing(np.zeros((4, 8), np.float32).T, np.zeros(2, np.int64))


def test_scale_at_touches_only_written_unread_frames_across_the_wrap():
    ring = FrameRing.allocate(8, 2)
    ring.reset(written=6)
    out = np.empty((4, 2), np.float32)
    ring.pull_clocked(out)  # read 4
    ring.write_at(6, frames(1, 5))  # frames 6..10 hold 1..5, wrapping at 8
    ring.scale_at(2, np.full(12, 0.5, np.float32))  # 2..13: read has passed 2, 3; 11.. not written
    assert ring.written == 11 and ring.read == 4
    played = np.empty((7, 2), np.float32)
    assert ring.pull_clocked(played) == 0
    assert np.array_equal(played[:, 1], [0, 0, 0.5, 1, 1.5, 2, 2.5])
