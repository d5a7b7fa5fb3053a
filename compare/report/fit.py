"""Fitting the stalls nobody injected: a background renewal stall model whose parameters make
simulation (injected stalls plus background) reproduce a measured loss curve.

The model: runs between background stalls exponential with mean ``run_mean_ns``, stall lengths
from a ``scipy.stats`` family with scale ``length_scale_ns``. The fit minimises the squared
z-residuals of loss with ``scipy.optimize.least_squares`` (after a coarse grid for the start),
simulating with the same seeds at every trial value (common random numbers), so the objective
moves smoothly. The uncertainty comes from the Jacobian at the optimum, inflated by the reduced
chi-square when that exceeds one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.stats

from ringlab.compare.report.curves import GoodnessOfFit, goodness_of_fit
from ringlab.scenario.fields import Scenario, scenario_from_dict

PARAMETERS = ("run_mean_ns", "length_scale_ns")


@dataclass(frozen=True)
class MeasuredPoint:
    """A measured loss for a scenario whose own stalls are the injected ones."""

    scenario: Scenario
    loss: float
    loss_se: float


@dataclass(frozen=True)
class BackgroundFit:
    """Fitted background stall parameters with standard errors, and the fit before and after."""

    family: str
    values: dict  # parameter -> value (ns)
    stderr: dict  # parameter -> standard error (ns)
    before: GoodnessOfFit  # simulation with the injected stalls only
    after: GoodnessOfFit  # with the fitted background stalls too
    predicted_before: tuple[float, ...]
    predicted_after: tuple[float, ...]
    evaluations: int

    def background_spec(self) -> dict:
        return background_spec(self.family, self.values["run_mean_ns"], self.values["length_scale_ns"])


def background_spec(family: str, run_mean_ns: float, length_scale_ns: float) -> dict:
    return {"model": "renewal", "run": {"dist": "expon", "scale": max(1, int(round(run_mean_ns)))},
            "length": {"dist": family, "scale": max(1, int(round(length_scale_ns)))}}


def with_background(scenario: Scenario, background: dict | None, seed: int) -> Scenario:
    """``scenario`` with ``background`` stalls added to its own, and another seed."""
    data = scenario.to_dict()
    if background is not None:
        data["stalls"] = {"model": "superposition", "models": [data["stalls"], background]}
    data["seed"] = seed
    return scenario_from_dict(data)


def predicted_loss(scenario: Scenario, background: dict | None, seeds) -> tuple[float, float]:
    """Mean simulated loss over ``seeds`` and its standard error."""
    from ringlab.runs.runner import run

    losses = np.array([run(with_background(scenario, background, s), keep_trace=False).summary.loss_fraction
                       for s in seeds])
    se = losses.std(ddof=1) / np.sqrt(len(losses)) if len(losses) > 1 else 0.0
    return float(losses.mean()), float(se)


RUN_GRID_NS = tuple(25e3 * 2 ** i for i in range(8))     # 25 us .. 3.2 ms
LENGTH_GRID_NS = tuple(1e3 * 2 ** i for i in range(8))   # 1 us .. 128 us


def fit_background(points: list[MeasuredPoint], family: str = "expon", seeds=(101, 202, 303),
                   run_grid_ns=RUN_GRID_NS, length_grid_ns=LENGTH_GRID_NS, starts: int = 2) -> BackgroundFit:
    """Fit the background stall model to ``points``; see the module's docstring.

    A grid scored with one seed finds the ``starts`` best regions; least squares, with all seeds,
    refines each, and the best wins (the objective can have more than one valley).
    """
    evaluations = 0

    def evaluate(background, use_seeds=seeds):
        nonlocal evaluations
        evaluations += 1
        predictions = [predicted_loss(p.scenario, background, use_seeds) for p in points]
        z = np.array([(p.loss - m) / max(np.hypot(p.loss_se, se), 1e-12) for p, (m, se) in zip(points, predictions)])
        return z, [m for m, _ in predictions]

    def residuals(log_values):
        run_mean, length_scale = np.exp(log_values)
        return evaluate(background_spec(family, run_mean, length_scale))[0]

    z_before, predicted_before = evaluate(None)
    grid = list(itertools.product(run_grid_ns, length_grid_ns))
    scores = [np.sum(evaluate(background_spec(family, r, length), seeds[:1])[0] ** 2) for r, length in grid]
    results = []
    for index in np.argsort(scores)[:starts]:
        # least_squares steps x by diff_step·|x| to difference: aim for 10 % steps of the values.
        x0 = np.log(np.array(grid[index], float))
        results.append(scipy.optimize.least_squares(residuals, x0=x0, diff_step=0.1 / np.abs(x0), max_nfev=40))
    result = min(results, key=lambda r: r.cost)
    values = np.exp(result.x)
    z_after, predicted_after = evaluate(background_spec(family, *values))
    after = goodness_of_fit(z_after)
    dof = max(1, len(points) - 2)  # two fitted parameters
    inflation = max(1.0, after.chi2 / dof)
    try:
        covariance = np.linalg.inv(result.jac.T @ result.jac) * inflation
        relative = np.sqrt(np.clip(np.diag(covariance), 0, None))
    except np.linalg.LinAlgError:
        relative = np.full(2, np.inf)
    return BackgroundFit(
        family=family,
        values=dict(zip(PARAMETERS, map(float, values))),
        stderr=dict(zip(PARAMETERS, map(float, values * relative))),
        before=goodness_of_fit(z_before),
        after=GoodnessOfFit(after.chi2, dof, float(scipy.stats.chi2.sf(after.chi2, dof))),
        predicted_before=tuple(predicted_before),
        predicted_after=tuple(predicted_after),
        evaluations=evaluations,
    )
