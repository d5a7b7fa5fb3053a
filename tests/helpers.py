"""Small helpers the tests share."""

import re
import signal
import subprocess
import textwrap
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

import ringlab
from ringlab.analysis.summary import format_warnings, poller_warnings
from ringlab.compare.model.predict import merged_pauses
from ringlab.scenario.fields import WRITER_POLICIES, load_scenario, scenario_from_dict
from ringlab.scenario.plan import RunPlan, draw_plan

ROOT = Path(__file__).resolve().parent.parent
BUGGY_EXAMPLE = ROOT / "examples" / "buggy-one-stall.toml"


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


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_signallable(command, **options) -> subprocess.Popen:
    """Start ``command`` with SIGINT at its default disposition, whatever this process inherited.

    A suite started without job control (in the background, under nohup, by many CI runners) has
    SIGINT ignored, and a child Python keeps it ignored: a test that sends SIGINT must undo that."""
    return subprocess.Popen(command, preexec_fn=_default_sigint, **options)


@st.composite
def any_scenario(draw):
    """Any small scenario: every policy, stall model, ring size, cost and writer CPUs."""
    stalls = draw(st.sampled_from([
        None,
        {"model": "renewal", "run": {"dist": "expon", "scale": "30us"}, "length": {"dist": "expon", "scale": "15us"}},
        {"model": "periodic", "period": "40us", "length": "25us", "phase": "3us"},
        scripted((100_000, 40_000)),
    ]))
    return scenario(
        draw(st.integers(1, 400)), draw(st.sampled_from(WRITER_POLICIES)), stalls,
        seed=draw(st.integers(0, 1000)), ring_slots=draw(st.integers(1, 20)),
        interval=draw(st.integers(50, 2000)), jitter=draw(st.integers(0, 500)),
        drain=draw(st.integers(0, 100_000)),
        writer_cpus=draw(st.integers(1, 3)), writer_cost=draw(st.integers(0, 500)),
        writer_lock_hold=draw(st.integers(0, 50)), writer_rss=draw(st.sampled_from(["round_robin", "random"])),
        poller_cost=draw(st.integers(0, 500)), poller_wakeup=draw(st.integers(0, 200)),
    )


COLUMNS = ("slot", "fate", "decided_ns", "writer_index_after", "delivery_ns", "delivery_order", "blocked_by")


def assert_same_trace(reference, fast):
    """Two traces with the same columns and the same warnings, packet for packet."""
    for name in COLUMNS:
        assert np.array_equal(getattr(reference, name), getattr(fast, name)), name
    assert format_warnings(poller_warnings(reference.delivered_ids())) == format_warnings(
        poller_warnings(fast.delivered_ids()))


def run_with_pauses(sc, start, length, labels) -> ringlab.RunResult:
    """``sc`` simulated with these background pauses (start, length, source label) added to its stalls."""
    plan = draw_plan(sc)
    pauses = merged_pauses(plan.stalls, start, length, np.unique(labels, return_inverse=True)[1],
                           tuple(np.unique(labels)))
    return ringlab.run(sc, plan=RunPlan(plan.arrival_ns, plan.cpu, pauses.schedule(), plan.end_ns, pauses),
                       keep_trace=True)


def readme_api_block() -> str:
    """The README's Python API block."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


# A competing process a hardware test starts itself, pinned to the poller's CPU (tests/test_predict_hardware.py,
# tests/test_diff_hardware.py): a source of pauses the test controls.
POLLER_CPU = 0
SPINNER = textwrap.dedent("""
    import ctypes, os, sys, time
    busy_ns, period_ns = int(sys.argv[1]), int(sys.argv[2])
    os.sched_setaffinity(0, {POLLER_CPU})  # this process only: it is the test's own
    ctypes.CDLL(None).prctl(15, b"rl-spinner", 0, 0, 0)
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))  # its own: it takes the CPU when it wakes
    print("ready", flush=True)
    while True:  # busy_ns of work every period_ns, until the test kills it
        end = time.monotonic_ns() + busy_ns
        while time.monotonic_ns() < end:
            pass
        time.sleep((period_ns - busy_ns) / 1e9)
""").replace("POLLER_CPU", str(POLLER_CPU))
SPINNER_BUSY_NS = 2_000_000


def spinner_cost(background_loss: float) -> float:
    """The loss the spinner is made to cost: ten times the machine's own measured in the same test,
    at least 3 %, at most 40 %."""
    return min(0.4, max(0.03, 10 * background_loss))


def spinner_period_ns(cost: float, ring_ns: int) -> int:
    """The spinner's period for ``cost``: each busy spell holds the poller for SPINNER_BUSY_NS and drops
    what arrives after the ring has filled, (busy - ring time) / period of the packets."""
    return max(SPINNER_BUSY_NS + 1_000_000, int((SPINNER_BUSY_NS - ring_ns) / cost))


def quiet_scenario(packets: int):
    """The fixed example at T = 20 us with no injected stall: only the machine's own pauses."""
    return load_scenario(ROOT / "examples" / "fixed-one-stall.toml").with_values(
        {"interval": "20us", "packets": packets, "stalls": {"model": "none"}, "drain": "2ms"})
