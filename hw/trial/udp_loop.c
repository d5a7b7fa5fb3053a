/* The UDP socket's poller (docs/delivery.md): busy-polls recvmsg(MSG_DONTWAIT) on a socket the
 * caller opened, takes each datagram's id from its payload, and injects and records stalls and
 * pauses exactly as the map ring's poller does (hot_loops.h). At the end of each stall it also
 * notes what the socket's receive buffer held then (SO_MEMINFO's rmem_alloc), from which a trial
 * measures what one datagram takes of it. Built on first use by ringlab/native.py.
 */
#define _GNU_SOURCE
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include "hot_loops.h"

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

/* What the socket's buffer held at the end of each stall (time, bytes), into the caller's arrays. */
struct buffer_record {
    int64_t *at_ns, *bytes;
    int64_t capacity, count;
};

/* The socket's SO_MEMINFO (SK_MEMINFO_VARS counters) into out; -errno on failure. */
int ringlab_udp_meminfo(int fd, uint32_t *out) {
    socklen_t length = SK_MEMINFO_VARS * sizeof(uint32_t);
    return getsockopt(fd, SOL_SOCKET, SO_MEMINFO, out, &length) ? -errno : 0;
}

/* Poll socket `fd` until *stop_ns. A read's slot is its place in the queue: the number read before
 * it modulo `positions` (what the queue can hold at most). */
void ringlab_udp_poll(int fd, int payload_layout, int64_t positions, const struct stall_plan *stalls,
                      const int64_t *stop_ns, int64_t pause_threshold_ns, struct poll_record *out,
                      struct buffer_record *buffer) {
    const struct layout l = layout_of(payload_layout);
    uint8_t datagram[2048];
    struct iovec vector = {datagram, sizeof datagram};
    struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1};
    int64_t reads = 0, stalls_done = 0;
    struct poll_clock clock = {monotonic_ns(), 0};
    for (;;) {
        int64_t now = poll_tick(&clock, stalls, stop_ns, pause_threshold_ns, out);
        if (now < 0) break;
        if (clock.next_stall != stalls_done) { /* a stall has just ended */
            stalls_done = clock.next_stall;
            uint32_t meminfo[SK_MEMINFO_VARS];
            if (buffer->count < buffer->capacity && ringlab_udp_meminfo(fd, meminfo) == 0) {
                buffer->at_ns[buffer->count] = monotonic_ns();
                buffer->bytes[buffer->count] = meminfo[SK_MEMINFO_RMEM_ALLOC];
                buffer->count++;
            }
        }
        ssize_t received = recvmsg(fd, &message, MSG_DONTWAIT);
        if (received >= (ssize_t)(l.id_offset + l.id_bytes)) {
            note_read(out, read_id(datagram, &l), reads % positions);
            reads++;
        }
        clock.last = now;
    }
}
