"""The one atomic writer (performer/atomic.py): whole bytes, streams and late-named uploads."""

import re
from pathlib import Path

import pytest

from performer.atomic import AtomicWriter, atomic_file, prev_path, write_atomic

PACKAGE = Path(__file__).parents[1] / "performer"


def test_a_stream_replaces_the_target_only_when_complete(tmp_path):
    path = tmp_path / "take.wav"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_file(path) as f:
            f.write(b"half")
            raise RuntimeError("disk gone")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["take.wav"]
    with atomic_file(path) as f:
        f.write(b"new")
    assert path.read_bytes() == b"new" and not prev_path(path).exists()  # streams keep no .prev unless asked


def test_a_writer_names_its_target_once_the_content_is_checked(tmp_path):
    with AtomicWriter(tmp_path, "upload.wav") as upload:
        upload.file.write(b"RIFF")
        upload.file.flush()
        assert upload.path.read_bytes() == b"RIFF" and upload.path.name.startswith(".")
        upload.commit(tmp_path / "chosen.wav")
    with AtomicWriter(tmp_path, "upload.wav") as refused:
        refused.file.write(b"not audio")  # never committed: gone at the end of the block
    assert [p.name for p in tmp_path.iterdir()] == ["chosen.wav"]
    write_atomic(tmp_path / "chosen.wav", b"again")
    assert prev_path(tmp_path / "chosen.wav").read_bytes() == b"RIFF"


def test_no_other_module_writes_its_own_temp_and_rename():
    """audio/files.py and web/app.py had their own mkstemp + os.replace writers."""
    for path in PACKAGE.rglob("*.py"):
        if path.name == "atomic.py" or path.parent.name == "shared":
            continue
        text = path.read_text(encoding="utf-8")
        assert not ("mkstemp" in text and re.search(r"os\.(replace|rename)\(", text)), path
