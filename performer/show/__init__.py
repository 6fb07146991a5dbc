"""The Show: the composition root of ``performer serve`` (see show.py)."""

from performer.show.show import Show, ShowOptions

__all__ = ["Show", "ShowOptions"]
