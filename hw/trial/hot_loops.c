/* The hardware backend's hot loops in C: the poller and the paced sender, line for line what
 * hw/trial/poller.py and hw/trial/sender.py do in Python (kept for comparison), without the interpreter's
 * overhead and pauses. Built on first use by ringlab/native.py.
 */
#define _GNU_SOURCE
#include "hot_loops.h"

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
    int64_t read_index = 0;
    struct poll_clock clock = {monotonic_ns(), 0};
    for (;;) {
        int64_t now = poll_tick(&clock, stalls, stop_ns, pause_threshold_ns, out);
        if (now < 0) break;
        if (ring) {
            volatile uint8_t *slot = ring + read_index * l.slot_bytes;
            if (*(volatile uint32_t *)(slot + l.magic_offset) == PAYLOAD_MAGIC) {
                memcpy(copy, (const uint8_t *)slot, (size_t)l.slot_bytes);
                uint64_t id = read_id(copy, &l);
                memset((uint8_t *)slot, 0, (size_t)l.slot_bytes);
                __asm__ __volatile__("" ::: "memory");
                note_read(out, id, read_index);
                read_index = (read_index + 1) % ring_slots;
            }
        }
        clock.last = now;
    }
}

/* Send frame i, carrying ids[i] (in the payload at payload_offset), at targets[i] (absolute CLOCK_MONOTONIC ns), busy-waiting for each;
 * or, with sleep_ns > 0, sleep pacing (docs/model.md, History): the first at targets[0], then a
 * clock_nanosleep of sleep_ns after each send (so the real spacing is longer and irregular).
 * Records when each frame was handed to the kernel (just before its send(): with generic XDP on a
 * veth, the XDP program can run inside the call). Returns the number sent, or -errno if a send failed. */
int64_t ringlab_send(int fd, uint8_t *frame, int64_t frame_bytes, int payload_layout, int64_t payload_offset,
                     const int64_t *ids,
                     const int64_t *targets, int64_t packets, int64_t sleep_ns, int64_t *sent_ns) {
    const struct layout l = layout_of(payload_layout);
    struct timespec pause = {sleep_ns / 1000000000, sleep_ns % 1000000000};
    for (int64_t i = 0; i < packets; i++) {
        uint64_t id = (uint64_t)ids[i];
        memcpy(frame + payload_offset + l.id_offset, &id, (size_t)l.id_bytes); /* little endian */
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
