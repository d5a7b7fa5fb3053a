/* ringlab's one definition of the wire and of the maps the XDP program shares with userspace:
 * the frame's constants, both payload layouts, the per-packet log entry and the counters.
 *
 * Included by the XDP program (bpf/ring_writer.c, compiled by BCC) and by the native hot loops
 * (hw/trial/hot_loops.c, compiled by gcc); hw/machine/wire.py holds the same layouts as NumPy dtypes,
 * and tests/test_wire.py fails if the two drift apart. docs/model.md describes the formats.
 */
#ifndef RINGLAB_RING_WIRE_H
#define RINGLAB_RING_WIRE_H

#include <linux/types.h>

/* Frames: Ethernet (this EtherType), a 20-byte IPv4 filler header, the payload, padded. */
#define ETHERTYPE_PINGPONG 0x2002
#define IPV4_FILLER_BYTES 20
#define FRAME_BYTES 1024

/* A slot is valid when its magic (written last) equals PAYLOAD_MAGIC; a zeroed slot is empty.
 * The locked producer claims a slot with the magic minus its commit bit: full to writers,
 * not yet valid to the poller. */
#define PAYLOAD_MAGIC 0x8badbeefu
#define PAYLOAD_CLAIMED (PAYLOAD_MAGIC & ~1u)

#define PHASE_PING 0
#define PHASE_PONG 2

/* The original layout (docs/model.md, History): natural C alignment, 32-bit id. */
struct payload_original {
    __u32 id;
    __u32 phase;
    __u64 ts[4]; /* ping TX, ping RX, pong TX, pong RX (CLOCK_MONOTONIC ns) */
    __u32 magic;
    __u32 padding;
};

/* The packed layout (docs/model.md, History): 64-bit id, a commit bit in the magic. */
struct payload_packed {
    __u64 id;
    __u64 ts[4];
    __u32 phase;
    __u32 magic;
} __attribute__((packed));

enum payload_layout { LAYOUT_ORIGINAL = 0, LAYOUT_PACKED = 1 };

/* One record per packet id (an mmappable array map): what the writer did with it. */
struct packet_log {
    __u64 seen_ns;     /* bpf_ktime_get_ns() when the program started on it (CLOCK_MONOTONIC) */
    __u64 decided_ns;  /* when it wrote the slot or dropped the packet */
    __u32 slot;        /* the slot it chose */
    __u32 index_after; /* the write index it left behind */
    __u32 fate;        /* FATE_WRITTEN or FATE_DROPPED_FULL; 0: never seen */
    __u32 cpu;
    __u64 claim;       /* the order in which writers took their index (locked: claimed a slot) */
    __u64 blocked_by;  /* dropped: the id of the packet found holding the slot (0: not seen) */
};

#define FATE_WRITTEN 1
#define FATE_DROPPED_FULL 2

/* Per-CPU counters, in this order. */
enum counter {
    COUNTER_SEEN,
    COUNTER_WRITTEN,
    COUNTER_DROPPED_FULL,
    COUNTER_NOT_OURS,
    COUNTER_NOT_LOGGED,
    COUNTERS
};

#endif
