"""ringlab: loss and reordering in an XDP-to-poller map ring, simulated, measured and compared.

The shared vocabulary lives here: the scenario (:mod:`ringlab.scenario`), stall models and the
stall schedules they draw (:mod:`ringlab.stalls`), the per-packet trace (:mod:`ringlab.trace`) and
the analysis both backends are measured by (:mod:`ringlab.analysis`). The backends are
:mod:`ringlab.sim` (the simulator) and :mod:`ringlab.hw` with :mod:`ringlab.bpf` (real XDP);
:mod:`ringlab.compare` puts them side by side. docs/model.md explains the model.

The Python API, for a notebook::

    import ringlab
    scenario = ringlab.load_scenario("examples/buggy-one-stall.toml").with_values({"interval": "2us"})
    result = ringlab.run(scenario)            # the simulator; ringlab.run(scenario, "hw") on real XDP
    result.summary.dropped_full, result.trace.to_dataframe()

Importing ringlab is cheap: the names below load their modules on first use.
"""

import importlib

_API = {
    "load_scenario": "ringlab.scenario",
    "scenario_from_dict": "ringlab.scenario",
    "Scenario": "ringlab.scenario",
    "run": "ringlab.runner",
    "RunResult": "ringlab.runner",
    "Trace": "ringlab.trace",
    "summarize": "ringlab.analysis",
    "write_run_directory": "ringlab.run_directory",
    "load_run": "ringlab.run_directory",
    "plot_run": "ringlab.timeline_plot",
}
__all__ = sorted(_API) + ["__version__"]


def __getattr__(name):
    if name == "__version__":
        from ringlab.provenance import version

        return version()
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'ringlab' has no attribute {name!r}")
