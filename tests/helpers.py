"""Small helpers the tests share."""

from ringlab.scenario.scenario import scenario_from_dict


def scenario(packets=2000, policy="buggy", stalls=None, **fields):
    """A scenario from keyword fields; ``writer_*`` and ``poller_*`` go into their tables."""
    data = {"packets": packets, "writer": {"policy": policy}, "poller": {}}
    for key, value in fields.items():
        table, _, name = key.partition("_")
        if table in ("writer", "poller"):
            data[table][name] = value
        else:
            data[key] = value
    if stalls is not None:
        data["stalls"] = stalls
    return scenario_from_dict(data)


def scripted(*stalls_ns):
    """A scripted stall table from (start_ns, length_ns) pairs."""
    return {"model": "scripted", "stalls": [[int(s), int(length)] for s, length in stalls_ns]}
