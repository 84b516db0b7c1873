"""Percentiles and the machine description shared by the benchmarks. Pure functions."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def machine() -> str:
    cpus = os.cpu_count() or 0
    return (
        f"{cpus} cores, CPU only, {platform.machine()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
