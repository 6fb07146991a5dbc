"""Sensitivity maps: what bending each tensor does to pitch, loudness, brightness, noise, timing
and timbre, measured offline on a seeded probe (docs/sensitivity.md).

probe.py    the probe signal          bends.py    the standard bends, as text specs
run.py      rendering and measuring   measure.py  the six measures, render against render
summary.py  scores and the summary    profile.py  a model's map (JSON)
cache.py    maps cached per model     build.py    cache first, measure what is missing
job.py      the dashboard's background worker     cli.py  `performer sensitivity`
"""
