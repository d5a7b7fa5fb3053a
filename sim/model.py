"""One simulated run: the sender's arrivals, the writer CPUs, the ring (or another delivery path's
queue, sim/kernel_queue.py) and the poller in SimPy."""

from __future__ import annotations

import simpy

from ringlab.scenario.fields import Scenario
from ringlab.scenario.plan import RunPlan, draw_plan
from ringlab.sim.kernel_queue import kernel_queue
from ringlab.sim.poller import poller
from ringlab.sim.ring import EMPTY, MapRing
from ringlab.sim.wake import writer_priority
from ringlab.sim.writer import writer_cpu
from ringlab.trace.records import DELIVERED, DROPPED_FULL, IN_RING, Trace, empty_columns, trace_of_plan


def simulate(scenario: Scenario, plan: RunPlan | None = None) -> Trace:
    """Run ``scenario`` (with ``plan``, drawn from its seed if not given) and return its trace."""
    plan = plan if plan is not None else draw_plan(scenario)
    columns = empty_columns(plan.packets)
    slot, fate, blocked = columns["slot"], columns["fate"], columns["blocked_by"]
    decided_ns, index_after = columns["decided_ns"], columns["writer_index_after"]
    delivery_ns, delivery_order = columns["delivery_ns"], columns["delivery_order"]
    reads = 0

    def record_write(packet, key, blocked_by, index, now):
        slot[packet] = key
        fate[packet] = IN_RING if blocked_by == EMPTY else DROPPED_FULL
        if blocked_by != EMPTY:
            blocked[packet] = blocked_by + 1  # its id
        decided_ns[packet] = now
        index_after[packet] = index

    def record_read(packet, key, now):
        nonlocal reads
        fate[packet] = DELIVERED
        delivery_ns[packet] = now
        delivery_order[packet] = reads
        reads += 1

    env = simpy.Environment()
    ring = MapRing(env, scenario.ring_slots) if scenario.delivery.is_map_ring else kernel_queue(env, scenario)
    writer = scenario.writer
    for cpu in range(writer.cpus):
        env.process(
            writer_cpu(env, ring, writer.policy, plan.packets_of_cpu(cpu), plan.arrival_ns, writer.cost_ns,
                       writer.lock_hold_ns, writer_priority(cpu), record_write)
        )
    env.process(poller(env, ring, plan.stalls, scenario.poller.cost_ns, scenario.poller.wakeup_ns, record_read))
    env.run(until=plan.end_ns)

    return trace_of_plan(scenario, plan, columns)
