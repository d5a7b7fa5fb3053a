/* The hardware backend's hot loops in C: the poller and the paced sender, line for line what
 * hw/poller.py and hw/sender.py do in Python (kept for comparison), without the interpreter's
 * overhead and pauses. Built on first use by ringlab/native.py.
 */
#define _GNU_SOURCE
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

static struct layout layout_of(int payload_layout) {
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

/* Busy-wait on slot r until its magic is valid; copy the payload out, zero the slot, advance r.
 * Between stall_start[i] and stall_end[i] (absolute CLOCK_MONOTONIC ns) busy-wait without polling.
 * Polls until stop_ns; state[0] (r) and state[1] (the next stall) carry over from call to call,
 * so that the caller can poll in slices and stay responsive to signals. Records up to `capacity`
 * reads (id, slot, read time); returns how many it recorded. */
int64_t ringlab_poll(uint8_t *ring, int64_t ring_slots, int payload_layout, const int64_t *stall_start,
                     const int64_t *stall_end, int64_t n_stalls, int64_t stop_ns, int64_t *state, int64_t *ids,
                     int32_t *slots, int64_t *read_ns, int64_t capacity) {
    const struct layout l = layout_of(payload_layout);
    uint8_t copy[sizeof(struct payload_original) > sizeof(struct payload_packed) ? sizeof(struct payload_original)
                                                                                 : sizeof(struct payload_packed)];
    int64_t reads = 0, read_index = state[0], next_stall = state[1];
    int64_t now = monotonic_ns();
    while (now < stop_ns) {
        if (next_stall < n_stalls && now >= stall_start[next_stall]) {
            while (monotonic_ns() < stall_end[next_stall]) {
            }
            next_stall++;
        }
        volatile uint8_t *slot = ring + read_index * l.slot_bytes;
        if (*(volatile uint32_t *)(slot + l.magic_offset) == PAYLOAD_MAGIC) {
            memcpy(copy, (const uint8_t *)slot, (size_t)l.slot_bytes);
            uint64_t id = read_id(copy, &l);
            memset((uint8_t *)slot, 0, (size_t)l.slot_bytes);
            __asm__ __volatile__("" ::: "memory");
            if (reads < capacity) {
                ids[reads] = (int64_t)id;
                slots[reads] = (int32_t)read_index;
                read_ns[reads] = monotonic_ns();
                reads++;
            }
            read_index = (read_index + 1) % ring_slots;
        }
        now = monotonic_ns();
    }
    state[0] = read_index;
    state[1] = next_stall;
    return reads;
}

/* Send frame i, carrying ids[i], at targets[i] (absolute CLOCK_MONOTONIC ns), busy-waiting for each;
 * or, with sleep_ns > 0, as the original experiments paced: the first at targets[0], then a
 * clock_nanosleep of sleep_ns after each send (so the real spacing is longer and irregular).
 * Records the time after each send. Returns the number sent, or -errno if a send failed. */
int64_t ringlab_send(int fd, uint8_t *frame, int64_t frame_bytes, int payload_layout, const int64_t *ids,
                     const int64_t *targets, int64_t packets, int64_t sleep_ns, int64_t *sent_ns) {
    const struct layout l = layout_of(payload_layout);
    struct timespec pause = {sleep_ns / 1000000000, sleep_ns % 1000000000};
    for (int64_t i = 0; i < packets; i++) {
        uint64_t id = (uint64_t)ids[i];
        memcpy(frame + PAYLOAD_OFFSET + l.id_offset, &id, (size_t)l.id_bytes); /* little endian */
        if (sleep_ns > 0 && i > 0) {
            clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, NULL);
        } else {
            while (monotonic_ns() < targets[i]) {
            }
        }
        if (send(fd, frame, (size_t)frame_bytes, 0) < 0) {
            if (errno == ENOBUFS || errno == EAGAIN) { i--; continue; }  /* queue full: retry this frame */
            return -errno;
        }
        sent_ns[i] = monotonic_ns();
    }
    return packets;
}
