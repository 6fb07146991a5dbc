"""The dashboard's background job: a worker process at idle priority, progress as it goes."""

from __future__ import annotations

import os

import pytest

from performer.errors import AddressError
from performer.sensitivity.cache import MapCache
from performer.sensitivity.job import SensitivityJob
from performer.sensitivity.run import Settings

QUICK = Settings(bends=("invert@100",), seconds=0.5)


@pytest.fixture(scope="module")
def rig():
    from performer.model import load_model
    from performer.rig import Rig

    return Rig(load_model(None))


def test_measures_in_the_background_and_reports_each_tensor(rig, tmp_path):
    job = SensitivityJob(rig.model, rig.tensors, QUICK, MapCache(tmp_path), only=["#63", "#2"])
    events, policies = [], []

    def listener(message):
        events.append(message)
        if "tensor" in message:  # the worker is measuring: it gives way to everything else
            policies.append(os.sched_getscheduler(job._process.pid))

    job.listen(listener)
    assert job.snapshot()["state"] == "idle" and job.snapshot()["map"]["measured"] == 0
    assert job.start() == {"state": "running"}
    assert job.start() == {"state": "running"}  # one worker at a time
    assert job.wait(120) == "done", job.error
    snap = job.snapshot()
    assert snap["done"] == snap["total"] == 2 and snap["map"]["measured"] == 2
    assert set(snap["map"]["tensors"]) == {"encoder.inlet.bias", "decoder.harmonic_head.bias"}
    assert "bends" not in snap["map"]["tensors"]["encoder.inlet.bias"]  # compact for the page
    named = [e["tensor"]["name"] for e in events if "tensor" in e]
    assert named == ["encoder.inlet.bias", "decoder.harmonic_head.bias"]
    assert events[-1]["state"] == "done"
    assert policies and policies[0] == os.SCHED_IDLE
    # the worker saved to this job's cache: a new job (a restarted server) starts from it
    again = SensitivityJob(rig.model, rig.tensors, QUICK, MapCache(tmp_path))
    assert again.snapshot()["map"]["measured"] == 2 and again.snapshot()["state"] == "idle"


def test_stop_ends_the_worker_and_keeps_the_map(rig, tmp_path):
    job = SensitivityJob(rig.model, rig.tensors, QUICK, MapCache(tmp_path))
    job.start()
    process = job._process
    job.stop()
    assert process.poll() is not None and job.state == "stopped"
    assert job.wait(5) == "stopped" and job.snapshot()["state"] == "stopped"


def test_a_failing_worker_reports_why(rig, tmp_path):
    with pytest.raises(AddressError, match="no tensor matches 'no_such_tensor'"):
        SensitivityJob(rig.model, rig.tensors, QUICK, MapCache(tmp_path), only=["no_such_tensor"])
    worker = tmp_path / "python"  # stands in for the interpreter: says what went wrong, fails
    worker.write_text("#!/bin/sh\necho 'performer: error: the model file went away'\nexit 2\n")
    worker.chmod(0o755)
    job = SensitivityJob(rig.model, rig.tensors, QUICK, MapCache(tmp_path), python=str(worker))
    job.start()
    assert job.wait(30) == "error"
    assert job.error == "the measuring process ended with code 2: performer: error: the model file went away"
    assert job.snapshot()["error"] == job.error
