"""The trials the prediction benchmarks run: the fixed writer, no injected stall (every drop is the
machine's own), a setting (N, T) for a time."""

from ringlab.scenario.fields import scenario_from_dict


def quiet_trial(prefix: str, slots: int, interval_ns: int, seconds: float, seed: int):
    """The scenario of one such trial, named by ``prefix`` and its setting."""
    return scenario_from_dict({"name": f"{prefix}-N{slots}-T{interval_ns // 1000}us", "seed": seed,
                               "ring_slots": slots, "interval": f"{interval_ns}ns",
                               "packets": int(seconds * 1e9 / interval_ns), "drain": "2ms",
                               "writer": {"policy": "fixed"}, "stalls": {"model": "none"}})
