/* Prints, as JSON, what sim/engine.h defines, for tests/test_layout.py to compare with the Python
 * side (the scenario's policies, the trace's fates, the attribution's causes, the latency
 * histogram, and the ctypes mirrors of the two structures in sim/fast_engine.py). */
#include <stddef.h>
#include <stdio.h>

#include "engine.h"

#define FIELD(type, name) printf("\"%s\": [%zu, %zu], ", #name, offsetof(struct type, name), sizeof(((struct type *)0)->name))

int main(void) {
    printf("{\"policies\": [%d, %d, %d, %d], ", POLICY_BUGGY, POLICY_FIXED, POLICY_LOCKED, POLICIES);
    printf("\"fates\": {\"DELIVERED\": %d, \"DROPPED_FULL\": %d, \"IN_RING\": %d, \"LOST_BEFORE_RING\": %d, "
           "\"PENDING\": %d}, ", DELIVERED, DROPPED_FULL, IN_RING, LOST_BEFORE_RING, PENDING);
    printf("\"drop_causes\": {\"WRITING\": %d, \"BURST\": %d, \"OFFSET\": %d, \"SLOW\": %d, \"UNEXPLAINED\": %d}, ",
           DROP_WRITING, DROP_BURST, DROP_OFFSET, DROP_SLOW, DROP_UNEXPLAINED);
    printf("\"DROP_CAUSES\": %d, \"SUB_BITS\": %d, \"LATENCY_BUCKETS\": %d, \"LATENCY_TOTALS\": %d, ", DROP_CAUSES,
           SUB_BITS, LATENCY_BUCKETS, LATENCY_TOTALS);
    printf("\"engine_config\": {");
    FIELD(engine_config, policy); FIELD(engine_config, ring_slots); FIELD(engine_config, cpus);
    FIELD(engine_config, writer_cost_ns); FIELD(engine_config, lock_hold_ns); FIELD(engine_config, poller_cost_ns);
    FIELD(engine_config, poller_wakeup_ns); FIELD(engine_config, end_ns); FIELD(engine_config, interval_ns);
    FIELD(engine_config, packets); FIELD(engine_config, stall_start_ns); FIELD(engine_config, stall_end_ns);
    FIELD(engine_config, stalls); FIELD(engine_config, sorted_arrival_ns); FIELD(engine_config, sorted_arrivals);
    FIELD(engine_config, slot); FIELD(engine_config, writer_index_after); FIELD(engine_config, fate);
    FIELD(engine_config, decided_ns); FIELD(engine_config, blocked_by); FIELD(engine_config, delivery_ns);
    FIELD(engine_config, delivery_order); FIELD(engine_config, drops_per_stall); FIELD(engine_config, recovery_ns);
    FIELD(engine_config, drops_per_pause); FIELD(engine_config, worst_latency_per_stall);
    FIELD(engine_config, drop_causes); FIELD(engine_config, latency_counts); FIELD(engine_config, late_latency_counts);
    FIELD(engine_config, latency_totals); FIELD(engine_config, warnings_out); FIELD(engine_config, keep_warnings);
    FIELD(engine_config, byte_limit); FIELD(engine_config, packet_bytes); FIELD(engine_config, skip);
    printf("\"size\": %zu}, ", sizeof(struct engine_config));
    printf("\"engine_end\": {");
    FIELD(engine_end, writer_index); FIELD(engine_end, read_index); FIELD(engine_end, occupancy);
    FIELD(engine_end, reads); FIELD(engine_end, dropped); FIELD(engine_end, written); FIELD(engine_end, warnings);
    FIELD(engine_end, late_reads); FIELD(engine_end, kept_first_warnings); FIELD(engine_end, max_displacement);
    FIELD(engine_end, first_warnings); FIELD(engine_end, last_warnings);
    FIELD(engine_end, skipped_packets); FIELD(engine_end, skips);
    printf("\"size\": %zu}}\n", sizeof(struct engine_end));
    return 0;
}
