"""The Rig: the single source of truth, changed only through ``set(address, value)``."""

from performer.rig.rig import AudioParams, Change, Rig

__all__ = ["AudioParams", "Change", "Rig"]
