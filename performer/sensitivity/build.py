"""Getting a model's map: from the cache when it is there, measuring what is missing otherwise,
saving as it goes (a stopped run keeps every tensor it finished)."""

from __future__ import annotations

import time
from typing import Callable, Iterable

from performer.model.loader import NNModel
from performer.model.tensors import describe_tensors
from performer.sensitivity.cache import MapCache, model_info
from performer.sensitivity.profile import SensitivityMap
from performer.sensitivity.run import Progress, Settings, measure_model, select_tensors

SAVE_EVERY_S = 1.0  # at most this often while measuring (a full RAVE has hundreds of tensors)


def build_map(model: NNModel, settings: Settings = Settings(), tensors: Iterable[str] | None = None,
              cache: MapCache | None = None, refresh: bool = False,
              progress: Callable[[Progress], None] | None = None) -> SensitivityMap:
    """The map of ``model`` for ``tensors`` (default: all). ``cache`` None: nothing is read or
    written; ``refresh``: measure again even what the cache has."""
    infos = describe_tensors(model.module)
    info = model_info(model, infos)
    found = None if cache is None or refresh else cache.load(info, settings)
    if found is None:
        found = SensitivityMap(info, settings, order=[t.name for t in infos])
    wanted = None if tensors is None else [infos[i].name for i in select_tensors(infos, tensors)]
    if wanted is not None and all(name in found.tensors for name in wanted):
        return found
    if wanted is None and found.complete:
        return found
    last_save = time.monotonic()

    def step(p: Progress) -> None:
        nonlocal last_save
        if p.result is not None:
            found.tensors[p.result.name] = p.result
            if cache is not None and (time.monotonic() - last_save >= SAVE_EVERY_S or p.done == p.total):
                cache.save(found)
                last_save = time.monotonic()
        if progress:
            progress(p)

    try:
        measure_model(model, settings, wanted, done=found.tensors, progress=step)
    finally:
        if cache is not None and found.tensors:
            cache.save(found)
    return found
