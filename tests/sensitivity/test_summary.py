"""Scores and the one-line summary."""

from __future__ import annotations

from performer.sensitivity.summary import score, scores, strongest, summarise

QUIET = {"pitch": 0.0, "loudness": 0.02, "brightness": 0.05, "noise": 0.01, "timing": 0.0, "timbre": 0.1}


def test_score_is_half_at_the_reference_and_never_saturates():
    assert score(50.0, 50.0) == 0.5
    assert score(-3.0, 3.0) == 0.5  # signed measures count by size
    assert score(None, 3.0) == 0.0
    assert score(1000.0, 50.0) < score(2000.0, 50.0) < 1.0


def test_scores_are_means_over_the_bends():
    results = {"a": {"pitch_cents": 50.0, "loudness_db": 0.0}, "b": {"pitch_cents": None, "loudness_db": 3.0}}
    got = scores(results)
    assert got["pitch"] == 0.25 and got["loudness"] == 0.25 and got["timing"] == 0.0


def test_summaries():
    assert summarise(QUIET) == "almost inaudible"
    assert summarise({**QUIET, "pitch": 0.8, "timbre": 0.7}) == "mostly pitch"
    assert summarise({**QUIET, "loudness": 0.7, "noise": 0.6, "timbre": 0.7}) == "loudness and noise"
    assert summarise({**QUIET, "loudness": 0.7, "noise": 0.6, "brightness": 0.5}) == "loudness, noise and brightness"
    assert summarise({k: 0.8 for k in QUIET}) == "changes everything"
    assert summarise({**QUIET, "timbre": 0.5}) == "mostly timbre"  # only the overall distance stands out
    assert summarise({**QUIET, "noise": 0.2, "timbre": 0.25}) == "slight timbre"
    assert summarise({**QUIET, "loudness": 0.9}, broken=2) == "mostly loudness; 2 bends made NaN/Inf (muted)"
    assert strongest({**QUIET, "noise": 0.6, "timbre": 0.9}) == "noise"
    assert strongest(QUIET) == "timbre"
