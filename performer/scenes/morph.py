"""Morph between two states: what ``scene/morph`` (0..1) hears between ``scene/a`` and ``scene/b``.

Continuous fields (amount, percent, a transform's numeric parameters, latent bends, mix and gains)
are interpolated; categorical ones (mode, seed, bypass) switch at 0.5, as an Octatrack's
crossfader does. Two slots with different transforms cannot be blended in parameter space, so the
morph fades the first out (amount -> 0 at 0.5) and the second in: the transform switches at 0.5,
where neither is heard, so nothing jumps. A slot only one side has is faded from/to amount 0.
Both ends are the scenes themselves, exactly.
"""

from __future__ import annotations

import copy

CONTINUOUS_GLOBALS = ("mix", "input/gain", "output/gain")


def morph_state(a: dict, b: dict, x: float) -> dict:
    """The state at position ``x`` (clamped to 0..1) from ``a`` (0) to ``b`` (1)."""
    x = 0.0 if x != x else min(1.0, max(0.0, float(x)))
    if x == 0.0:
        return copy.deepcopy(a)
    if x == 1.0:
        return copy.deepcopy(b)
    ta, tb = a.get("tensors", {}), b.get("tensors", {})
    tensors = {}
    for name in list(ta) + [n for n in tb if n not in ta]:
        ca, cb = ta.get(name, []), tb.get(name, [])
        chain = [_slot(ca[i] if i < len(ca) else None, cb[i] if i < len(cb) else None, x)
                 for i in range(max(len(ca), len(cb)))]
        if chain:
            tensors[name] = chain
    return {"tensors": tensors, "latent": _latent(a.get("latent", {}), b.get("latent", {}), x),
            "globals": _globals(a.get("globals", {}), b.get("globals", {}), x),
            "selected": a.get("selected", 0) if x < 0.5 else b.get("selected", 0)}


def _lerp(p: float, q: float, x: float) -> float:
    return (1.0 - x) * p + x * q  # exact at both ends


def _silent(slot: dict) -> dict:
    return dict(copy.deepcopy(slot), amount=0.0)


def _slot(sa: dict | None, sb: dict | None, x: float) -> dict:
    if sa is None:
        sa = _silent(sb)
    if sb is None:
        sb = _silent(sa)
    if sa.get("transform") != sb.get("transform"):
        # fade the one out, the other in; the transform changes where neither is heard
        near, weight = (sa, 1.0 - 2.0 * x) if x < 0.5 else (sb, 2.0 * x - 1.0)
        return dict(copy.deepcopy(near), amount=near.get("amount", 1.0) * weight)
    out = copy.deepcopy(sa if x < 0.5 else sb)  # categorical fields switch at 0.5
    for key in ("amount", "percent"):
        out[key] = _lerp(sa.get(key, 1.0), sb.get(key, 1.0), x)
    transform = sa.get("transform")
    pa = (sa.get("params") or {}).get(transform, {})
    pb = (sb.get("params") or {}).get(transform, {})
    blended = dict(out.get("params", {}).get(transform, {}))
    for name in set(pa) & set(pb):
        if _number(pa[name]) and _number(pb[name]):
            value = _lerp(pa[name], pb[name], x)
            both_int = isinstance(pa[name], int) and isinstance(pb[name], int)
            blended[name] = round(value) if both_int else value  # integer parameters stay integers
    if blended:
        out.setdefault("params", {})[transform] = blended
    return out


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _latent(la: dict, lb: dict, x: float) -> dict:
    out = {}
    for kind, neutral in (("scale", 1.0), ("offset", 0.0)):
        va, vb = la.get(kind, []), lb.get(kind, [])
        n = max(len(va), len(vb))
        va = list(va) + [neutral] * (n - len(va))
        vb = list(vb) + [neutral] * (n - len(vb))
        out[kind] = [_lerp(p, q, x) for p, q in zip(va, vb)]
    return out


def _globals(ga: dict, gb: dict, x: float) -> dict:
    out = dict(ga if x < 0.5 else gb)  # bypass (and anything categorical) switches at 0.5
    for name in CONTINUOUS_GLOBALS:
        if _number(ga.get(name)) and _number(gb.get(name)):
            out[name] = _lerp(ga[name], gb[name], x)
    return out
