"""What the host took from this VM while a bench or a realtime test ran: a stolen CPU makes every
thread late, so late frames mean little without it."""

from __future__ import annotations


def cpu_ticks() -> tuple[int, int]:
    """(steal, total) jiffies of all CPUs so far, from /proc/stat (0, 0 where there is none)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    steal = fields[7] if len(fields) > 7 else 0
    return steal, sum(fields[:8])


def steal_since(start: tuple[int, int]) -> float | None:
    """Share of the machine's CPU time the hypervisor gave elsewhere since ``start`` (cpu_ticks())."""
    steal, total = cpu_ticks()
    if total <= start[1]:
        return None
    return round((steal - start[0]) / (total - start[1]), 3)
