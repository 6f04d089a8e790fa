"""Peers and ceilings the churnwatch worker is compared with (benchmark code only, not the product).

Each peer runs as its own process and prints one JSON object on its last stdout line.
"""

import resource


def cpu_seconds() -> float:
    """User plus system CPU time of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime
