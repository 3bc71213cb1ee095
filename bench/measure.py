"""What every benchmark reports: percentiles of timings and processes' CPU time."""

from __future__ import annotations

from tests.support.stack import cpu_seconds

__all__ = ["cpu_seconds", "percentile"]


def percentile(values: list[float], q: float) -> float:
    """The `q`th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
