/* ringlab's XDP writer: hands pingpong payloads to a userspace poller through a map ring.
 *
 * Compile-time parameters (set by hw/machine/loader.py with -D):
 *   RING_SLOTS      N, the number of payload slots
 *   LOG_SLOTS       entries of the per-packet log (ids >= LOG_SLOTS are counted, not logged)
 *   POLICY_BUGGY | POLICY_FIXED | POLICY_LOCKED   the write-index discipline
 *   PAYLOAD_PACKED  the packed layout (u64 id); otherwise the original one (ring_wire.h)
 *
 * Frames and map formats are defined once, in ring_wire.h (see docs/model.md): Ethernet with
 * EtherType 0x2002, a 20-byte IPv4 filler header, a 48-byte payload whose magic must read
 * 0x8badbeef. Anything else passes untouched (XDP_PASS).
 *
 * The ring is one map value holding N slots, so that the locked policy can look at slot `key`
 * while it holds the lock (no helper call is allowed inside a bpf_spin_lock section). The
 * memory the poller mmaps is the same as an N-entry array of payloads.
 */
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>

#include "xdp_frame.h"

struct ring {
    struct payload slots[RING_SLOTS];
};

struct write_index {
    struct bpf_spin_lock lock;
    u32 index;
    u64 claims;  /* index takes so far (locked: slots claimed), to order the claims */
};

BPF_F_TABLE("array", u32, struct ring, ring, 1, BPF_F_MMAPABLE);
BPF_ARRAY(write_index, struct write_index, 1);
BPF_F_TABLE("array", u32, struct packet_log, packet_log, LOG_SLOTS, BPF_F_MMAPABLE);
BPF_PERCPU_ARRAY(counters, u64, COUNTERS);

static __always_inline void count(u32 which) {
    u64 *value = counters.lookup(&which);
    if (value)
        *value += 1;
}

/* The slot a write index names. The verifier bounds `index & (N - 1)` but not `index % N`, so for a
 * ring whose size is not a power of two it needs a comparison it can see, on the very register the
 * access uses (64 bits wide: a 32-bit copy would be compared instead). The empty asm keeps the
 * compiler, which knows the remainder is in range, from removing that comparison. */
static __always_inline u64 slot_of(u32 index) {
    u64 key = index % RING_SLOTS;
    asm volatile("" : "+r"(key));
    return key < RING_SLOTS ? key : 0;
}

static __always_inline void copy_payload(struct payload *slot, struct payload *in, u64 now) {
    slot->id = in->id;
    slot->phase = in->phase;
    slot->ts[0] = in->ts[0];
    slot->ts[1] = now;
    slot->ts[2] = in->ts[2];
    slot->ts[3] = in->ts[3];
    /* The magic goes last: until it is set, the poller sees the slot as not valid. */
    asm volatile("" ::: "memory"); /* compiler barrier; BPF stores are not reordered by x86 */
    slot->magic = PAYLOAD_MAGIC;
}

int xdp_ring_writer(struct xdp_md *ctx) {
    struct payload *in = pingpong_payload(ctx, IPV4_FILLER_BYTES, ETHERTYPE_PINGPONG);
    u32 zero = 0;

    if (!in) {
        count(COUNTER_NOT_OURS);
        return XDP_PASS;
    }
    u64 seen_ns = bpf_ktime_get_ns();
    count(COUNTER_SEEN);
    struct ring *ring_value = ring.lookup(&zero);
    struct write_index *w = write_index.lookup(&zero);
    if (!ring_value || !w)
        return XDP_PASS;

    u64 key;
    u32 index_after;
    u64 claim, blocked_by = 0;
    int full;
#if defined(POLICY_LOCKED)
    /* Look at the slot and advance the index in one critical section. */
    bpf_spin_lock(&w->lock);
    key = slot_of(w->index);
    full = ring_value->slots[key].magic != 0;
    claim = w->claims;
    if (full) {
        blocked_by = ring_value->slots[key].id;
    } else {
        /* Claim it: the magic without its commit bit makes it full to other writers and still
         * invalid to the poller, so a writer delayed past a whole ring cycle keeps its slot. The
         * id goes in with the claim, so that a writer finding the slot full can name its holder. */
        ring_value->slots[key].id = in->id;
        ring_value->slots[key].magic = PAYLOAD_CLAIMED;
        w->index = (key + 1) % RING_SLOTS;
        w->claims = claim + 1;
    }
    index_after = w->index;
    bpf_spin_unlock(&w->lock);
#elif defined(POLICY_BUGGY) || defined(POLICY_FIXED)
    /* Take the index and advance it, then look at the slot. */
    bpf_spin_lock(&w->lock);
    key = slot_of(w->index);
    w->index = (key + 1) % RING_SLOTS;
    claim = w->claims;
    w->claims = claim + 1;
    index_after = w->index;
    bpf_spin_unlock(&w->lock);
    full = ring_value->slots[key].magic == PAYLOAD_MAGIC;
    if (full)
        blocked_by = ring_value->slots[key].id; /* 0 if the poller cleared it just now */
#if defined(POLICY_FIXED)
    if (full) {
        /* The fix: retry this slot next time. The lock was released in between: the race. */
        bpf_spin_lock(&w->lock);
        w->index = key;
        bpf_spin_unlock(&w->lock);
        index_after = key;
    }
#endif
#else
#error "POLICY_BUGGY, POLICY_FIXED or POLICY_LOCKED must be defined"
#endif
    if (full)
        count(COUNTER_DROPPED_FULL);
    else {
        copy_payload(&ring_value->slots[key], in, seen_ns);
        count(COUNTER_WRITTEN);
    }

    u32 id = (u32)in->id;
    struct packet_log *log = id < LOG_SLOTS ? packet_log.lookup(&id) : 0;
    if (log)
        log_packet(log, seen_ns, key, index_after, full ? FATE_DROPPED_FULL : FATE_WRITTEN, claim, full ? blocked_by : 0);
    else
        count(COUNTER_NOT_LOGGED);
    return XDP_DROP;
}
