/* The fast engine's interface: every constant and structure that sim/fast_engine.c and
 * sim/fast_engine.py share. tests/test_layout.py (with tests/c/engine_layout.c) holds each one equal to its Python
 * counterpart (the policies to ringlab/scenario/fields.py, the fates to ringlab/trace/records.py,
 * the drop causes to ringlab/analysis/attribution.py, the latency buckets to
 * ringlab/analysis/latency.py), and the structures to the ctypes ones in sim/fast_engine.py. */
#ifndef RINGLAB_ENGINE_H
#define RINGLAB_ENGINE_H

#include <stdint.h>
#include <stdio.h>

/* The writer's index discipline, in the order of ringlab.scenario.fields.WRITER_POLICIES. */
enum policy { POLICY_BUGGY, POLICY_FIXED, POLICY_LOCKED, POLICIES };

/* What became of a packet (ringlab.trace.records.FATE_NAMES; the engine never loses one before the ring). */
enum fate { DELIVERED = 0, DROPPED_FULL = 1, IN_RING = 2, LOST_BEFORE_RING = 3, PENDING = 4 };

/* The causes of a drop after the two kinds of pause, in the order of
 * ringlab.analysis.attribution.CAUSE_NAMES from CAUSE_WRITING on. */
enum drop_cause { DROP_WRITING, DROP_BURST, DROP_OFFSET, DROP_SLOW, DROP_UNEXPLAINED, DROP_CAUSES };

/* The latency histogram (ringlab.analysis.latency): exact below 2^SUB_BITS ns, then 2^SUB_BITS
 * buckets per power of two, up to 2^63 ns. */
#define SUB_BITS 7
#define SUB_BUCKETS (1 << SUB_BITS)
#define LATENCY_BUCKETS (58 * SUB_BUCKETS)

/* The sum and maximum of all reads' latencies, then of the late reads'. */
enum latency_total { TOTAL_SUM, TOTAL_MAX, TOTAL_LATE_SUM, TOTAL_LATE_MAX, LATENCY_TOTALS };

/* One run: the scenario's figures, its stalls, and where the engine writes. Arrays are the caller's
 * and must outlive the engine; the per-packet outputs are NULL for a run that keeps no trace. */
struct engine_config {
    int64_t policy, ring_slots, cpus, writer_cost_ns, lock_hold_ns, poller_cost_ns, poller_wakeup_ns;
    int64_t end_ns, interval_ns, packets;
    const int64_t *stall_start_ns, *stall_end_ns;
    int64_t stalls;
    const int64_t *sorted_arrival_ns; /* all arrivals in time order, where they are not in id order; else NULL */
    int64_t sorted_arrivals;
    /* per packet, indexed by id - 1 */
    int32_t *slot, *writer_index_after;
    int8_t *fate;
    int64_t *decided_ns, *blocked_by, *delivery_ns, *delivery_order;
    /* per stall: drops (one more, before the first stall), recovery, drops attributed, worst latency */
    int64_t *drops_per_stall;
    double *recovery_ns;
    int64_t *drops_per_pause, *worst_latency_per_stall;
    /* running figures: DROP_CAUSES, LATENCY_BUCKETS, LATENCY_BUCKETS, LATENCY_TOTALS entries */
    int64_t *drop_causes, *latency_counts, *late_latency_counts, *latency_totals;
    FILE *warnings_out;    /* receives every warning line, or NULL */
    int64_t keep_warnings; /* the first and the last this many are kept as rows (missed, current, id) */
    /* a UDP socket's buffer (sim/kernel_queue.py, SocketBuffer), with the locked policy: a packet is
     * taken while the bytes held are at most byte_limit, each holding packet_bytes, released as the
     * kernel releases them; packet_bytes 0: no such rule */
    int64_t byte_limit, packet_bytes;
    /* 1: where the direct path runs with arrivals at multiples of the interval, jump over whole
     * periods of a repeating state in one step (fast_engine.c, "skipping whole periods") */
    int64_t skip;
};

/* The end of a run (ringlab_engine_finish). */
struct engine_end {
    int64_t writer_index;  /* as the trace shows it */
    int64_t read_index, occupancy;
    int64_t reads, dropped, written;
    int64_t warnings, late_reads, kept_first_warnings;
    int64_t max_displacement;
    int64_t *first_warnings, *last_warnings; /* the caller's, keep_warnings rows each */
    int64_t skipped_packets, skips; /* the packets handled by jumping over whole periods, and the jumps */
};

#endif
