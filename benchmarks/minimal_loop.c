/* The limit a simulator of this model can reach: the fast engine's rules (docs/model.md) for one
 * writer CPU, the buggy or fixed policy and a sorted list of stalls, written as plainly as they go:
 * one pass over the packets, the poller advanced between them. Slot-exact: it gives the same fates
 * and read order as ringlab's engines (benchmarks/sim_scale.py checks that before timing it).
 * Not part of ringlab: a yardstick for benchmarks/sim_scale.py, built by it on first use.
 */
#include <stdint.h>
#include <stdlib.h>

#define EMPTY (-1)

struct stalls {
    const int64_t *start, *end;
    int64_t count, cursor; /* cursor: the first stall that ends after the last time asked about */
};

/* The first moment at or after t at which the poller is not stalled (t never decreases). */
static int64_t resume(struct stalls *s, int64_t t) {
    while (s->cursor < s->count && s->end[s->cursor] <= t) s->cursor++;
    return (s->cursor < s->count && s->start[s->cursor] <= t) ? s->end[s->cursor] : t;
}

/* When `work` of running time begun at t (not stalled) ends; stalls pause it. */
static int64_t work_end(struct stalls *s, int64_t t, int64_t work) {
    int64_t now = t, i = s->cursor;
    while (i < s->count && s->end[i] <= now) i++;
    while (i < s->count && s->start[i] < now + work) {
        work -= s->start[i] - now;
        now = s->end[i];
        i++;
    }
    return now + work;
}

/* Simulates `packets` packets arriving at interval_ns * id; fixed != 0 for the fixed policy. With
 * fate and read_sequence (may be NULL) gives each packet's fate (0 read, 1 dropped, 2 in the ring,
 * 4 pending) and the ids in read order. counts: reads, drops. Returns 0, or -1 if memory ran out. */
int minimal_run(int fixed, int64_t ring_slots, int64_t interval_ns, int64_t packets, int64_t cost_ns, int64_t hold_ns,
                int64_t poller_cost_ns, int64_t wakeup_ns, const int64_t *stall_start, const int64_t *stall_end,
                int64_t n_stalls, int64_t end_ns, int8_t *fate, int64_t *read_sequence, int64_t *counts) {
    int64_t *slot = malloc(sizeof(int64_t) * ring_slots), *committed_at = malloc(sizeof(int64_t) * ring_slots);
    if (!slot || !committed_at) { free(slot); free(committed_at); return -1; }
    for (int64_t k = 0; k < ring_slots; k++) slot[k] = EMPTY;
    struct stalls stalls = {stall_start, stall_end, n_stalls, 0};
    int64_t w = 0, writer_free = 0, r = 0, checked = 0, reads = 0, drops = 0;
    /* The poller: read slot r if its packet was committed; checked: when it came to slot r. */
    #define READ_UNTIL(limit, inclusive)                                                            \
        while (slot[r] != EMPTY) {                                                                  \
            int64_t c = committed_at[r];                                                            \
            int64_t notice = c < checked ? checked : c + wakeup_ns;                                 \
            int64_t done = work_end(&stalls, resume(&stalls, notice), poller_cost_ns);              \
            if (inclusive ? done > (limit) : done >= (limit)) break;                                \
            if (fate) fate[slot[r]] = 0;                                                            \
            if (read_sequence) read_sequence[reads] = slot[r] + 1;                                  \
            reads++;                                                                                \
            slot[r] = EMPTY;                                                                        \
            r = r + 1 == ring_slots ? 0 : r + 1;                                                    \
            checked = done;                                                                         \
        }
    for (int64_t i = 0; i < packets; i++) {
        int64_t arrival = (i + 1) * interval_ns;
        if (arrival >= end_ns) break;
        int64_t take = arrival > writer_free ? arrival : writer_free;
        int64_t key = w, look = take + hold_ns + cost_ns, decided = look;
        w = key + 1 == ring_slots ? 0 : key + 1;
        READ_UNTIL(look, 1) /* reads done by the look come first (the poller goes first at a tie) */
        if (slot[key] == EMPTY) {
            slot[key] = i;
            committed_at[key] = look;
            if (fate) fate[i] = 2;
        } else {
            drops++;
            if (fate) fate[i] = 1;
            if (fixed) { w = key; decided = look + hold_ns; } /* the fix: retry this slot */
        }
        writer_free = decided;
    }
    READ_UNTIL(end_ns, 0)
    #undef READ_UNTIL
    counts[0] = reads;
    counts[1] = drops;
    free(slot); free(committed_at);
    return 0;
}
