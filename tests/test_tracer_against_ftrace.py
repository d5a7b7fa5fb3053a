"""ringlab's BPF tracer checked against the kernel's own account: a private ftrace instance records
the poller's CPU (context switches, device interrupts, softirqs) during a real trial and during
`hw profile`. Every event ftrace saw is in ringlab's log but for those the tracer says it could not
see (probes the kernel skipped) and a rare unexplained few (MISSED_UNEXPLAINED_SHARE); no pause ringlab
named "no kernel event" comes out otherwise when its rule runs on ftrace's account (beyond
ftrace's microsecond rounding). The instance is gone afterwards, whatever happened."""

import numpy as np
import pytest

from ringlab.hw.kernel.ftrace import INSTANCE_PREFIX, FtraceInstance, as_ringlab_log, missing_from_log
from ringlab.hw.kernel.pause_sources import NO_KERNEL_EVENT, TRACED_SHARE_MIN, cpu_activity, name_pauses
from ringlab.hw.kernel.tracer import TRACEFS, irq_names
from ringlab.scenario.fields import scenario_from_dict

pytestmark = [pytest.mark.hardware, pytest.mark.usefixtures("clean_hardware")]
POLLER_CPU = 0
FTRACE_RESOLUTION_NS = 1_000  # the trace file prints microseconds
# Events ftrace saw that ringlab's log lacks with no probe skip counted, cause not found yet: softirqs
# (SCHED, RCU, TIMER) in trials, once a switch away from the poller in hw profile; 0 in most runs,
# at most 6 of 2 180 (0.3 %) in 17 runs. The check holds them under 1 % of what ftrace saw.
MISSED_UNEXPLAINED_SHARE = 0.01


def assert_log_holds(seen, log, tracing) -> list:
    """ringlab's log holds what ftrace saw but for what the tracer may miss; the events it missed."""
    missing = missing_from_log(seen, log)
    allowed = tracing["kernel_probe_recursion_misses"] + MISSED_UNEXPLAINED_SHARE * len(seen)
    assert len(missing) <= allowed, (len(missing), len(seen), missing[:5])
    return missing


def without_missed(starts_ns, lengths_ns, missing) -> tuple[np.ndarray, np.ndarray]:
    """The pauses that hold none of the events ringlab's log missed (a pause holding one is named
    without it: that miss is already counted above)."""
    starts_ns, lengths_ns = np.asarray(starts_ns, np.int64), np.asarray(lengths_ns, np.int64)
    keep = np.ones(len(starts_ns), bool)
    for event in missing:
        keep &= ~((starts_ns <= event.ts_ns + FTRACE_RESOLUTION_NS) & (event.ts_ns <= starts_ns + lengths_ns))
    return starts_ns[keep], lengths_ns[keep]


def named_from_ftrace(seen, starts_ns, lengths_ns) -> list[str]:
    """The pauses named by ringlab's own rule (hw/kernel/pause_sources.py) from ftrace's account
    instead of ringlab's log, where that names them clearly: ftrace prints microseconds, so a share
    within a microsecond or two of the rule's threshold can fall either side of it."""
    pollers = {int(e.fields["next_pid"]) for e in seen if e.event == "sched_switch" and e.fields["next_comm"] == "rl-poller"}
    assert len(pollers) == 1, pollers
    activity = cpu_activity(as_ringlab_log(seen), pollers.pop(), irq_names())
    lengths_ns = np.asarray(lengths_ns, np.int64)
    names, shares = name_pauses(np.asarray(starts_ns, np.int64), lengths_ns, activity)
    rounding = 2 * FTRACE_RESOLUTION_NS / np.maximum(lengths_ns, 1)
    return [name if share - rounding[i] >= TRACED_SHARE_MIN else NO_KERNEL_EVENT
            for i, (name, share) in enumerate(zip(names, shares))]


def assert_no_instance_left():
    assert not list((TRACEFS / "instances").glob(f"{INSTANCE_PREFIX}*"))


def test_ringlabs_log_holds_what_ftrace_saw_during_a_trial():
    from ringlab.hw.trial.run import run_trial

    scenario = scenario_from_dict({"name": "ftrace", "packets": 100_000, "interval": "20us", "drain": "5ms",
                                   "writer": {"policy": "fixed"},
                                   "stalls": {"model": "scripted", "stalls": [["500ms", "1ms"]]}})
    with FtraceInstance(POLLER_CPU) as ftrace:
        result = run_trial(scenario)
        seen, overrun = ftrace.stop()
    assert_no_instance_left()
    assert overrun == 0 and result.tracing["kernel_events_lost"] == 0
    log = result.kernel_events
    assert sum(event.event == "sched_switch" for event in seen) > 10  # the sender's start, the kernel's threads
    missing = assert_log_holds(seen, log, result.tracing)
    pauses = result.trace.pauses
    quiet = np.array([pauses.source_names[s] == NO_KERNEL_EVENT for s in pauses.source])
    starts = pauses.start_ns[quiet] + result.start_ns
    assert quiet.any()  # the hypervisor pauses this VM many times a second
    named = named_from_ftrace(seen, *without_missed(starts, pauses.length_ns[quiet], missing))
    assert [name for name in named if name != NO_KERNEL_EVENT] == []


def test_ringlabs_log_holds_what_ftrace_saw_during_hw_noise():
    from ringlab.hw.trial.idle_profile import measure_idle_profile

    with FtraceInstance(POLLER_CPU) as ftrace:
        profile = measure_idle_profile(2_000_000_000, POLLER_CPU, 1_000, keep_events=True)
        seen, overrun = ftrace.stop()
    assert_no_instance_left()
    assert overrun == 0 and profile.tracing["kernel_events_lost"] == 0
    assert len(seen) > 100  # timer softirqs at least
    missing = assert_log_holds(seen, profile.events, profile.tracing)
    quiet = np.array([source == NO_KERNEL_EVENT for source in profile.source], dtype=bool)
    assert quiet.any()
    named = named_from_ftrace(seen, *without_missed(profile.pause_start_ns[quiet], profile.pause_length_ns[quiet], missing))
    assert [name for name in named if name != NO_KERNEL_EVENT] == []


def test_the_instance_is_removed_when_the_block_fails():
    with pytest.raises(RuntimeError), FtraceInstance(POLLER_CPU):
        assert list((TRACEFS / "instances").glob(f"{INSTANCE_PREFIX}*"))
        raise RuntimeError("the block failed")
    assert_no_instance_left()


def test_an_instance_a_killed_process_left_is_removed_by_the_next_cleanup():
    import subprocess
    import sys

    left = TRACEFS / "instances" / f"{INSTANCE_PREFIX}{2**22 + 1}"  # above any pid this kernel hands out
    left.mkdir()
    result = subprocess.run([sys.executable, "-m", "ringlab.cli", "hw", "cleanup"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and left.name in result.stdout + result.stderr
    assert_no_instance_left()
