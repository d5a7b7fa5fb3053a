/* The AF_XDP socket and its poller (docs/delivery.md), with raw syscalls (libxdp is not packaged
 * here): a UMEM of `frames` frames, all in the fill ring at the start; an RX ring of `rx_slots`
 * descriptors; bound to one queue of an interface, zero-copy where the driver offers it, else copy
 * mode (a veth offers only copy mode). The poller reads the RX ring in order, puts each frame back
 * on the fill ring as it reads it, and injects and records stalls and pauses exactly as the map
 * ring's poller does (hot_loops.h). Built on first use by ringlab/native.py.
 */
#define _GNU_SOURCE
#include <linux/if_xdp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hot_loops.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

#define COMPLETION_SLOTS 64 /* the kernel wants a completion ring on a UMEM even to receive only */

struct ring_map {
    void *base;
    size_t bytes;
    uint32_t *producer, *consumer;
    void *entries;
};

struct xsk {
    int fd;
    int zerocopy;
    uint8_t *umem;
    size_t umem_bytes;
    int64_t frame_bytes, frames, rx_slots;
    struct ring_map rx, fill, completion;
};

/* Where ringlab_xsk_open failed (with errno), for the caller's message. */
enum xsk_step { STEP_SOCKET = 1, STEP_UMEM, STEP_UMEM_REG, STEP_FILL_RING, STEP_COMPLETION_RING, STEP_RX_RING,
                STEP_OFFSETS, STEP_MMAP, STEP_BIND, STEP_MEMORY };

static int map_ring(int fd, const struct xdp_ring_offset *offset, size_t entries, size_t entry_bytes, off_t page,
                    struct ring_map *out) {
    out->bytes = offset->desc + entries * entry_bytes;
    out->base = mmap(NULL, out->bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, page);
    if (out->base == MAP_FAILED) {
        out->base = NULL;
        return -1;
    }
    out->producer = (uint32_t *)((uint8_t *)out->base + offset->producer);
    out->consumer = (uint32_t *)((uint8_t *)out->base + offset->consumer);
    out->entries = (uint8_t *)out->base + offset->desc;
    return 0;
}

void ringlab_xsk_close(struct xsk *x) {
    if (!x) return;
    struct ring_map *maps[] = {&x->rx, &x->fill, &x->completion};
    for (int i = 0; i < 3; i++)
        if (maps[i]->base) munmap(maps[i]->base, maps[i]->bytes);
    if (x->fd >= 0) close(x->fd);
    if (x->umem) munmap(x->umem, x->umem_bytes);
    free(x);
}

/* Open the socket, register its UMEM, map its rings, fill the fill ring with every frame and bind
 * it to queue `queue` of interface `ifindex`. Returns NULL with *step and *error set on failure
 * (everything it made is released). */
struct xsk *ringlab_xsk_open(int ifindex, int queue, int64_t frames, int64_t frame_bytes, int64_t rx_slots,
                             int try_zerocopy, int *step, int *error) {
    struct xsk *x = calloc(1, sizeof *x);
    if (!x) { *step = STEP_MEMORY; *error = ENOMEM; return NULL; }
    x->fd = -1;
    x->frame_bytes = frame_bytes, x->frames = frames, x->rx_slots = rx_slots;
#define FAIL(s) do { *step = (s); *error = errno; ringlab_xsk_close(x); return NULL; } while (0)
    x->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (x->fd < 0) FAIL(STEP_SOCKET);
    x->umem_bytes = (size_t)(frames * frame_bytes);
    x->umem = mmap(NULL, x->umem_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (x->umem == MAP_FAILED) { x->umem = NULL; FAIL(STEP_UMEM); }
    struct xdp_umem_reg reg = {.addr = (uint64_t)(uintptr_t)x->umem, .len = x->umem_bytes,
                               .chunk_size = (uint32_t)frame_bytes, .headroom = 0, .flags = 0};
    if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof reg)) FAIL(STEP_UMEM_REG);
    int fill_slots = (int)frames, completion_slots = COMPLETION_SLOTS, rx = (int)rx_slots;
    if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_FILL_RING, &fill_slots, sizeof fill_slots)) FAIL(STEP_FILL_RING);
    if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &completion_slots, sizeof completion_slots))
        FAIL(STEP_COMPLETION_RING);
    if (setsockopt(x->fd, SOL_XDP, XDP_RX_RING, &rx, sizeof rx)) FAIL(STEP_RX_RING);
    struct xdp_mmap_offsets offsets;
    socklen_t length = sizeof offsets;
    if (getsockopt(x->fd, SOL_XDP, XDP_MMAP_OFFSETS, &offsets, &length)) FAIL(STEP_OFFSETS);
    if (map_ring(x->fd, &offsets.rx, (size_t)rx_slots, sizeof(struct xdp_desc), XDP_PGOFF_RX_RING, &x->rx) ||
        map_ring(x->fd, &offsets.fr, (size_t)frames, sizeof(uint64_t), XDP_UMEM_PGOFF_FILL_RING, &x->fill) ||
        map_ring(x->fd, &offsets.cr, COMPLETION_SLOTS, sizeof(uint64_t), XDP_UMEM_PGOFF_COMPLETION_RING,
                 &x->completion))
        FAIL(STEP_MMAP);
    uint64_t *fill = x->fill.entries;
    for (int64_t i = 0; i < frames; i++) fill[i] = (uint64_t)(i * frame_bytes);
    __atomic_store_n(x->fill.producer, (uint32_t)frames, __ATOMIC_RELEASE);
    struct sockaddr_xdp address = {.sxdp_family = AF_XDP, .sxdp_ifindex = (uint32_t)ifindex,
                                   .sxdp_queue_id = (uint32_t)queue, .sxdp_flags = XDP_ZEROCOPY};
    x->zerocopy = try_zerocopy && bind(x->fd, (struct sockaddr *)&address, sizeof address) == 0;
    if (!x->zerocopy) {
        address.sxdp_flags = XDP_COPY;
        if (bind(x->fd, (struct sockaddr *)&address, sizeof address)) FAIL(STEP_BIND);
    }
#undef FAIL
    return x;
}

int ringlab_xsk_fd(const struct xsk *x) { return x->fd; }
int ringlab_xsk_zerocopy(const struct xsk *x) { return x->zerocopy; }

/* Descriptors the kernel has put on the RX ring that the poller has not read. */
int64_t ringlab_xsk_unread(const struct xsk *x) {
    return (uint32_t)(__atomic_load_n(x->rx.producer, __ATOMIC_ACQUIRE) - *x->rx.consumer);
}

/* The socket's XDP_STATISTICS, as six counters (struct xdp_statistics's order); -errno on failure. */
int ringlab_xsk_statistics(const struct xsk *x, uint64_t *out) {
    struct xdp_statistics statistics;
    socklen_t length = sizeof statistics;
    memset(&statistics, 0, sizeof statistics);
    if (getsockopt(x->fd, SOL_XDP, XDP_STATISTICS, &statistics, &length)) return -errno;
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
    const struct xdp_desc *descriptors = x->rx.entries;
    uint64_t *fill = x->fill.entries;
    const uint32_t rx_mask = (uint32_t)x->rx_slots - 1, fill_mask = (uint32_t)x->frames - 1;
    const uint64_t frame_mask = ~(uint64_t)(x->frame_bytes - 1);
    uint32_t consumer = *x->rx.consumer, fill_producer = *x->fill.producer;
    struct poll_clock clock = {monotonic_ns(), 0};
    for (;;) {
        int64_t now = poll_tick(&clock, stalls, stop_ns, pause_threshold_ns, out);
        if (now < 0) break;
        if (__atomic_load_n(x->rx.producer, __ATOMIC_ACQUIRE) != consumer) {
            struct xdp_desc descriptor = descriptors[consumer & rx_mask];
            uint64_t id = 0;
            if (descriptor.len >= PAYLOAD_OFFSET + l.id_offset + l.id_bytes)
                id = read_id(x->umem + descriptor.addr + PAYLOAD_OFFSET, &l);
            note_read(out, id, consumer & rx_mask);
            fill[fill_producer & fill_mask] = descriptor.addr & frame_mask; /* the frame's start */
            __atomic_store_n(x->fill.producer, ++fill_producer, __ATOMIC_RELEASE);
            __atomic_store_n(x->rx.consumer, ++consumer, __ATOMIC_RELEASE);
        }
        clock.last = now;
    }
}
