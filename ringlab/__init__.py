"""ringlab: loss and reordering in an XDP-to-poller map ring, simulated, measured and compared.

The core reads as the pipeline: :mod:`ringlab.scenario` (what to run: the scenario, its stall
models, the plan drawn from its seed), :mod:`ringlab.trace` (what a run records),
:mod:`ringlab.analysis` (what it means), :mod:`ringlab.runs` (one way to run and store it, with the
backends registered) and :mod:`ringlab.views` (how it looks). The backends are :mod:`ringlab.sim`
(the simulator) and :mod:`ringlab.hw` with :mod:`ringlab.bpf` (real XDP); :mod:`ringlab.compare`
puts them side by side. docs/model.md explains the model.

The Python API, for a notebook::

    import ringlab
    scenario = ringlab.load_scenario("examples/buggy-one-stall.toml").with_values({"interval": "2us"})
    result = ringlab.run(scenario)            # the simulator; ringlab.run(scenario, "hw") on real XDP
    result.summary.dropped_full, result.trace.to_dataframe()

Importing ringlab is cheap: the names below load their modules on first use.
"""

import importlib
from pathlib import Path

# From a checkout, with its root first on the path (Python started there), this folder is imported
# and the backends sit beside it, not inside it: make them this package's subpackages, as the
# install does (pyproject.toml maps sim/ to ringlab.sim, and so on).
_CHECKOUT = Path(__file__).resolve().parent.parent
if not Path(__file__).with_name("sim").is_dir() and (_CHECKOUT / "sim" / "backend.py").is_file():
    __path__.append(str(_CHECKOUT))

_API = {
    "load_scenario": "ringlab.scenario.fields",
    "scenario_from_dict": "ringlab.scenario.fields",
    "Scenario": "ringlab.scenario.fields",
    "run": "ringlab.runs.runner",
    "RunResult": "ringlab.runs.runner",
    "Trace": "ringlab.trace.records",
    "summarize": "ringlab.analysis.summary",
    "write_run_directory": "ringlab.runs.run_directory",
    "load_run": "ringlab.runs.run_directory",
    "plot_run": "ringlab.views.timeline_plot",
}
__all__ = sorted(_API) + ["__version__"]


def __getattr__(name):
    if name == "__version__":
        from ringlab.provenance import version

        return version()
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'ringlab' has no attribute {name!r}")
