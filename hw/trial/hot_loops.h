/* What the hardware backend's hot loops share (hot_loops.c: the map ring's poller and the paced
 * sender; xsk_loop.c: the AF_XDP socket's poller; udp_loop.c: the UDP socket's poller): the clock,
 * the payload layouts' offsets, the stalls a poller injects and what it records. Included by all
 * three; each is built on first use by ringlab/native.py. */
#ifndef RINGLAB_HOT_LOOPS_H
#define RINGLAB_HOT_LOOPS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "ring_wire.h"

#define PAYLOAD_OFFSET (14 + IPV4_FILLER_BYTES)

static inline int64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* The payload's size and the offsets the loops need, for a layout of ring_wire.h. */
struct layout {
    int64_t slot_bytes, magic_offset, id_offset, id_bytes;
};

static inline struct layout layout_of(int payload_layout) {
    if (payload_layout == LAYOUT_PACKED)
        return (struct layout){sizeof(struct payload_packed), offsetof(struct payload_packed, magic),
                               offsetof(struct payload_packed, id), 8};
    return (struct layout){sizeof(struct payload_original), offsetof(struct payload_original, magic),
                           offsetof(struct payload_original, id), 4};
}

static inline uint64_t read_id(const uint8_t *slot, const struct layout *l) {
    uint64_t id = 0;
    memcpy(&id, slot + l->id_offset, (size_t)l->id_bytes); /* little endian */
    return id;
}

/* The stalls the poller injects (absolute CLOCK_MONOTONIC ns); a stall not `reported` is executed
 * but not recorded as injected, so the poller finds it as a pause like any other (tests use it). */
struct stall_plan {
    const int64_t *start, *end;
    const int8_t *reported;
    const int64_t *count; /* read afresh: another thread may publish the stalls once the run's start is known */
};

#define PAUSE_INJECTED 0
#define PAUSE_BACKGROUND 1

/* What the poller records, into arrays the caller owns: its reads (id, slot, time) and its pauses
 * (start, length, kind). Past a capacity, entries are counted in *_lost instead. */
struct poll_record {
    int64_t *ids;
    int32_t *slots;
    int64_t *read_ns;
    int64_t read_capacity, reads, reads_lost;
    int64_t *pause_start, *pause_length;
    int8_t *pause_kind;
    int64_t pause_capacity, pauses, pauses_lost;
};

static inline void note_pause(struct poll_record *out, int64_t start, int64_t length, int8_t kind) {
    if (out->pauses < out->pause_capacity) {
        out->pause_start[out->pauses] = start;
        out->pause_length[out->pauses] = length;
        out->pause_kind[out->pauses] = kind;
        out->pauses++;
    } else {
        out->pauses_lost++;
    }
}

static inline void note_read(struct poll_record *out, uint64_t id, int64_t slot) {
    if (out->reads < out->read_capacity) {
        out->ids[out->reads] = (int64_t)id;
        out->slots[out->reads] = (int32_t)slot;
        out->read_ns[out->reads] = monotonic_ns();
        out->reads++;
    } else {
        out->reads_lost++;
    }
}

/* The bookkeeping of one iteration of a poller's loop (both pollers share it): note the gap since
 * the last iteration if it is longer than the threshold (a background pause), stop at *stop_ns
 * (which another thread may move), and run the next planned stall if it is due, busy-waiting
 * without polling (holding the CPU) and noting it as executed if it is reported. Returns the time
 * the iteration polls at (its `last` for the next one), or -1 to stop. A stall not reported keeps
 * the time before it, so the next iteration finds the stall as a gap. */
struct poll_clock {
    int64_t last, next_stall;
};

static inline int64_t poll_tick(struct poll_clock *clock, const struct stall_plan *stalls, const int64_t *stop_ns,
                                int64_t pause_threshold_ns, struct poll_record *out) {
    int64_t now = monotonic_ns();
    if (now - clock->last > pause_threshold_ns) note_pause(out, clock->last, now - clock->last, PAUSE_BACKGROUND);
    if (now >= __atomic_load_n(stop_ns, __ATOMIC_RELAXED)) return -1;
    if (clock->next_stall < __atomic_load_n(stalls->count, __ATOMIC_ACQUIRE) && now >= stalls->start[clock->next_stall]) {
        int64_t until = stalls->end[clock->next_stall], t = now;
        while (t < until) t = monotonic_ns();
        if (stalls->reported[clock->next_stall]) {
            if (t > now) note_pause(out, now, t - now, PAUSE_INJECTED);
            now = t;
        }
        clock->next_stall++;
    }
    return now;
}

#endif
