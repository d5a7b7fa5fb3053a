/* The AF_XDP socket and its poller (docs/delivery.md), through libxdp's xsk API (<xdp/xsk.h>, from
 * Debian's libxdp-dev): a UMEM of `frames` frames, all in the fill ring at the start; an RX ring of
 * `rx_slots` descriptors; bound to one queue of an interface with need-wakeup asked for and the
 * mode left to the kernel (zero-copy where the driver offers it, else copy: a veth offers only
 * copy). ringlab loads its own XDP program, so libxdp is told not to load one; the socket enters
 * that program's XSKMAP from Python. The poller reads the RX ring in order, one descriptor per turn
 * of its loop, puts each frame back on the fill ring as it reads it, wakes the kernel when it found
 * nothing to read and the fill ring asks for a wake-up (as libxdp's examples do), and injects and records stalls and pauses exactly as the map ring's poller does
 * (hot_loops.h). Built on first use by ringlab/native.py, linked with -lxdp -lbpf.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include "hot_loops.h"

#define COMPLETION_SLOTS 64 /* the kernel wants a completion ring on a UMEM even to receive only */

struct xsk {
    struct xsk_umem *umem;
    struct xsk_socket *socket;
    struct xsk_ring_prod fill;
    struct xsk_ring_cons completion, rx;
    uint8_t *buffer;
    size_t buffer_bytes;
    int64_t frame_bytes, frames, rx_slots;
    int zerocopy, need_wakeup;
    int64_t wakeups; /* the times the poller woke the kernel because the fill ring asked for it */
};

/* Where ringlab_xsk_open failed (with errno), for the caller's message. */
enum xsk_step { STEP_MEMORY = 1, STEP_UMEM, STEP_SOCKET, STEP_FILL, STEP_OPTIONS };

void ringlab_xsk_close(struct xsk *x) {
    if (!x) return;
    if (x->socket) xsk_socket__delete(x->socket);
    if (x->umem) xsk_umem__delete(x->umem);
    if (x->buffer) munmap(x->buffer, x->buffer_bytes);
    free(x);
}

/* Create the UMEM and the socket with libxdp, fill the fill ring with every frame and bind it to
 * queue `queue` of interface `ifname`. Returns NULL with *step and *error set on failure
 * (everything it made is released). */
struct xsk *ringlab_xsk_open(const char *ifname, int queue, int64_t frames, int64_t frame_bytes, int64_t rx_slots,
                             int *step, int *error) {
    struct xsk *x = calloc(1, sizeof *x);
    if (!x) { *step = STEP_MEMORY; *error = ENOMEM; return NULL; }
    x->frame_bytes = frame_bytes, x->frames = frames, x->rx_slots = rx_slots;
#define FAIL(s, e) do { *step = (s); *error = (e); ringlab_xsk_close(x); return NULL; } while (0)
    x->buffer_bytes = (size_t)(frames * frame_bytes);
    x->buffer = mmap(NULL, x->buffer_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (x->buffer == MAP_FAILED) { x->buffer = NULL; FAIL(STEP_MEMORY, errno); }
    const struct xsk_umem_config umem_config = {.fill_size = (uint32_t)frames, .comp_size = COMPLETION_SLOTS,
                                                .frame_size = (uint32_t)frame_bytes, .frame_headroom = 0, .flags = 0};
    int result = xsk_umem__create(&x->umem, x->buffer, x->buffer_bytes, &x->fill, &x->completion, &umem_config);
    if (result) { x->umem = NULL; FAIL(STEP_UMEM, -result); }
    /* bind_flags without XDP_COPY or XDP_ZEROCOPY: the kernel binds zero-copy where it can, else copy */
    const struct xsk_socket_config socket_config = {.rx_size = (uint32_t)rx_slots, .tx_size = 0,
                                                    .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
                                                    .xdp_flags = 0, .bind_flags = XDP_USE_NEED_WAKEUP};
    result = xsk_socket__create(&x->socket, ifname, (uint32_t)queue, x->umem, &x->rx, NULL, &socket_config);
    if (result) { x->socket = NULL; FAIL(STEP_SOCKET, -result); }
    uint32_t index = 0;
    if (xsk_ring_prod__reserve(&x->fill, (uint32_t)frames, &index) != (uint32_t)frames) FAIL(STEP_FILL, ENOSPC);
    for (int64_t i = 0; i < frames; i++) *xsk_ring_prod__fill_addr(&x->fill, index + (uint32_t)i) = (uint64_t)(i * frame_bytes);
    xsk_ring_prod__submit(&x->fill, (uint32_t)frames);
    struct xdp_options options;
    socklen_t length = sizeof options;
    if (getsockopt(xsk_socket__fd(x->socket), SOL_XDP, XDP_OPTIONS, &options, &length)) FAIL(STEP_OPTIONS, errno);
    x->zerocopy = (options.flags & XDP_OPTIONS_ZEROCOPY) != 0;
    x->need_wakeup = (socket_config.bind_flags & XDP_USE_NEED_WAKEUP) != 0;
#undef FAIL
    return x;
}

int ringlab_xsk_fd(const struct xsk *x) { return xsk_socket__fd(x->socket); }
int ringlab_xsk_zerocopy(const struct xsk *x) { return x->zerocopy; }
int ringlab_xsk_need_wakeup(const struct xsk *x) { return x->need_wakeup; }
int64_t ringlab_xsk_wakeups(const struct xsk *x) { return x->wakeups; }

/* Descriptors the kernel has put on the RX ring that the poller has not read. */
int64_t ringlab_xsk_unread(const struct xsk *x) {
    return (uint32_t)(__atomic_load_n(x->rx.producer, __ATOMIC_ACQUIRE) - *x->rx.consumer);
}

/* The socket's XDP_STATISTICS, as six counters (struct xdp_statistics's order); -errno on failure. */
int ringlab_xsk_statistics(const struct xsk *x, uint64_t *out) {
    struct xdp_statistics statistics;
    socklen_t length = sizeof statistics;
    memset(&statistics, 0, sizeof statistics);
    if (getsockopt(xsk_socket__fd(x->socket), SOL_XDP, XDP_STATISTICS, &statistics, &length)) return -errno;
    uint64_t values[6] = {statistics.rx_dropped, statistics.rx_invalid_descs, statistics.tx_invalid_descs,
                          statistics.rx_ring_full, statistics.rx_fill_ring_empty_descs, statistics.tx_ring_empty_descs};
    memcpy(out, values, sizeof values);
    return 0;
}

/* Poll the RX ring until *stop_ns: read each descriptor in order (the id from the frame's payload),
 * put its frame back on the fill ring, release the descriptor; stalls and pauses as ringlab_poll. */
void ringlab_xsk_poll(struct xsk *x, int payload_layout, const struct stall_plan *stalls, const int64_t *stop_ns,
                      int64_t pause_threshold_ns, struct poll_record *out) {
    const struct layout l = layout_of(payload_layout);
    const uint64_t frame_mask = ~(uint64_t)(x->frame_bytes - 1);
    struct poll_clock clock = {monotonic_ns(), 0};
    for (;;) {
        int64_t now = poll_tick(&clock, stalls, stop_ns, pause_threshold_ns, out);
        if (now < 0) break;
        uint32_t index, fill_index;
        if (xsk_ring_cons__peek(&x->rx, 1, &index) == 1) {
            const struct xdp_desc *descriptor = xsk_ring_cons__rx_desc(&x->rx, index);
            uint64_t id = 0;
            if (descriptor->len >= PAYLOAD_OFFSET + l.id_offset + l.id_bytes)
                id = read_id((const uint8_t *)xsk_umem__get_data(x->buffer, descriptor->addr) + PAYLOAD_OFFSET, &l);
            note_read(out, id, index & x->rx.mask);
            /* the fill ring holds every frame, so there is always room for the one read */
            if (xsk_ring_prod__reserve(&x->fill, 1, &fill_index) == 1) {
                *xsk_ring_prod__fill_addr(&x->fill, fill_index) = descriptor->addr & frame_mask; /* the frame's start */
                xsk_ring_prod__submit(&x->fill, 1);
            }
            xsk_ring_cons__release(&x->rx, 1);
        } else if (xsk_ring_prod__needs_wakeup(&x->fill)) { /* nothing to read and the kernel asks: wake it */
            recvfrom(xsk_socket__fd(x->socket), NULL, 0, MSG_DONTWAIT, NULL, NULL);
            x->wakeups++;
        }
        clock.last = now;
    }
}
