"""From measured changes to what a layer does: a score per dimension and a one-line summary.

Each bend's measure becomes a score in 0..1 as ``v / (v + ref)``: half at ``ref`` (a change
anyone hears), never saturating, so strong layers still rank among themselves. A tensor's score
in a dimension is the mean over the bends. The summary names the dimensions that stand out
("mostly pitch", "loudness and noise"), or says the layer is "almost inaudible".
"""

from __future__ import annotations

# dimension: (measure, the change that scores 0.5, the word people read)
DIMENSIONS: dict[str, tuple[str, float, str]] = {
    "pitch": ("pitch_cents", 50.0, "pitch"),
    "loudness": ("loudness_db", 3.0, "loudness"),
    "brightness": ("centroid_oct", 0.25, "brightness"),
    "noise": ("hnr_db", 3.0, "noise"),
    "timing": ("onset_ms", 10.0, "timing"),
    "timbre": ("spectral", 2.0, "timbre"),
}
NAMED = ("pitch", "loudness", "brightness", "noise", "timing")  # timbre (the overall distance) names the rest
INAUDIBLE = 0.15  # no dimension scores this much: "almost inaudible"
STRONG = 0.3  # a dimension the summary names scores at least this...
NEAR_TOP = 0.6  # ...and at least this share of the top one


def score(value: float | None, ref: float) -> float:
    if value is None:
        return 0.0
    value = abs(value)
    return value / (value + ref)


def scores(results: dict[str, dict]) -> dict[str, float]:
    """Per dimension, the mean score over the bends (``results``: bend spec -> measures)."""
    out = {}
    for dim, (measure, ref, _) in DIMENSIONS.items():
        values = [score(r.get(measure), ref) for r in results.values()]
        out[dim] = round(sum(values) / len(values), 4) if values else 0.0
    return out


def summarise(dim_scores: dict[str, float], broken: int = 0) -> str:
    """One line: which dimensions the layer changes ("mostly pitch", "loudness and noise")."""
    words = [DIMENSIONS[d][2] for d in _standing_out(dim_scores)]
    if not words:
        top = max(dim_scores.values(), default=0.0)
        text = "almost inaudible" if top < INAUDIBLE else f"slight {_top_word(dim_scores)}"
    elif len(words) == 1:
        text = f"mostly {words[0]}"
    elif len(words) >= 4:
        text = "changes everything"
    else:
        text = ", ".join(words[:-1]) + f" and {words[-1]}"
    if broken:
        text += f"; {broken} bend{'s' if broken > 1 else ''} made NaN/Inf (muted)"
    return text


def _standing_out(dim_scores: dict[str, float]) -> list[str]:
    named = sorted(NAMED, key=lambda d: -dim_scores.get(d, 0.0))
    top = dim_scores.get(named[0], 0.0)
    picked = [d for d in named if dim_scores.get(d, 0.0) >= max(STRONG, NEAR_TOP * top)]
    if not picked and dim_scores.get("timbre", 0.0) >= STRONG:
        picked = ["timbre"]
    return picked


def _top_word(dim_scores: dict[str, float]) -> str:
    return DIMENSIONS[max(dim_scores, key=lambda d: dim_scores[d])][2]


def strongest(dim_scores: dict[str, float]) -> str:
    """The dimension a layer changes most (the named ones first; timbre when none stands out)."""
    out = _standing_out(dim_scores)
    return out[0] if out else max(dim_scores, key=lambda d: dim_scores[d])
