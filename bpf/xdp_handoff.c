/* ringlab's XDP program for the delivery paths other than the map ring (docs/delivery.md): it logs
 * when it saw each pingpong frame and hands the frame on, to an AF_XDP socket (DELIVERY_AF_XDP: a
 * redirect to the XSKMAP entry of the frame's receive queue) or to the kernel's stack
 * (DELIVERY_UDP_SOCKET: XDP_PASS, on to the UDP socket). Whether the socket then takes the frame
 * is the kernel's decision after this program returns: its own counters say (XDP_STATISTICS; the
 * socket's drop count).
 *
 * Compile-time parameters (set by hw/machine/loader.py with -D):
 *   LOG_SLOTS       entries of the per-packet log (ids >= LOG_SLOTS are counted, not logged)
 *   DELIVERY_AF_XDP | DELIVERY_UDP_SOCKET
 *   PAYLOAD_PACKED  the packed layout (u64 id); otherwise the original one (ring_wire.h)
 *   PAYLOAD_OFFSET_BYTES  where the payload starts after the Ethernet header
 *
 * The log and counters are the map ring writer's (ring_wire.h), with fate FATE_WRITTEN for "handed
 * on" and `claim` the order in which frames were handed on.
 */
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>

#include "xdp_frame.h"

#if defined(DELIVERY_AF_XDP)
BPF_XSKMAP(xsks, 64);
#define ETHERTYPE ETHERTYPE_PINGPONG
#elif defined(DELIVERY_UDP_SOCKET)
#define ETHERTYPE 0x0800
#else
#error "DELIVERY_AF_XDP or DELIVERY_UDP_SOCKET must be defined"
#endif

BPF_F_TABLE("array", u32, struct packet_log, packet_log, LOG_SLOTS, BPF_F_MMAPABLE);
BPF_PERCPU_ARRAY(counters, u64, COUNTERS);
BPF_ARRAY(handed_on, u64, 1);

static __always_inline void count(u32 which) {
    u64 *value = counters.lookup(&which);
    if (value)
        *value += 1;
}

int xdp_handoff(struct xdp_md *ctx) {
    struct payload *in = pingpong_payload(ctx, PAYLOAD_OFFSET_BYTES, ETHERTYPE);
    u32 zero = 0;

    if (!in) {
        count(COUNTER_NOT_OURS);
        return XDP_PASS;
    }
    u64 seen_ns = bpf_ktime_get_ns();
    count(COUNTER_SEEN);
    u64 *order = handed_on.lookup(&zero);
    u64 claim = order ? __sync_fetch_and_add(order, 1) : 0;
    count(COUNTER_WRITTEN);
    u32 id = (u32)in->id;
    struct packet_log *log = id < LOG_SLOTS ? packet_log.lookup(&id) : 0;
    if (log)
        log_packet(log, seen_ns, 0, 0, FATE_WRITTEN, claim, 0);
    else
        count(COUNTER_NOT_LOGGED);
#if defined(DELIVERY_AF_XDP)
    return xsks.redirect_map(ctx->rx_queue_index, 0);
#else
    return XDP_PASS;
#endif
}
