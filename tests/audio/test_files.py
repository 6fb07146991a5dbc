"""Audio files: formats, atomic writes, resampling, channel fitting, clear errors."""

import numpy as np
import pytest
import soundfile as sf

from performer.audio.files import fit_channels, read_audio, resample, write_audio
from performer.errors import AudioFileError, ChannelMismatchError


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_round_trip(tmp_path, suffix):
    audio = (np.random.default_rng(0).uniform(-0.5, 0.5, (2, 1000))).astype(np.float32)
    path = tmp_path / f"x{suffix}"
    write_audio(path, audio, 48000)
    back, rate = read_audio(path)
    assert rate == 48000 and back.shape == (2, 1000)
    assert np.max(np.abs(back - audio)) < 1e-6  # 24-bit


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "out.wav"
    write_audio(path, np.zeros((1, 10), np.float32), 44100)

    def fail(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(sf, "write", fail)
    with pytest.raises(OSError, match="disk full"):
        write_audio(path, np.ones((1, 10), np.float32), 44100)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]
    assert read_audio(path)[0].max() == 0.0  # the previous file is intact


@pytest.mark.parametrize("name,content,message", [
    ("missing.wav", None, "audio file not found"),
    ("junk.wav", b"RIFF not really", "cannot read .* as audio"),
    ("empty.wav", b"", "cannot read .* as audio"),
])
def test_bad_input_files(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioFileError, match=message):
        read_audio(path)


def test_zero_frames(tmp_path):
    path = tmp_path / "none.wav"
    sf.write(path, np.zeros((0, 1)), 44100)
    with pytest.raises(AudioFileError, match="no audio frames"):
        read_audio(path)


@pytest.mark.parametrize("name,message", [("out.mp3", "must end in .wav or .flac"),
                                          ("nodir/out.wav", "does not exist")])
def test_unwritable_outputs(tmp_path, name, message):
    with pytest.raises(AudioFileError, match=message):
        write_audio(tmp_path / name, np.zeros((1, 4), np.float32), 44100)


def test_resample_keeps_a_tone():
    t = np.arange(48000) / 48000
    x = np.sin(2 * np.pi * 440 * t)[None].astype(np.float32)
    y = resample(x, 48000, 44100)
    assert y.shape == (1, 44100)
    spectrum = np.abs(np.fft.rfft(y[0] * np.hanning(44100)))
    assert abs(np.argmax(spectrum) - 440) <= 1


def test_fit_channels():
    mono = np.ones((1, 5), np.float32)
    assert fit_channels(mono, 2).shape == (2, 5)
    stereo = np.stack([np.ones(5), -np.ones(5)]).astype(np.float32)
    assert np.array_equal(fit_channels(stereo, 1), np.zeros((1, 5)))
    with pytest.raises(ChannelMismatchError, match="has 3 channels but the model takes 2"):
        fit_channels(np.zeros((3, 5), np.float32), 2)
