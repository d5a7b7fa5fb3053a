/* What ringlab's two XDP programs (ring_writer.c, xdp_handoff.c) share beyond the wire formats of
 * ring_wire.h: finding a pingpong payload in a frame, and filling a packet's log entry. No map is
 * touched here: BCC rewrites map calls (`counters.lookup`) in the program's own file only, so each
 * program keeps its maps and its count(). */
#ifndef RINGLAB_XDP_FRAME_H
#define RINGLAB_XDP_FRAME_H

#include "ring_wire.h"

#ifdef PAYLOAD_PACKED
#define payload payload_packed
#else
#define payload payload_original
#endif

/* The payload of a pingpong frame (EtherType `ethertype`, the payload `offset_bytes` after the
 * Ethernet header, its magic valid), or NULL for any other frame. */
static __always_inline struct payload *pingpong_payload(struct xdp_md *ctx, u32 offset_bytes, u16 ethertype) {
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct payload *in = data + sizeof(struct ethhdr) + offset_bytes;

    if ((void *)(in + 1) > data_end || eth->h_proto != htons(ethertype) || in->magic != PAYLOAD_MAGIC)
        return 0;
    return in;
}

/* A packet's log entry (ring_wire.h), decided now on this CPU. */
static __always_inline void log_packet(struct packet_log *log, u64 seen_ns, u32 slot, u32 index_after, u32 fate,
                                       u64 claim, u64 blocked_by) {
    log->seen_ns = seen_ns;
    log->decided_ns = bpf_ktime_get_ns();
    log->slot = slot;
    log->index_after = index_after;
    log->cpu = bpf_get_smp_processor_id();
    log->fate = fate;
    log->claim = claim;
    log->blocked_by = blocked_by;
}

#endif
