from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    """One benchmark's figures, its ratio against the in-run baseline, and the target."""

    name: str
    ratio: float
    target: str
    met: bool | None
    figures: dict[str, str] = field(default_factory=dict)

    def render(self) -> str:
        figures = ", ".join(f"{key} {value}" for key, value in self.figures.items())
        verdict = {True: "met", False: "MISSED", None: "informational"}[self.met]
        return f"{self.name}: ratio {self.ratio:.3f} (target {self.target}: {verdict}); {figures}"


def median_seconds(action: Callable[[], object], *, repeat: int = 7) -> float:
    """Median wall time of `action` over `repeat` runs, after one warm-up run."""
    return statistics.median(samples_seconds(action, repeat=repeat))


def samples_seconds(action: Callable[[], object], *, repeat: int) -> list[float]:
    """Wall times of `action` over `repeat` runs after one warm-up run, fastest first."""
    action()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return sorted(samples)


def percentile(values: list[float], percent: int) -> float:
    """The nearest-rank percentile of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]
