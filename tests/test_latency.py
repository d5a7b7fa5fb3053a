"""Latency: how long each packet waits in the ring, from the trace alone, with its tail."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import ringlab
from ringlab.analysis.latency import QUANTILES, RELATIVE_ERROR, LatencyHistogram, exact_percentile_ns, latencies, worst_per_stall
from tests.helpers import scenario, scripted


def test_a_packet_arriving_in_a_stall_waits_for_its_end_and_the_reads_ahead_of_it():
    """T = 1 us, a 10 us stall from 5 000.5 us (N = 16 holds it all). Packet 5001 + j arrives at
    5 001 + j us, inside the stall: it is read when the stall is over and the j packets ahead of it
    have been read, each taking the poller's cost c, so its latency is (end - arrival) + (j + 1) c."""
    c, end = 100, 5_010_500
    trace = ringlab.run(scenario(6000, "fixed", scripted((5_000_500, 10_000)), poller_cost=c, poller_wakeup=50,
                                 writer_cost=100, writer_lock_hold=20)).trace
    lat = latencies(trace)
    by_id = dict(zip(lat.ids.tolist(), lat.latency_ns.tolist()))
    for j in range(10):
        arrival = 5_001_000 + 1_000 * j
        assert by_id[5001 + j] == (end - arrival) + (j + 1) * c
    # Outside stalls a packet waits for the writer's copy (lock + cost), the poller to notice and read.
    assert by_id[100] == 20 + 100 + 50 + c


def test_the_buggy_writers_old_packets_wait_an_extra_ring_cycle():
    """After a stall leaves the buggy writer k = 6 slots ahead (N = 16, T = 1 us), each cycle's 10 old
    packets sat in the ring while the poller waited on the empty slot: they wait between k and N - 1
    intervals, where a packet read in order waits a fraction of one."""
    trace = ringlab.run(scenario(20_000, "buggy", scripted((5_000_000, 37_300)))).trace
    lat = latencies(trace)
    late = lat.latency_ns[lat.out_of_order]
    assert len(late) > 5000
    assert late.min() >= 6 * 1_000 and late.max() <= 16 * 1_000
    assert np.median(lat.latency_ns[~lat.out_of_order]) < 1_000
    summary = ringlab.summarize(trace)
    assert 6_000 <= summary.latency_out_of_order["p50_ns"] <= 15_000
    fixed = ringlab.summarize(ringlab.run(scenario(20_000, "fixed", scripted((5_000_000, 37_300)))).trace)
    assert fixed.latency_out_of_order["count"] == 0 and fixed.latency["p99_ns"] < 1_000


def test_the_histogram_is_within_its_stated_error_on_a_million_packets():
    trace = ringlab.run(scenario(1_000_000, "buggy", {"model": "renewal", "run": {"dist": "expon", "scale": "200us"},
                                                       "length": {"dist": "lognorm", "s": 1.0, "scale": "10us"}})).trace
    values = latencies(trace).latency_ns
    assert len(values) > 900_000
    histogram = LatencyHistogram.of(values)
    for quantile in QUANTILES.values():
        exact = exact_percentile_ns(values, quantile)
        assert abs(histogram.percentile_ns(quantile) - exact) <= RELATIVE_ERROR * exact + 0.5
    assert histogram.max_ns == values.max() and histogram.total_ns == values.sum()


@given(st.lists(st.integers(0, 10**12), min_size=1, max_size=300), st.sampled_from(list(QUANTILES.values())))
def test_every_percentile_is_within_the_stated_error(values, quantile):
    values = np.asarray(values, np.int64)
    exact = exact_percentile_ns(values, quantile)
    assert abs(LatencyHistogram.of(values).percentile_ns(quantile) - exact) <= RELATIVE_ERROR * exact + 0.5


def test_each_stall_is_charged_with_the_worst_wait_it_caused():
    trace = ringlab.run(scenario(20_000, "fixed", scripted((5_000_500, 10_000), (10_000_500, 3_000)))).trace
    worst = worst_per_stall(trace)
    assert worst[0] == 10_000 - 500 + 100  # packet 5001: the stall's rest and one read
    assert worst[1] == 3_000 - 500 + 100
    summary = ringlab.summarize(trace)
    assert summary.worst_latency_per_stall["max_ns"] == worst.max()
    assert summary.worst_latency_per_stall["worst_stall"] == 0
