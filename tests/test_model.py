"""The SimPy model reproduces the behaviour of docs/model.md: the buggy index, the fix, its race, and the arithmetic."""

import math

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from ringlab.analysis.summary import lasting_offset_slots, summarize
from ringlab.sim.fast_engine import run_fast
from ringlab.sim.model import simulate
from ringlab.trace.records import DELIVERED, DROPPED_FULL, IN_RING, PENDING, late_mask
from tests.helpers import any_scenario, scenario, scripted


def steady_pattern(trace, after_ns):
    """Per full cycle of N reads after ``after_ns``: how many were new (id above all before) and old."""
    delivered = np.flatnonzero(trace.fate == DELIVERED)
    delivered = delivered[np.argsort(trace.delivery_order[delivered])]
    late = late_mask(trace.id[delivered])
    late = late[trace.delivery_ns[delivered] > after_ns]
    # A cycle starts at each new packet that follows an old one.
    starts = np.flatnonzero(~late[1:] & late[:-1]) + 1
    cycles = [late[a:b] for a, b in zip(starts[:-1], starts[1:])]
    return [(int((~c).sum()), int(c.sum())) for c in cycles]


# --- 1. fixed and locked, one writer CPU ---------------------------------------------------------

@st.composite
def one_stall_runs(draw):
    interval = draw(st.integers(300, 3000))
    slots = draw(st.integers(1, 24))
    lock_hold = draw(st.integers(0, interval // 20))
    writer_cost = draw(st.integers(0, interval // 4))
    poller_cost = draw(st.integers(1, interval // 4))
    wakeup = draw(st.integers(0, interval // 5))
    stall = draw(st.integers(0, 60 * interval))
    policy = draw(st.sampled_from(["fixed", "locked"]))
    # Start the stall while the poller is idle: after the read of packet j, before packet j+1's look.
    j = draw(st.integers(5, 20))
    look = lock_hold + writer_cost if policy == "fixed" else 0  # locked looks as it takes the lock
    write = lock_hold + writer_cost
    idle_from, idle_to = j * interval + write + wakeup + poller_cost, (j + 1) * interval + look
    assume(idle_from < idle_to)
    start = draw(st.integers(idle_from, idle_to - 1))
    return dict(interval=interval, slots=slots, lock_hold=lock_hold, writer_cost=writer_cost,
                poller_cost=poller_cost, wakeup=wakeup, stall=stall, start=start, policy=policy,
                look=look, write=write)


def expected_drops(run, packets):
    """Packets look at their slot at i·T + look. The first N looks in the stall fill the ring; every
    further look before the poller frees the first slot (at F) drops. F is the stall's end (or the
    moment the first packet is noticed, if later) plus one read."""
    T, s, S = run["interval"], run["start"], run["stall"]
    looks = np.arange(1, packets + 1) * T + run["look"]
    in_stall = looks[looks >= s]
    first_write = in_stall[0] - run["look"] + run["write"]
    freed = max(s + S, first_write + run["wakeup"]) + run["poller_cost"]
    assume(not np.any(looks == freed))  # a look at the very instant of the read is a tie
    looks_before_free = int(np.count_nonzero((looks >= s) & (looks < freed)))
    return max(0, looks_before_free - run["slots"])


@given(one_stall_runs())
def test_fixed_and_locked_lose_exactly_the_derived_count_and_keep_order(run):
    packets = 120
    sc = scenario(packets, run["policy"], scripted((run["start"], run["stall"])), ring_slots=run["slots"],
                  interval=run["interval"], writer_cost=run["writer_cost"], writer_lock_hold=run["lock_hold"],
                  poller_cost=run["poller_cost"], poller_wakeup=run["wakeup"], drain="1ms")
    trace = simulate(sc)
    assert int((trace.fate == DROPPED_FULL).sum()) == expected_drops(run, packets)
    assert not late_mask(trace.delivered_ids()).any()


def test_one_long_stall_drop_count_matches_by_hand():
    # T = 1 us, N = 16, stall 5 ms..5.0373 ms, the poller was busy with packet 5000 at the stall:
    # packets 5000..5015 fill the ring and 5016..5037 (22) are dropped before 5038 looks.
    trace = simulate(scenario(6000, "fixed", scripted((5_000_000, 37_300))))
    dropped = trace.id[trace.fate == DROPPED_FULL]
    assert list(dropped) == list(range(5016, 5038))


# --- 2. buggy: the lasting new-then-old pattern -------------------------------------------------

@given(stall_ns=st.integers(18_000, 60_000), slots=st.sampled_from([4, 8, 16]))
def test_buggy_reads_k_new_then_n_minus_k_old_after_a_stall(stall_ns, slots):
    trace = simulate(scenario(3000, "buggy", scripted((1_000_000, stall_ns)), ring_slots=slots))
    drops = int((trace.fate == DROPPED_FULL).sum())
    k = drops % slots
    pattern = steady_pattern(trace, after_ns=1_000_000 + stall_ns + 10 * slots * 1000)
    if k == 0:
        assert pattern == []
        assert not late_mask(trace.delivered_ids()[-1000:]).any()
    else:
        assert len(pattern) > 50
        assert set(pattern) == {(k, slots - k)}
    assert lasting_offset_slots(trace) == k


def test_buggy_pattern_persists_to_the_end_of_the_run():
    trace = simulate(scenario(20_000, "buggy", scripted((5_000_000, 37_300))))
    late = late_mask(trace.delivered_ids())
    assert late[-2000:].sum() == 2000 * 10 // 16  # 10 old reads in every 16


# --- 3. buggy: a later slow patch widens the empty window --------------------------------------

def test_slow_patch_widens_the_window_until_order_returns():
    """After a stall leaves k = 6, the poller is slowed by short stalls; each drop adds one to k."""
    seen_k, restored = set(), False
    for patch_ns in range(2_000, 14_000, 1_000):
        first = (1_000_000, 37_300)
        slow = [(3_000_000 + i * 20_000, patch_ns) for i in range(3)]
        trace = simulate(scenario(6000, "buggy", scripted(first, *slow)))
        drops = trace.decided_ns[trace.fate == DROPPED_FULL]
        after_first, total = int((drops < 3_000_000).sum()), len(drops)
        assert after_first % 16 == 6
        k = lasting_offset_slots(trace)
        assert k == total % 16
        seen_k.add(k)
        if k == 0:
            restored = True
            assert not late_mask(trace.delivered_ids()[-1500:]).any()
    assert restored, "some slow patch should close the window and restore order"
    assert len(seen_k) > 2, "different slow patches leave different offsets"


# --- 4 and 5. conservation and determinism, for all scenarios ----------------------------------

@given(any_scenario())
def test_every_packet_is_delivered_once_dropped_or_left_behind(sc):
    trace = simulate(sc)
    assert np.isin(trace.fate, [DELIVERED, DROPPED_FULL, IN_RING, PENDING]).all()
    order = np.sort(trace.delivery_order[trace.fate == DELIVERED])
    assert np.array_equal(order, np.arange(len(order)))  # each read exactly once
    held = trace.slot[trace.fate == IN_RING]
    assert len(np.unique(held)) == len(held) <= sc.ring_slots  # at most one per slot
    summary = summarize(trace)
    assert summary.delivered + summary.dropped_full + summary.in_ring + summary.pending == sc.packets
    delivered = trace.fate == DELIVERED
    assert np.all(trace.delivery_ns[delivered] >= trace.decided_ns[delivered])


@given(any_scenario())
def test_same_scenario_and_seed_give_the_identical_trace(sc):
    a, b = simulate(sc), simulate(sc)
    for name in ("slot", "fate", "decided_ns", "writer_index_after", "delivery_ns", "delivery_order", "stall_start_ns"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


# --- 6. renewal stalls with exponential lengths: the closed form --------------------------------

def test_loss_under_exponential_stalls_matches_the_closed_form():
    """Fixed writer, stalls far apart (runs uniform on [50, 150] us), lengths ~ Exp(mean m).

    With the stall's phase uniform against the arrivals, a stall of length S drops, on average,
    max(0, (S + c)/T - N) packets (c: one read). Over S ~ Exp(m) that is (m/T)·exp(-(N·T - c)/m),
    and the lost fraction is that times T over the mean cycle (run + stall). The error bar: the
    standard error of the mean drops per stall, from the sample's own standard deviation.
    """
    T, N, m, c = 1000, 16, 20_000, 10
    sc = scenario(200_000, "fixed", {
        "model": "renewal", "run": {"dist": "uniform", "loc": "50us", "scale": "100us"},
        "length": {"dist": "expon", "scale": m}}, seed=11, interval=T, ring_slots=N,
        writer_cost=0, writer_lock_hold=0, poller_cost=c, poller_wakeup=0, drain="200us")
    trace = simulate(sc)
    from ringlab.analysis.summary import drops_per_stall
    per_stall, before_any = drops_per_stall(trace)
    assert before_any == 0
    per_stall = per_stall[trace.stall_start_ns < trace.arrival_ns[-1] - 200_000]
    expected = m / T * math.exp(-(N * T - c) / m)
    standard_error = per_stall.std(ddof=1) / math.sqrt(len(per_stall))
    assert abs(per_stall.mean() - expected) < 4 * standard_error
    assert standard_error < 0.1 * expected  # the check has teeth
    loss = summarize(trace).loss_fraction
    expected_loss = expected * T / (100_000 + m)
    assert abs(loss - expected_loss) < 4 * standard_error * T / (100_000 + m) * 1.2


# --- the race of the fix with several writer CPUs ----------------------------------------------

RACE = dict(interval=100, writer_cpus=2, writer_cost=150, writer_lock_hold=20, poller_cost=20, poller_wakeup=10)
RACE_STALLS = {"model": "renewal", "run": {"dist": "uniform", "loc": "100us", "scale": "200us"},
               "length": {"dist": "uniform", "loc": "3us", "scale": "4us"}}


def test_two_cpus_running_the_fix_can_leave_the_writer_at_an_offset():
    at_offset = [lasting_offset_slots(simulate(scenario(20_000, "fixed", RACE_STALLS, seed=seed, **RACE))) for seed in range(4)]
    assert any(k != 0 for k in at_offset)


@given(seed=st.integers(0, 10_000), cpus=st.integers(2, 4))
def test_locked_producer_keeps_order_with_several_cpus(seed, cpus):
    race = dict(RACE, writer_cpus=cpus)
    trace = simulate(scenario(5000, "locked", RACE_STALLS, seed=seed, **race))
    summary = summarize(trace)
    assert summary.lasting_offset_slots == 0
    # Reads follow the order in which slots were claimed under the lock.
    delivered = np.flatnonzero(trace.fate == DELIVERED)
    by_read = delivered[np.argsort(trace.delivery_order[delivered])]
    assert np.all(np.diff(trace.decided_ns[by_read]) >= 0)


def test_locked_claim_holds_the_slot_for_a_writer_still_copying():
    """Three CPUs, two slots, copies slower than arrivals: the third packet's claim lands on a
    slot another CPU has claimed but not yet written. The claim (the magic without its commit bit)
    makes it full, so the packet is dropped and the index stays put, instead of two writers
    sharing one slot."""
    sc = scenario(3, "locked", None, ring_slots=2, interval=100, writer_cpus=3, writer_cost=1000,
                  writer_lock_hold=0, poller_cost=10, poller_wakeup=0)
    for engine_trace in (simulate(sc), run_fast(sc).trace):
        assert list(engine_trace.fate) == [DELIVERED, DELIVERED, DROPPED_FULL]
        assert list(engine_trace.slot) == [0, 1, 0]
        assert list(engine_trace.writer_index_after) == [1, 0, 0]
        assert lasting_offset_slots(engine_trace) == 0
