/* The hardware backend's hot loops in C: the poller and the paced sender, line for line what
 * hw/trial/poller.py and hw/trial/sender.py do in Python (kept for comparison), without the interpreter's
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

/* Busy-wait on slot r until its magic is valid; copy the payload out, zero the slot, advance r.
 * During each planned stall, busy-wait without polling (holding the CPU). Polls until *stop_ns,
 * which another thread may move. Every gap between two consecutive iterations longer than
 * pause_threshold_ns is recorded as a background pause, and every injected stall as it was really
 * executed (a busy-wait can start late and overrun). With ring == NULL the loop polls nothing and
 * only records pauses: the machine's pause profile (`ringlab hw noise`). */
void ringlab_poll(uint8_t *ring, int64_t ring_slots, int payload_layout, const struct stall_plan *stalls,
                  const int64_t *stop_ns, int64_t pause_threshold_ns, struct poll_record *out) {
    const struct layout l = layout_of(payload_layout);
    uint8_t copy[sizeof(struct payload_original) > sizeof(struct payload_packed) ? sizeof(struct payload_original)
                                                                                 : sizeof(struct payload_packed)];
    int64_t read_index = 0, next_stall = 0;
    int64_t last = monotonic_ns();
    for (;;) {
        int64_t now = monotonic_ns();
        if (now - last > pause_threshold_ns) note_pause(out, last, now - last, PAUSE_BACKGROUND);
        if (now >= __atomic_load_n(stop_ns, __ATOMIC_RELAXED)) break;
        if (next_stall < __atomic_load_n(stalls->count, __ATOMIC_ACQUIRE) && now >= stalls->start[next_stall]) {
            int64_t until = stalls->end[next_stall], t = now;
            while (t < until) t = monotonic_ns();
            if (stalls->reported[next_stall]) {
                if (t > now) note_pause(out, now, t - now, PAUSE_INJECTED);
                now = t;
            } /* not reported: `last` stays before the stall, so the next iteration finds it as a gap */
            next_stall++;
        }
        if (ring) {
            volatile uint8_t *slot = ring + read_index * l.slot_bytes;
            if (*(volatile uint32_t *)(slot + l.magic_offset) == PAYLOAD_MAGIC) {
                memcpy(copy, (const uint8_t *)slot, (size_t)l.slot_bytes);
                uint64_t id = read_id(copy, &l);
                memset((uint8_t *)slot, 0, (size_t)l.slot_bytes);
                __asm__ __volatile__("" ::: "memory");
                if (out->reads < out->read_capacity) {
                    out->ids[out->reads] = (int64_t)id;
                    out->slots[out->reads] = (int32_t)read_index;
                    out->read_ns[out->reads] = monotonic_ns();
                    out->reads++;
                } else {
                    out->reads_lost++;
                }
                read_index = (read_index + 1) % ring_slots;
            }
        }
        last = now;
    }
}

/* Send frame i, carrying ids[i], at targets[i] (absolute CLOCK_MONOTONIC ns), busy-waiting for each;
 * or, with sleep_ns > 0, sleep pacing (docs/model.md, History): the first at targets[0], then a
 * clock_nanosleep of sleep_ns after each send (so the real spacing is longer and irregular).
 * Records when each frame was handed to the kernel (just before its send(): with generic XDP on a
 * veth, the XDP program can run inside the call). Returns the number sent, or -errno if a send failed. */
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
        int64_t handed_ns = monotonic_ns(); /* when the frame goes to the kernel (generic XDP may run inside send) */
        if (send(fd, frame, (size_t)frame_bytes, 0) < 0) {
            if (errno == ENOBUFS || errno == EAGAIN) { i--; continue; }  /* queue full: retry this frame */
            return -errno;
        }
        sent_ns[i] = handed_ns;
    }
    return packets;
}
