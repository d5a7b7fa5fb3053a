"""What a run will need in memory, checked before it starts: a run that cannot fit is refused with
the figure, not attempted (and killed by the kernel half way)."""

from __future__ import annotations

from ringlab.errors import InputError
from ringlab.scenario.fields import Scenario

# Upper estimates, measured with benchmarks/sim_scale.py and sim_speed.py (83 bytes per packet for a
# fast run that keeps its trace; the SimPy model and a hardware trial hold more per packet).
BYTES_PER_PACKET = {"fast": 100, "simpy": 300, "xdp": 300}
BYTES_PER_STALL = 100   # the schedule, the pauses and the figures per stall
STREAMED_BYTES = 200 << 20  # a streamed run: its chunks, the engine and the interpreter


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (None where it cannot be read)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def needed_bytes(scenario: Scenario, engine: str, keep_trace: bool) -> int:
    """About the most memory a run of ``scenario`` takes."""
    stalls = scenario.stalls.expected_count(scenario.longest_ns)
    per_packet = scenario.packets * BYTES_PER_PACKET[engine] if keep_trace else STREAMED_BYTES
    return int(per_packet + stalls * BYTES_PER_STALL)


def check_fits(scenario: Scenario, engine: str, keep_trace: bool) -> None:
    """Refuse (an InputError naming what to change) a run that needs more memory than is available."""
    available = available_bytes()
    needed = needed_bytes(scenario, engine, keep_trace)
    if available is None or needed <= available:
        return
    gib = 1 << 30
    advice = "run it with --summary-only, which streams" if keep_trace and engine == "fast" else "run fewer packets"
    raise InputError("packets", f"this run needs about {needed / gib:.1f} GiB, more than the {available / gib:.1f} GiB "
                                f"available here: {advice}")
