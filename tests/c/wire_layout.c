/* Prints, as JSON, the layouts bpf/ring_wire.h and bpf/cpu_events.h define, for tests/test_wire.py
 * to compare with the NumPy dtypes of hw/machine/wire.py and hw/kernel/tracer.py. */
#include <stddef.h>
#include <stdio.h>

#include "cpu_events.h"
#include "ring_wire.h"

#define FIELD(type, name) printf("\"%s\": [%zu, %zu], ", #name, offsetof(type, name), sizeof(((type *)0)->name))

int main(void) {
    printf("{\"payload_original\": {");
    FIELD(struct payload_original, id); FIELD(struct payload_original, phase); FIELD(struct payload_original, ts);
    FIELD(struct payload_original, magic); FIELD(struct payload_original, padding);
    printf("\"size\": %zu}, ", sizeof(struct payload_original));
    printf("\"payload_packed\": {");
    FIELD(struct payload_packed, id); FIELD(struct payload_packed, ts); FIELD(struct payload_packed, phase);
    FIELD(struct payload_packed, magic);
    printf("\"size\": %zu}, ", sizeof(struct payload_packed));
    printf("\"packet_log\": {");
    FIELD(struct packet_log, seen_ns); FIELD(struct packet_log, decided_ns); FIELD(struct packet_log, slot);
    FIELD(struct packet_log, index_after); FIELD(struct packet_log, fate); FIELD(struct packet_log, cpu);
    FIELD(struct packet_log, claim); FIELD(struct packet_log, blocked_by);
    printf("\"size\": %zu}, ", sizeof(struct packet_log));
    printf("\"cpu_event\": {");
    FIELD(struct cpu_event, ts_ns); FIELD(struct cpu_event, kind); FIELD(struct cpu_event, number);
    FIELD(struct cpu_event, prev_pid); FIELD(struct cpu_event, padding); FIELD(struct cpu_event, value);
    FIELD(struct cpu_event, comm); FIELD(struct cpu_event, prev_comm);
    printf("\"size\": %zu}, ", sizeof(struct cpu_event));
    printf("\"event_kinds\": [%d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d], ", EVENT_SWITCH, EVENT_IRQ_ENTRY,
           EVENT_IRQ_EXIT, EVENT_SOFTIRQ_ENTRY, EVENT_SOFTIRQ_EXIT, EVENT_VECTOR_ENTRY, EVENT_VECTOR_EXIT, EVENT_NMI,
           EVENT_FUNCTION_ENTRY, EVENT_FUNCTION_EXIT, EVENT_EXEC);
    printf("\"apic_vectors\": %d, ", VECTOR_ERROR + 1);
    printf("\"constants\": {\"ETHERTYPE_PINGPONG\": %d, \"IPV4_FILLER_BYTES\": %d, \"FRAME_BYTES\": %d, "
           "\"PAYLOAD_MAGIC\": %u, \"PHASE_PING\": %d, \"LAYOUT_ORIGINAL\": %d, \"LAYOUT_PACKED\": %d, "
           "\"FATE_WRITTEN\": %d, \"FATE_DROPPED_FULL\": %d}, ",
           ETHERTYPE_PINGPONG, IPV4_FILLER_BYTES, FRAME_BYTES, PAYLOAD_MAGIC, PHASE_PING, LAYOUT_ORIGINAL,
           LAYOUT_PACKED, FATE_WRITTEN, FATE_DROPPED_FULL);
    printf("\"counters\": [%d, %d, %d, %d, %d, %d]}\n", COUNTER_SEEN, COUNTER_WRITTEN, COUNTER_DROPPED_FULL,
           COUNTER_NOT_OURS, COUNTER_NOT_LOGGED, COUNTERS);
    return 0;
}
