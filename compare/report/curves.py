"""Loss curves from sweep results, with confidence intervals, and the pairing of simulated and
measured points of the same scenario.

Loss gets a binomial (Wilson) interval, as asked of a proportion; since packets are lost in bursts
(a whole stall's worth at once) and not one by one, that interval is a lower bound on the real
uncertainty, so the comparison statistics use the repeat-to-repeat spread where there are repeats.
Other figures get a t interval over repeats.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.stats

from ringlab.compare.sweeps.table import FIGURES, LATENCY_COLUMNS, TABLE_FILE, read_table
from ringlab.errors import InputError
from ringlab.scenario.units import parse_time_ns

CONFIDENCE = 0.95


@dataclass(frozen=True)
class CurvePoint:
    """One backend's aggregate at one parameter setting (over its repeats)."""

    backend: str
    setting: tuple[tuple[str, str], ...]  # every varied parameter and its value
    repeats: int
    lost: int
    packets: int
    loss: float
    loss_low: float
    loss_high: float
    loss_se: float  # for comparisons: max(binomial, repeat-to-repeat) standard error
    means: dict  # figure -> (mean, half-width of its interval)


def _value_ns(text: str) -> float:
    """Sort and plot a parameter value: a time in ns if it is one, else a number, else as is."""
    try:
        return float(parse_time_ns(text, "value"))
    except InputError:  # not a time: try a number
        try:
            return float(text)
        except ValueError:
            return float("nan")


def load_rows(sweep_dirs) -> tuple[list[dict], list[str]]:
    """Rows of every sweep's table, and the varied parameters (columns shared by all)."""
    rows, varied = [], None
    for directory in sweep_dirs:
        table = read_table(Path(directory) / TABLE_FILE)
        for row in table:
            row["_dir"] = str(directory)
        rows.extend(table)
        fixed_columns = {"backend", "repeat", "seed", "point", "_dir"} | set(FIGURES) | set(LATENCY_COLUMNS)
        columns = [c for c in (table[0] if table else {}) if c not in fixed_columns]
        varied = columns if varied is None else [c for c in varied if c in columns]
    return rows, varied or []


def _float(text) -> float:
    return float(text) if text not in ("", "None", None) else float("nan")


def aggregate(rows: list[dict], varied: list[str]) -> list[CurvePoint]:
    """One :class:`CurvePoint` per backend and setting of the varied parameters."""
    groups = defaultdict(list)
    for row in rows:
        groups[(row["backend"], tuple((p, row[p]) for p in varied))].append(row)
    points = []
    for (backend, setting), group in groups.items():
        lost = sum(int(r["dropped_full"]) + int(r["lost_before_ring"]) for r in group)
        packets = sum(int(r["packets"]) for r in group)
        interval = scipy.stats.binomtest(lost, packets).proportion_ci(CONFIDENCE, method="wilson")
        loss = lost / packets
        binomial_se = np.sqrt(max(loss * (1 - loss), 1.0 / packets) / packets)
        per_repeat = np.array([(int(r["dropped_full"]) + int(r["lost_before_ring"])) / int(r["packets"]) for r in group])
        repeat_se = per_repeat.std(ddof=1) / np.sqrt(len(group)) if len(group) > 1 else 0.0
        figures = {
            "reorder_fraction": [int(r["out_of_order"]) / max(1, int(r["delivered"])) for r in group],
            "drops_per_stall_mean": [_float(r["drops_per_stall_mean"]) for r in group],
            "recovery_median_ns": [_float(r["recovery_median_ns"]) for r in group],
            **{column: [_float(r.get(column)) for r in group] for column in LATENCY_COLUMNS},
        }
        points.append(CurvePoint(
            backend, setting, len(group), lost, packets, loss, interval.low, interval.high,
            float(max(binomial_se, repeat_se)), {name: mean_interval(v) for name, v in figures.items()},
        ))
    return sorted(points, key=lambda p: (p.backend, [_value_ns(v) for _, v in p.setting]))


def mean_interval(values) -> tuple[float, float]:
    """Mean and the half-width of its t interval (NaN half-width with a single value)."""
    values = np.asarray([v for v in values if not np.isnan(v)], float)
    if len(values) == 0:
        return float("nan"), float("nan")
    if len(values) == 1:
        return float(values[0]), float("nan")
    half = scipy.stats.t.ppf(0.5 + CONFIDENCE / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(half)


@dataclass(frozen=True)
class PairedPoint:
    """A model's (simulated) and a measured aggregate of the same setting, and how far apart they are."""

    setting: tuple[tuple[str, str], ...]
    sim: CurvePoint
    hw: CurvePoint

    @property
    def residual(self) -> float:
        return self.hw.loss - self.sim.loss

    @property
    def z(self) -> float:
        """The residual in units of its standard error (both sides' errors combined)."""
        se = np.hypot(self.hw.loss_se, self.sim.loss_se)
        return float(self.residual / se) if se > 0 else float("nan")


def pair(points: list[CurvePoint], model: str = "sim") -> list[PairedPoint]:
    """The measured points with the ``model`` backend's point of the same setting (``sim``: the
    scenario simulated; ``replay``: simulated from what was measured)."""
    models = {p.setting: p for p in points if p.backend == model}
    return [PairedPoint(p.setting, models[p.setting], p) for p in points if p.backend == "hw" and p.setting in models]


@dataclass(frozen=True)
class GoodnessOfFit:
    """Chi-square of the z residuals: do the curves agree within their error bars?"""

    chi2: float
    dof: int
    p_value: float


def goodness_of_fit(z_scores) -> GoodnessOfFit:
    z = np.asarray([v for v in z_scores if np.isfinite(v)], float)
    chi2 = float(np.sum(z ** 2))
    return GoodnessOfFit(chi2, len(z), float(scipy.stats.chi2.sf(chi2, len(z))) if len(z) else float("nan"))


def warning_sizes(run_dir) -> np.ndarray:
    """The ``missed`` counts of a run's warnings (positive: a gap; negative: an old packet)."""
    path = Path(run_dir) / "warnings.log"
    values = [int(line.split()[2]) for line in path.read_text().splitlines() if line.startswith("WARN:")]
    return np.asarray(values, np.int64)


def two_sample_test(sim_values, hw_values):
    """Kolmogorov-Smirnov two-sample test; None where a side has no values. Where SciPy's exact
    p-value does not converge (large samples with ties) it takes the asymptotic one, and the result
    says so instead of a warning on the terminal."""
    if len(sim_values) == 0 or len(hw_values) == 0:
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        result = scipy.stats.ks_2samp(sim_values, hw_values)
    method = "asymptotic (the exact calculation did not converge)" if caught else "exact or asymptotic, as SciPy chose"
    return {"statistic": float(result.statistic), "p_value": float(result.pvalue), "method": method,
            "sim_count": int(len(sim_values)), "hw_count": int(len(hw_values))}
