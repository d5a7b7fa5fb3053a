/* The hardware backend's hot loops in C: the poller and the paced sender, line for line what
 * hw/poller.py and hw/sender.py do in Python (kept for comparison), without the interpreter's
 * overhead and pauses. Built on first use by ringlab/native.py.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define PAYLOAD_MAGIC 0x8badbeefu
#define MAX_SLOT_BYTES 256

static inline int64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static inline uint64_t read_id(const volatile uint8_t *slot, int64_t id_offset, int id_bytes) {
    if (id_bytes == 8) return *(const volatile uint64_t *)(slot + id_offset);
    return *(const volatile uint32_t *)(slot + id_offset);
}

/* Busy-wait on slot r until its magic is valid; copy the payload out, zero the slot, advance r.
 * Between stall_start[i] and stall_end[i] (absolute CLOCK_MONOTONIC ns) busy-wait without polling.
 * Polls until stop_ns; state[0] (r) and state[1] (the next stall) carry over from call to call,
 * so that the caller can poll in slices and stay responsive to signals. Records up to `capacity`
 * reads (id, slot, read time); returns how many it recorded. */
int64_t ringlab_poll(uint8_t *ring, int64_t ring_slots, int64_t slot_bytes, int64_t magic_offset, int64_t id_offset,
                     int id_bytes, const int64_t *stall_start, const int64_t *stall_end, int64_t n_stalls,
                     int64_t stop_ns, int64_t *state, int64_t *ids, int32_t *slots, int64_t *read_ns,
                     int64_t capacity) {
    uint8_t copy[MAX_SLOT_BYTES];
    int64_t reads = 0, read_index = state[0], next_stall = state[1];
    if (slot_bytes > MAX_SLOT_BYTES) return -1;
    int64_t now = monotonic_ns();
    while (now < stop_ns) {
        if (next_stall < n_stalls && now >= stall_start[next_stall]) {
            while (monotonic_ns() < stall_end[next_stall]) {
            }
            next_stall++;
        }
        volatile uint8_t *slot = ring + read_index * slot_bytes;
        if (*(volatile uint32_t *)(slot + magic_offset) == PAYLOAD_MAGIC) {
            memcpy(copy, (const uint8_t *)slot, (size_t)slot_bytes);
            uint64_t id = read_id(copy, id_offset, id_bytes);
            memset((uint8_t *)slot, 0, (size_t)slot_bytes);
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
int64_t ringlab_send(int fd, uint8_t *frame, int64_t frame_bytes, int64_t id_offset, int id_bytes,
                     const int64_t *ids, const int64_t *targets, int64_t packets, int64_t sleep_ns, int64_t *sent_ns) {
    struct timespec pause = {sleep_ns / 1000000000, sleep_ns % 1000000000};
    for (int64_t i = 0; i < packets; i++) {
        uint64_t id = (uint64_t)ids[i];
        if (id_bytes == 8) memcpy(frame + id_offset, &id, 8);
        else { uint32_t id32 = (uint32_t)id; memcpy(frame + id_offset, &id32, 4); }
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
