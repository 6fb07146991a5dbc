"""The bending log: written line by line as changes come, read back tolerantly, exported, and
replayed over a render at block boundaries, reproducibly."""

from __future__ import annotations

import csv
import json
import numpy as np
import pytest
import soundfile as sf

import performer.rig.rig as rig_module
from performer.audio.delay import model_delay
from performer.cli import main
from performer.model import load_model
from performer.render import change_block, render_array, render_file
from performer.rig import Rig
from performer.scenes import bendlog
from performer.scenes.bendlog import BendingLog, LogEntry, LogReplay, default_log_dir, read_log
from performer.scenes.errors import SceneError
from tests.conftest import tone

pytestmark = pytest.mark.fixtures


@pytest.fixture
def rig(small_model):
    return Rig(small_model)


def entry(t: float, address: str, value: object, source: str = "midi") -> dict:
    return {"t": t, "time": 1_700_000_000.0 + t, "address": address, "value": value, "source": source}


def write_lines(path, objects, tail: str = "") -> None:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects) + tail, encoding="utf-8")


# -- writing and reading ---------------------------------------------------------------------

def test_every_change_is_one_line_as_it_comes(rig, tmp_path):
    path = tmp_path / "session.jsonl"
    with BendingLog(rig, path) as bend_log:
        rig.set("#3/0/amount", 0.5, source="midi")
        assert len(path.read_text().splitlines()) == 1  # on disk already, not at close
        rig.set("#3/0/transform", "invert", source="osc")
        rig.set("output/gain", -6, source="web")
        name = rig.tensors[5].name
        rig.load_state({"tensors": {name: [{"transform": "scale", "amount": 0.3}]}}, source="scene")
        entries = bend_log.entries()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(entries) and all(isinstance(json.loads(line), dict) for line in lines)
    assert [(e.address, e.value, e.source) for e in entries[:3]] == [
        (f"{rig.tensors[3].name}/0/amount", 0.5, "midi"), (f"{rig.tensors[3].name}/0/transform", "invert", "osc"),
        ("output/gain", -6.0, "web")]
    state = [e for e in entries if e.address == "state"]
    assert len(state) == 1 and state[0].source == "scene"
    assert list(state[0].value["tensors"]) == [name]  # the chains themselves: replayable without the scene
    assert [e.t for e in entries] == sorted(e.t for e in entries) and entries[0].t >= 0
    assert all(abs(e.time - bend_log.started - e.t) < 1e-5 for e in entries)
    rig.set("mix", 0.5)  # closed: no longer logged
    assert len(read_log(path)) == len(entries)


def test_default_file_is_per_session_in_the_xdg_data_dir(rig, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_log_dir() == tmp_path / "data" / "performer" / "logs"
    with BendingLog(rig) as first, BendingLog(rig) as second:  # same second: two files all the same
        rig.set("mix", 0.5)
    assert first.path.parent == second.path.parent == default_log_dir()
    assert first.path != second.path and first.path.suffix == ".jsonl"
    assert len(read_log(first.path)) == len(read_log(second.path)) == 1


def test_truncated_last_line_is_ignored(tmp_path):
    path = tmp_path / "crash.jsonl"
    write_lines(path, [entry(0.0, "mix", 0.5), entry(0.5, "mix", 0.7)], tail='{"t": 0.9, "time": 17')
    assert [e.value for e in read_log(path)] == [0.5, 0.7]
    whole = path.read_bytes().rsplit(b"\n", 1)[0] + b"\n"  # a multi-byte character cut in half
    line = json.dumps(entry(1.0, "é/0/amount", 1), ensure_ascii=False).encode()
    path.write_bytes(whole + line[:line.index("é".encode()) + 1])
    assert len(read_log(path)) == 2


def test_corruption_elsewhere_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    write_lines(path, [entry(0.0, "mix", 0.5)], tail="not json\n" + json.dumps(entry(1.0, "mix", 1)) + "\n")
    with pytest.raises(SceneError, match=rf"{path}:2: not a bending log entry"):
        read_log(path)
    write_lines(path, [entry(0.0, "mix", 0.5), {"t": 1, "address": "mix"}])
    with pytest.raises(SceneError, match=r":2: .*missing time, value, source"):
        read_log(path)
    write_lines(path, [[1, 2]])
    with pytest.raises(SceneError, match=r":1: .*expected a JSON object"):
        read_log(path)
    with pytest.raises(SceneError, match="bending log not found"):
        read_log(tmp_path / "missing.jsonl")


def test_appending_after_a_crash_drops_the_cut_line_first(rig, tmp_path):
    path = tmp_path / "again.jsonl"
    write_lines(path, [entry(0.0, "mix", 0.5)], tail='{"t": 0.9, "ti')
    with BendingLog(rig, path):
        rig.set("mix", 0.25, source="web")
    assert [e.value for e in read_log(path)] == [0.5, 0.25]


def test_export_json_and_csv(rig, tmp_path):
    with BendingLog(rig, tmp_path / "s.jsonl") as bend_log:
        rig.set("#3/0/transform", "scale", source="midi")
        rig.set("latent/1/offset", 1.5, source="osc")
        rig.load_state({"tensors": {}}, source="scene")
        as_json = json.loads(bend_log.export_json(tmp_path / "s.json").read_text())
        rows = list(csv.reader(bend_log.export_csv(tmp_path / "s.csv").open(newline="")))
    assert [(r["address"], r["source"]) for r in as_json][:2] == [(f"{rig.tensors[3].name}/0/transform", "midi"),
                                                               ("latent/1/offset", "osc")]
    assert set(as_json[0]) == {"t", "time", "address", "value", "source"}
    assert rows[0] == ["time", "address", "value", "source"]
    assert rows[2][1:] == ["latent/1/offset", "1.5", "osc"] and float(rows[2][0]) >= float(rows[1][0])
    assert rows[3][1] == "state" and json.loads(rows[3][2]) == {"tensors": {}}  # a state: JSON in its cell


# -- replay ----------------------------------------------------------------------------------

def test_state_address_is_the_rigs():
    assert bendlog.STATE_ADDRESS == rig_module.STATE_ADDRESS


def test_change_block_rounds_up_to_the_next_boundary():
    assert change_block(-1.0, 44100, 2048) == 0 and change_block(0.0, 44100, 2048) == 0
    assert change_block(2048 / 44100, 44100, 2048) == 1  # exactly on a boundary: that block
    assert change_block(2049 / 44100, 44100, 2048) == 2
    assert change_block(1 / 44100, 44100, 2048) == 1


def test_replay_timeline_offset_and_failures_reported_once(rig):
    entries = [LogEntry(**entry(t, a, v)) for t, a, v in [
        (5.0, "mix", 0.5), (6.0, "no.such.tensor/0/amount", 0.1), (6.5, "no.such.tensor/0/amount", 0.2),
        (7.0, "scene/recall", "drop"), (8.0, "output/gain", -3.0)]]
    replay = LogReplay(rig, entries)
    assert [t for t, _ in replay.timeline()] == [0.0, 1.0, 1.5, 2.0, 3.0]
    assert [t for t, _ in LogReplay(rig, entries, offset=6.0).timeline()] == [-1.0, 0.0, 0.5, 1.0, 2.0]
    for _, action in replay.timeline()[:4]:
        action()
    notes = replay.notes()
    assert rig.get("mix") == 0.5 and rig.get("output/gain") == 0.0
    assert len(notes) == 3 and "no.such.tensor" in notes[0] and "(2 changes)" in notes[0]
    assert notes[1].startswith("log: scene/recall:")
    assert notes[2] == "log: 1 change after the end of the input not applied"


def render_with(model_path, audio, timeline_of):
    """Render on a fresh load (a rig installs its bends into the model it is given)."""
    rig = Rig(load_model(model_path))
    out, engine = render_array(rig, audio, timeline=timeline_of(rig))
    return out, engine


def test_a_logged_change_lands_at_its_block(small_model_path):
    audio = tone(1.0)
    plain, engine = render_with(small_model_path, audio, lambda rig: [])
    rate, block = engine.model.sample_rate, engine.block_size
    delay = model_delay(engine.model, block)
    log_entries = [LogEntry(**entry(10.0, "mix", 1.0)), LogEntry(**entry(10.3, "output/gain", -20.0))]
    k = change_block(0.3, rate, block)
    out, _ = render_with(small_model_path, audio, lambda rig: LogReplay(rig, log_entries).timeline())
    first = np.nonzero(np.any(out != plain, axis=0))[0][0]
    # aligned output: block k's output starts at k*block - delay; its gain ramp's first sample is
    # still the old gain
    assert k * block - delay <= first <= k * block - delay + 1
    settled = slice((k + 1) * block - delay, None)
    assert np.sqrt(np.mean(out[:, settled] ** 2)) < 0.9 * np.sqrt(np.mean(plain[:, settled] ** 2))  # (limited)

    bend = [LogEntry(**entry(0.0, "mix", 1.0)), LogEntry(**entry(0.5, "#10/0/transform", "invert"))]
    k = change_block(0.5, rate, block)
    out, _ = render_with(small_model_path, audio, lambda rig: LogReplay(rig, bend).timeline())
    first = np.nonzero(np.any(out != plain, axis=0))[0][0]
    assert k * block - delay <= first < (k + 1) * block - delay


def test_render_log_replays_bitwise_equal(tmp_path, small_model_path, rig, capsys):
    src = tmp_path / "in.wav"
    sf.write(src, tone(1.5)[0], 44100)
    name = rig.tensors[7].name
    lines = [entry(100.0, "mix", 1.0), entry(100.2, f"{name}/0/transform", "scale")]
    lines += [entry(100.3 + i * 0.01, f"{name}/0/factor", 1.0 + i * 0.1) for i in range(30)]  # a drag
    lines += [entry(100.8, "state", {"tensors": {rig.tensors[12].name: [{"transform": "invert", "amount": 0.7}]}},
                    "scene"),
              entry(100.9, "no.such.layer/0/amount", 0.5), entry(101.0, "no.such.layer/0/amount", 0.6),
              entry(101.1, "latent/2/offset", 1.0), entry(109.0, "mix", 0.5)]
    log_path = tmp_path / "session.jsonl"
    write_lines(log_path, lines, tail='{"t": 110')  # cut by a crash
    first, second = tmp_path / "1.wav", tmp_path / "2.wav"
    assert main(["render", str(small_model_path), str(src), str(first), "--quiet", "--log", str(log_path)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("performer: warning:")]
    assert len(warnings) == 2 and "no.such.layer/0/amount" in warnings[0] and "(2 changes)" in warnings[0]
    assert "1 change after the end of the input" in warnings[1]
    report = render_file(load_model(small_model_path), src, second, bend_log=read_log(log_path))
    assert first.read_bytes() == second.read_bytes() and len(report.notes) == 2
    plain = tmp_path / "plain.wav"
    render_file(load_model(small_model_path), src, plain)
    assert sf.read(plain)[0].shape == sf.read(first)[0].shape and plain.read_bytes() != first.read_bytes()


def test_render_log_errors_are_one_line(tmp_path, small_model_path, capsys):
    src = tmp_path / "in.wav"
    sf.write(src, np.zeros(1000), 44100)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("garbage\n" + json.dumps(entry(0, "mix", 1)) + "\n")
    assert main(["render", str(small_model_path), str(src), str(tmp_path / "o.wav"), "--quiet", "--log", str(bad)]) == 2
    assert f"performer: error: {bad}:1: not a bending log entry" in capsys.readouterr().err
    assert not (tmp_path / "o.wav").exists()
