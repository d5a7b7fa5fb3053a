"""A receiver whose frames come from another host starts its clock from the first frame it sees,
taken at that frame's planned time: frame 1 may be lost, and a later frame must not be taken for it."""

import numpy as np

from ringlab.hw.machine.wire import LOG_DTYPE
from ringlab.hw.trial.run import first_frame
from ringlab.scenario.plan import draw_plan
from tests.helpers import scenario


def test_the_clock_starts_from_the_earliest_frame_seen_at_its_planned_time():
    plan = draw_plan(scenario(100, interval=1_000))
    log = np.zeros(128, LOG_DTYPE)
    assert first_frame(log, plan) is None
    start_ns = 5_000_000_000
    for packet in (3, 4, 5):  # frames 1 and 2 never reached the XDP program
        log["seen_ns"][packet] = start_ns + plan.arrival_ns[packet - 1] + 150
    first = first_frame(log, plan)
    assert first == 3
    assert int(log["seen_ns"][first]) - int(plan.arrival_ns[first - 1]) == start_ns + 150
    log["seen_ns"][7] = start_ns  # out of order: seen before frame 3 although planned after it
    assert first_frame(log, plan) == 7
