/* ringlab's fast engine: the SimPy model's rules (docs/model.md; sim/ring.py, sim/writer.py, sim/poller.py) as
 * one event loop. Each process has at most one pending wake-up; the next to run is the one with
 * the earliest (time, priority): the poller first, then the writer CPUs in order, which is the
 * order of the SimPy model's events (sim/wake.py). The trace is therefore identical, packet for
 * packet. Built on first use by ringlab/native.py; called from sim/fast_engine.py.
 *
 * The engine is a state that packets are fed into in chunks (ringlab_engine_feed), so that a run of
 * any length goes in bounded memory: it keeps per slot, not per packet, what its rules need, and
 * the summary's figures as running counts. Only a run that keeps its trace writes per packet.
 */
#define _GNU_SOURCE /* fwrite_unlocked */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "warning_lines.h"

#define NEVER INT64_MAX
#define EMPTY (-1)
#define UNCOMMITTED INT64_MIN

enum writer_state { W_NEXT, W_TAKE_INDEX, W_LOOK, W_RESET, W_COPY, W_RECORD, W_FED_OUT };
enum poller_state { P_CHECK, P_NOTICED, P_READ };

struct stalls {
    const int64_t *start, *end;
    int64_t count;
};

/* The first index i with start[i] > t. */
static int64_t stalls_after(const struct stalls *s, int64_t t) {
    int64_t low = 0, high = s->count;
    while (low < high) {
        int64_t mid = low + (high - low) / 2;
        if (s->start[mid] <= t) low = mid + 1; else high = mid;
    }
    return low;
}

/* The first moment at or after t at which the poller is not stalled. */
static int64_t resume_time(const struct stalls *s, int64_t t) {
    int64_t i = stalls_after(s, t) - 1;
    return (i >= 0 && t < s->end[i]) ? s->end[i] : t;
}

/* When `work` of running time begun at t ends; stalls pause the work. */
static int64_t work_end(const struct stalls *s, int64_t t, int64_t work) {
    int64_t now = resume_time(s, t);
    int64_t i = stalls_after(s, now);
    int64_t remaining = work;
    while (i < s->count && s->start[i] < now + remaining) {
        remaining -= s->start[i] - now;
        now = s->end[i];
        i++;
    }
    return now + remaining;
}

/* The rules of ringlab.analysis.attribution: the pause overlapping [from, to] most (the first on a tie), or -1. */
static int64_t pause_with_most_overlap(const struct stalls *s, int64_t from, int64_t to) {
    int64_t low = 0, high = s->count; /* the first pause ending after `from` */
    while (low < high) {
        int64_t mid = low + (high - low) / 2;
        if (s->end[mid] <= from) low = mid + 1; else high = mid;
    }
    int64_t best = -1, best_overlap = 0;
    for (int64_t i = low; i < s->count && s->start[i] < to; i++) {
        int64_t overlap = (s->end[i] < to ? s->end[i] : to) - (s->start[i] > from ? s->start[i] : from);
        if (overlap > best_overlap) {
            best = i;
            best_overlap = overlap;
        }
    }
    return best;
}

/* The latency histogram's bucket of v >= 0 (ringlab/analysis/latency.py: exact below 2^SUB_BITS, then
 * 2^SUB_BITS buckets per power of two). */
static inline int64_t latency_bucket(int64_t v) {
    if (v < SUB_BUCKETS) return v < 0 ? 0 : v;
    int64_t shift = (63 - __builtin_clzll((unsigned long long)v)) - SUB_BITS;
    return (shift + 1) * SUB_BUCKETS + (v >> shift) - SUB_BUCKETS;
}

/* How many of the sorted times lie in [from, to]. */
static int64_t count_between(const int64_t *sorted, int64_t n, int64_t from, int64_t to) {
    int64_t low = 0, high = n, first, last;
    while (low < high) { int64_t mid = low + (high - low) / 2; if (sorted[mid] < from) low = mid + 1; else high = mid; }
    first = low;
    high = n;
    while (low < high) { int64_t mid = low + (high - low) / 2; if (sorted[mid] <= to) low = mid + 1; else high = mid; }
    last = low;
    return last - first;
}

/* Settle the recovery of stalls ending before next_ns, given that the state after the instant
 * state_ns (aligned or not) holds until next_ns; the rules of ringlab.analysis.summary.recovery_times_ns. */
static int64_t settle_recoveries(int64_t first, int aligned, int64_t state_ns, int64_t next_ns,
                                 const struct stalls *s, int64_t end_ns, double *recovery_ns) {
    int64_t i = first;
    while (i < s->count && s->end[i] < next_ns) {
        int64_t deadline = i + 1 < s->count ? s->start[i + 1] : end_ns + 1;
        if (aligned) {
            if (s->end[i] >= state_ns) recovery_ns[i] = 0.0;
            else if (state_ns < deadline) recovery_ns[i] = (double)(state_ns - s->end[i]);
            i++;
        } else if (deadline <= next_ns) {
            i++;
        } else {
            break;
        }
    }
    return i;
}

/* ---- the largest distance between a read's position and its rank among the ids read ----
 * (ringlab.analysis.summary.max_displacement). A packet's rank is final once every smaller id is settled
 * (read, or never to be): a window of ids from the lowest unsettled one keeps each one's status and
 * read position until then. */

struct displacement {
    int64_t base;            /* the lowest id not yet settled (ids start at 1) */
    int64_t undelivered;     /* ids below base never read */
    int64_t max;
};

struct read_window {
    int64_t capacity;        /* a power of two */
    int64_t *position;       /* per id from base, circular: its read position, or UNSETTLED or NEVER_READ */
};
#define UNSETTLED (-1)
#define NEVER_READ (-2)

static int window_init(struct read_window *w) {
    w->capacity = 1024;
    w->position = malloc(sizeof(int64_t) * w->capacity);
    if (!w->position) return -1;
    for (int64_t k = 0; k < w->capacity; k++) w->position[k] = UNSETTLED;
    return 0;
}

/* Grow the window to hold ids base .. id. */
static int window_fit(struct read_window *w, int64_t base, int64_t id) {
    if (id - base < w->capacity) return 0;
    int64_t capacity = w->capacity;
    while (id - base >= capacity) capacity *= 2;
    int64_t *position = malloc(sizeof(int64_t) * capacity);
    if (!position) return -1;
    for (int64_t k = 0; k < capacity; k++) position[k] = UNSETTLED;
    for (int64_t k = 0; k < w->capacity; k++)
        position[(base + k) & (capacity - 1)] = w->position[(base + k) & (w->capacity - 1)];
    free(w->position);
    w->position = position; w->capacity = capacity;
    return 0;
}

/* Settle the ids from base on whose fate is known. */
static inline __attribute__((always_inline)) void displacement_advance(struct displacement *d, struct read_window *w) {
    for (;;) {
        int64_t at = d->base & (w->capacity - 1), position = w->position[at];
        if (position == UNSETTLED) return;
        if (position == NEVER_READ) {
            d->undelivered++;
        } else {
            int64_t rank = d->base - 1 - d->undelivered, gap = position - rank;
            if (gap < 0) gap = -gap;
            if (gap > d->max) d->max = gap;
        }
        w->position[at] = UNSETTLED;
        d->base++;
    }
}

/* Id `id` was read at `position` (or NEVER_READ). Returns 0, or -1 if memory ran out. */
static inline __attribute__((always_inline)) int displacement_settle(struct displacement *d, struct read_window *w,
                                                                     int64_t id, int64_t position) {
    if (id == d->base) { /* the lowest unsettled id: settled at once (the usual case, reads in order) */
        if (position == NEVER_READ) {
            d->undelivered++;
        } else {
            int64_t gap = position - (id - 1 - d->undelivered);
            if (gap < 0) gap = -gap;
            if (gap > d->max) d->max = gap;
        }
        d->base++;
        if (w->position[d->base & (w->capacity - 1)] != UNSETTLED) displacement_advance(d, w);
        return 0;
    }
    if (window_fit(w, d->base, id) != 0) return -1;
    w->position[id & (w->capacity - 1)] = position;
    return 0;
}

/* At the end, every id not yet settled was never read. */
static void displacement_finish(struct displacement *d, struct read_window *w, int64_t packets) {
    while (d->base <= packets) {
        if (w->position[d->base & (w->capacity - 1)] == UNSETTLED) {
            d->undelivered++;
            d->base++;
        } else {
            displacement_advance(d, w);
        }
    }
}

/* ---- the engine ---- */

/* Skipping whole periods: where the direct path's state before packet p + P is its state before
 * packet p moved on by P packets (ids + P, times + P intervals, ring indices turned by the same
 * amount), the next periods repeat the last one until something outside the state (a stall, the
 * end of the run, the end of the chunk) comes near; the engine measures one period packet by
 * packet, then adds that period's figures as many times as it skips. */
struct skipper {
    int on;                    /* asked for, and the arrivals are regular */
    int recording;             /* 0: not probing; 1: a period is being measured; 2: it overflowed */
    int64_t probe_packet, probe_arrival; /* the packet the measured period began at, and its arrival */
    int64_t next_probe, backoff;
    int64_t *signature, signature_length, signature_capacity; /* the state where the period began */
    int64_t floor_ns;          /* the earliest arrival the state then remembered */
    int64_t counts[3], causes[DROP_CAUSES], warnings, late, undelivered, base, write_index;
    /* the period's reads (packet, latency, late) and warnings (missed, largest, id) */
    int64_t *read_packet, *read_latency, reads, read_capacity;
    int8_t *read_late;
    int64_t *warning_rows, warning_count, warning_capacity;
    int64_t *scratch;          /* 3 * ring_slots, and the window's entries */
    int64_t scratch_capacity;
    int64_t skipped_packets, skips;
};

#define PROBE_FIRST 64        /* packets from the start of a chunk, or after a jump, to the next probe */
#define PROBE_BACKOFF_MAX 65536

/* The longest period probed for: a lasting offset repeats every ring_slots packets (a ring of more
 * than 32 760 slots left at an offset runs per packet). */
static inline int64_t longest_period(int64_t ring_slots) { return ring_slots < 32760 ? 2 * ring_slots + 16 : 65536; }

static int skipper_init(struct skipper *k, int64_t ring_slots) {
    k->on = 1;
    k->next_probe = PROBE_FIRST;
    k->backoff = PROBE_FIRST;
    k->read_capacity = longest_period(ring_slots) + ring_slots + 16;
    k->warning_capacity = k->read_capacity;
    k->signature_capacity = 32 + 3 * ring_slots + 3 * k->read_capacity;
    k->scratch_capacity = 4 * ring_slots + 3 * k->read_capacity;
    k->signature = malloc(sizeof(int64_t) * k->signature_capacity);
    k->read_packet = malloc(sizeof(int64_t) * k->read_capacity);
    k->read_latency = malloc(sizeof(int64_t) * k->read_capacity);
    k->read_late = malloc(k->read_capacity);
    k->warning_rows = malloc(sizeof(int64_t) * 3 * k->warning_capacity);
    k->scratch = malloc(sizeof(int64_t) * k->scratch_capacity);
    return k->signature && k->read_packet && k->read_latency && k->read_late && k->warning_rows && k->scratch ? 0 : -1;
}

/* A read during a measured period: its packet, latency, whether it came late, and its warning. */
static inline void note_probe_read(struct skipper *k, int64_t packet, int64_t latency, int late, int64_t largest) {
    if (k->recording != 1) return;
    if (k->reads == k->read_capacity || (packet + 1 != largest + 1 && k->warning_count == k->warning_capacity)) {
        k->recording = 2;
        return;
    }
    k->read_packet[k->reads] = packet;
    k->read_latency[k->reads] = latency;
    k->read_late[k->reads] = (int8_t)late;
    k->reads++;
    if (packet + 1 != largest + 1) {
        int64_t *row = k->warning_rows + 3 * k->warning_count++;
        row[0] = packet - largest; row[1] = largest; row[2] = packet + 1;
    }
}

/* What changes at every packet, apart from the rest: the direct path runs on a local copy of it,
 * which no other pointer can reach, so the compiler keeps it in registers. */
struct state {
    int64_t now;
    /* the ring */
    int64_t write_index, lock_free_at, occupancy, index_seen;
    /* the poller */
    int64_t read_index, poller_waiting, waiting_since, wait1_end, wait1_slot, wait2_end;
    /* running figures */
    int64_t counts[3]; /* reads, drops, writes */
    struct read_order order;
    struct displacement displacement;
    int64_t latency_totals[LATENCY_TOTALS];
    int64_t run_bucket, run_length; /* the latest reads' latency bucket, and how many in a row not yet counted */
    /* cursors into the stalls */
    int64_t next_recovery, stall_cursor, drop_stall, begun; /* begun: the stalls begun before now */
    /* the direct path (one writer CPU): when the writer is free, when the poller came to its slot, and
     * whether the run's end came before the writer could take the next packet */
    int64_t writer_free, checked, finished;
    /* a UDP socket's buffer: the bytes it holds, those read but not yet released, the packets moved
     * to its reader queue and not read yet */
    int64_t held_bytes, deficit, spliced;
    /* the direct path measures a period for skipping (struct skipper): here, in a register, as the
     * poller's every read asks */
    int64_t recording;
};

struct engine {
    /* the scenario */
    int policy;
    int64_t ring_slots, cpus, cost_ns, hold_ns, poller_cost_ns, wakeup_ns, end_ns, interval_ns, packets;
    int64_t byte_limit, packet_bytes;
    struct stalls stalls;
    const int64_t *arrival_sorted; /* all arrivals in time order, where they are not in id order; else NULL */
    int64_t n_arrivals;
    /* per-packet outputs (a run that keeps its trace), indexed by id - 1; NULL otherwise */
    int32_t *slot_out, *index_after_out;
    int8_t *fate;
    int64_t *decided_ns, *blocked_by_out, *delivery_ns, *delivery_order;
    /* per-stall outputs */
    int64_t *drops_per_stall, *drops_per_pause, *worst_latency_per_stall;
    double *recovery_ns;
    /* running figures */
    int64_t *drop_causes, *latency_counts_out, *late_latency_counts_out, *latency_totals_out;
    int64_t latency_counts[LATENCY_BUCKETS], late_latency_counts[LATENCY_BUCKETS];
    struct warnings warnings;
    struct read_window window;
    /* the ring */
    int64_t *slots, *slot_arrival, *commit_ns; /* commit_ns: when the slot's packet was committed, or UNCOMMITTED */
    int p_state;
    /* the writer CPUs */
    int64_t *wake, *w_state, *w_packet, *w_arrival, *w_key, *w_index_after, *w_blocked, *w_blocker_arrival;
    /* the packets fed so far: this chunk's, per CPU */
    const int64_t *chunk_arrival;
    const int64_t *chunk_packets;
    const int64_t *chunk_offsets;
    int64_t chunk_first, *w_position;
    int64_t starting; /* the processes started so far at time 0 */
    struct state s;
    struct skipper skip; /* skipping whole periods (the direct path, regular arrivals) */
};

void ringlab_engine_free(struct engine *e) {
    if (!e) return;
    free(e->slots); free(e->slot_arrival); free(e->commit_ns); free(e->wake); free(e->w_state); free(e->w_packet);
    free(e->w_arrival); free(e->w_key); free(e->w_index_after); free(e->w_blocked); free(e->w_blocker_arrival);
    free(e->w_position); free(e->warnings.first); free(e->warnings.last);
    free(e->window.position);
    free(e->skip.signature); free(e->skip.read_packet); free(e->skip.read_latency); free(e->skip.read_late);
    free(e->skip.warning_rows); free(e->skip.scratch);
    free(e);
}

/* A new run (sim/engine.h says what the configuration holds). Returns NULL for a policy the engine
 * does not know, or if memory ran out. */
struct engine *ringlab_engine_new(const struct engine_config *config) {
    const struct engine_config *c = config;
    switch (c->policy) {
    case POLICY_BUGGY: case POLICY_FIXED: case POLICY_LOCKED: break;
    default: return NULL;
    }
    struct engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    int64_t cpus = c->cpus, ring_slots = c->ring_slots, n_stalls = c->stalls;
    e->policy = (int)c->policy; e->ring_slots = ring_slots; e->cpus = cpus; e->cost_ns = c->writer_cost_ns;
    e->hold_ns = c->lock_hold_ns; e->poller_cost_ns = c->poller_cost_ns; e->wakeup_ns = c->poller_wakeup_ns;
    e->end_ns = c->end_ns; e->interval_ns = c->interval_ns; e->packets = c->packets;
    e->byte_limit = c->byte_limit; e->packet_bytes = c->packet_bytes;
    e->stalls = (struct stalls){c->stall_start_ns, c->stall_end_ns, n_stalls};
    e->arrival_sorted = c->sorted_arrival_ns; e->n_arrivals = c->sorted_arrivals;
    e->slot_out = c->slot; e->fate = c->fate; e->decided_ns = c->decided_ns; e->index_after_out = c->writer_index_after;
    e->blocked_by_out = c->blocked_by; e->delivery_ns = c->delivery_ns; e->delivery_order = c->delivery_order;
    e->drops_per_stall = c->drops_per_stall; e->recovery_ns = c->recovery_ns; e->drops_per_pause = c->drops_per_pause;
    e->drop_causes = c->drop_causes; e->latency_counts_out = c->latency_counts;
    e->late_latency_counts_out = c->late_latency_counts; e->latency_totals_out = c->latency_totals;
    e->worst_latency_per_stall = c->worst_latency_per_stall;
    int64_t n = cpus ? cpus : 1, slots = ring_slots ? ring_slots : 1;
    e->slots = malloc(sizeof(int64_t) * slots); e->slot_arrival = malloc(sizeof(int64_t) * slots);
    e->commit_ns = malloc(sizeof(int64_t) * slots); e->wake = malloc(sizeof(int64_t) * (n + 1));
    e->w_state = malloc(sizeof(int64_t) * n); e->w_packet = malloc(sizeof(int64_t) * n);
    e->w_arrival = malloc(sizeof(int64_t) * n); e->w_key = calloc(n, sizeof(int64_t));
    e->w_index_after = calloc(n, sizeof(int64_t)); e->w_blocked = malloc(sizeof(int64_t) * n);
    e->w_blocker_arrival = calloc(n, sizeof(int64_t)); e->w_position = calloc(n, sizeof(int64_t));
    if (!e->slots || !e->slot_arrival || !e->commit_ns || !e->wake || !e->w_state || !e->w_packet || !e->w_arrival ||
        !e->w_key || !e->w_index_after || !e->w_blocked || !e->w_blocker_arrival || !e->w_position ||
        warnings_init(&e->warnings, c->warnings_out, c->keep_warnings) != 0 || window_init(&e->window) != 0) {
        ringlab_engine_free(e);
        return NULL;
    }
    for (int64_t i = 0; i < ring_slots; i++) { e->slots[i] = EMPTY; e->commit_ns[i] = UNCOMMITTED; }
    for (int64_t p = 0; p <= cpus; p++) e->wake[p] = NEVER;
    for (int64_t c = 0; c < cpus; c++) { e->w_state[c] = W_NEXT; e->w_blocked[c] = EMPTY; }
    for (int64_t i = 0; i < n_stalls; i++) e->recovery_ns[i] = NAN;
    e->p_state = P_CHECK;
    e->s.displacement.base = 1;
    e->s.wait1_end = INT64_MIN; e->s.wait1_slot = -1; e->s.wait2_end = INT64_MIN;
    if (c->skip && skipper_init(&e->skip, ring_slots) != 0) {
        ringlab_engine_free(e);
        return NULL;
    }
    return e;
}

/* The poller reads slot read_index at s->now: copy, zero, advance; `traced`: the run keeps its trace.
 * Returns 0, or -1 if memory ran out. */
static inline __attribute__((always_inline)) int poller_read(struct engine *e, struct state *s, int traced) {
    const struct stalls *stalls = &e->stalls;
    int64_t now = s->now, slot = s->read_index, packet = e->slots[slot], arrival = e->slot_arrival[slot];
    if (e->packet_bytes) { /* a UDP socket's buffer: the rules of sim/kernel_queue.py, SocketBuffer.clear */
        if (s->spliced == 0) s->spliced = s->occupancy;
        s->spliced--;
        s->deficit += e->packet_bytes;
        if (s->deficit >= (e->byte_limit >> 2) || s->spliced == 0) {
            s->held_bytes -= s->deficit;
            s->deficit = 0;
            s->spliced = s->occupancy - 1;
        }
    }
    e->slots[slot] = EMPTY;
    e->commit_ns[slot] = UNCOMMITTED;
    s->occupancy--;
    int64_t reads = s->counts[0]++;
    if (traced) {
        e->fate[packet] = DELIVERED;
        e->delivery_ns[packet] = now;
        e->delivery_order[packet] = reads;
    }
    int late = packet + 1 < s->order.largest; /* an old packet, read after a larger id */
    if (s->recording) note_probe_read(&e->skip, packet, now - arrival, late, s->order.largest);
    warnings_read(&e->warnings, &s->order, packet + 1);
    if (displacement_settle(&s->displacement, &e->window, packet + 1, reads) != 0) return -1;
    int64_t latency = now - arrival;
    int64_t bucket = latency_bucket(latency);
    if (bucket != s->run_bucket) { /* counted a run at a time: reads in a row mostly share a bucket */
        e->latency_counts[s->run_bucket] += s->run_length;
        s->run_bucket = bucket;
        s->run_length = 0;
    }
    s->run_length++;
    s->latency_totals[TOTAL_SUM] += latency;
    if (latency > s->latency_totals[TOTAL_MAX]) s->latency_totals[TOTAL_MAX] = latency;
    if (late) {
        e->late_latency_counts[latency_bucket(latency)]++;
        s->latency_totals[TOTAL_LATE_SUM] += latency;
        if (latency > s->latency_totals[TOTAL_LATE_MAX]) s->latency_totals[TOTAL_LATE_MAX] = latency;
    }
    /* the stall its wait overlapped most: none if the last stall begun by now ended before it came */
    while (s->begun < stalls->count && stalls->start[s->begun] < now) s->begun++;
    if (s->begun > 0 && stalls->end[s->begun - 1] > arrival) {
        int64_t stall = pause_with_most_overlap(stalls, arrival, now);
        if (stall >= 0 && latency > e->worst_latency_per_stall[stall]) e->worst_latency_per_stall[stall] = latency;
    }
    s->read_index = slot + 1 == e->ring_slots ? 0 : slot + 1;
    return 0;
}

/* When the poller's read, begun once it noticed the slot at `notice`, ends (stalls pause it). */
static inline __attribute__((always_inline)) int64_t read_done(const struct engine *e, struct state *s, int64_t notice) {
    const struct stalls *stalls = &e->stalls;
    while (s->stall_cursor < stalls->count && stalls->end[s->stall_cursor] <= notice) s->stall_cursor++;
    if (s->stall_cursor < stalls->count && stalls->start[s->stall_cursor] <= notice + e->poller_cost_ns)
        return work_end(stalls, resume_time(stalls, notice), e->poller_cost_ns);
    return notice + e->poller_cost_ns;
}

/* The poller, woken at s->now. */
static int run_poller(struct engine *e) {
    struct state *s = &e->s;
    for (;;) {
        int64_t notice, now = s->now;
        if (e->p_state == P_CHECK) {
            if (e->commit_ns[s->read_index] != UNCOMMITTED) {
                notice = now;
            } else {
                s->poller_waiting = 1;
                s->waiting_since = now;
                e->p_state = P_NOTICED;
                return 0;
            }
        } else if (e->p_state == P_NOTICED) {
            notice = now + e->wakeup_ns;
        } else { /* P_READ */
            if (poller_read(e, s, e->fate != NULL) != 0) return -1;
            e->p_state = P_CHECK;
            continue;
        }
        e->wake[0] = read_done(e, s, notice);
        e->p_state = P_READ;
        return 0;
    }
}

/* A writer's decision on a packet: the slot it looked at, the write index it left, and the packet
 * that blocked it (EMPTY if it wrote), with that packet's arrival. */
struct decision {
    int64_t packet, arrival, key, index_after, blocker, blocker_arrival;
};

/* The decision d was made at s->now (written or dropped); `traced`: the run keeps its trace. */
static inline __attribute__((always_inline)) int record_decision(struct engine *e, struct state *s,
                                                                 const struct decision *d, int traced) {
    int64_t packet = d->packet, blocker = d->blocker, now = s->now, key = d->key;
    if (traced) {
        e->fate[packet] = blocker == EMPTY ? IN_RING : DROPPED_FULL;
        e->slot_out[packet] = (int32_t)key;
        e->decided_ns[packet] = now;
        e->index_after_out[packet] = (int32_t)d->index_after;
        if (blocker != EMPTY) e->blocked_by_out[packet] = blocker + 1;
    }
    if (blocker == EMPTY) {
        s->counts[2]++;
    } else {
        const struct stalls *stalls = &e->stalls;
        s->counts[1]++;
        if (displacement_settle(&s->displacement, &e->window, packet + 1, NEVER_READ) != 0) return -1;
        /* drops per stall: the latest stall begun by now */
        while (s->drop_stall < stalls->count && stalls->start[s->drop_stall] <= now) s->drop_stall++;
        e->drops_per_stall[s->drop_stall]++;
        /* its cause (ringlab.analysis.attribution): the pause that overlaps most the time the blocking packet waited */
        int64_t from = d->blocker_arrival, arrival = d->arrival;
        int64_t pause = pause_with_most_overlap(stalls, from, now);
        if (pause >= 0) {
            e->drops_per_pause[pause]++;
        } else {
            int64_t arrived = e->arrival_sorted ? count_between(e->arrival_sorted, e->n_arrivals, from, arrival)
                                                : packet - blocker + 1; /* arrivals in id order */
            int64_t other_end; /* the latest wait on another slot, begun before now */
            if (s->poller_waiting && s->waiting_since < now && s->read_index != key) other_end = NEVER;
            else other_end = s->wait1_slot != key ? s->wait1_end : s->wait2_end;
            int not_committed = e->slots[key] == blocker && e->commit_ns[key] == UNCOMMITTED;
            if (not_committed) e->drop_causes[DROP_WRITING]++;
            else if (arrived >= 2 && 2 * (arrival - from) < e->interval_ns * (arrived - 1)) e->drop_causes[DROP_BURST]++;
            else if (other_end > from) e->drop_causes[DROP_OFFSET]++;
            else e->drop_causes[DROP_SLOW]++;
        }
    }
    s->index_seen = d->index_after;
    return 0;
}

/* Writer CPU c, woken at s->now. */
static int run_writer(struct engine *e, int64_t c) {
    struct state *s = &e->s;
    int64_t p = c + 1, now = s->now;
    for (;;) {
        int64_t state = e->w_state[c];
        if (state == W_NEXT) {
            if (e->w_position[c] == e->chunk_offsets[c + 1]) {
                e->w_state[c] = W_FED_OUT; /* until the next chunk */
                return 0;
            }
            int64_t packet = e->chunk_packets[e->w_position[c]++];
            e->w_packet[c] = packet;
            e->w_arrival[c] = e->chunk_arrival[packet - e->chunk_first];
            e->w_state[c] = W_TAKE_INDEX;
            if (e->w_arrival[c] > now) {
                e->wake[p] = e->w_arrival[c];
                return 0;
            }
        } else if (state == W_TAKE_INDEX || state == W_RESET) {
            if (s->lock_free_at > now) { /* spin until the lock is free */
                e->wake[p] = s->lock_free_at;
                return 0;
            }
            s->lock_free_at = now + e->hold_ns;
            if (state == W_RESET) { /* the fix: retry this slot next time */
                s->write_index = e->w_key[c];
                e->w_index_after[c] = e->w_key[c];
                e->w_state[c] = W_RECORD;
                if (e->hold_ns > 0) {
                    e->wake[p] = now + e->hold_ns;
                    return 0;
                }
                continue;
            }
            int64_t key = s->write_index;
            e->w_key[c] = key;
            if (e->policy == POLICY_LOCKED) { /* look, claim and advance in one critical section */
                int free_slot = e->slots[key] == EMPTY;
                int64_t holder = key;
                if (free_slot && e->packet_bytes && s->held_bytes > e->byte_limit) { /* the buffer is over its limit */
                    free_slot = 0;
                    holder = s->read_index; /* the oldest unread packet */
                }
                e->w_blocked[c] = free_slot ? EMPTY : e->slots[holder];
                e->w_blocker_arrival[c] = e->slot_arrival[holder];
                if (free_slot) {
                    s->held_bytes += e->packet_bytes;
                    e->slots[key] = e->w_packet[c]; /* claimed: full, not yet committed */
                    e->slot_arrival[key] = e->w_arrival[c];
                    s->write_index = key + 1 == e->ring_slots ? 0 : key + 1;
                }
                e->w_index_after[c] = s->write_index;
                if (!free_slot) {
                    e->w_state[c] = W_RECORD;
                    if (e->hold_ns > 0) {
                        e->wake[p] = now + e->hold_ns;
                        return 0;
                    }
                    continue;
                }
                e->w_state[c] = W_COPY;
            } else { /* take the index and advance it; look later */
                s->write_index = key + 1 == e->ring_slots ? 0 : key + 1;
                e->w_index_after[c] = s->write_index;
                e->w_state[c] = W_LOOK;
            }
            if (e->hold_ns + e->cost_ns > 0) {
                e->wake[p] = now + e->hold_ns + e->cost_ns;
                return 0;
            }
        } else if (state == W_LOOK || state == W_COPY) {
            int64_t key = e->w_key[c];
            /* buggy, fixed: look now; locked: commit the slot claimed under the lock */
            if (state == W_LOOK) {
                e->w_blocked[c] = e->slots[key];
                e->w_blocker_arrival[c] = e->slot_arrival[key];
            }
            if (e->w_blocked[c] == EMPTY) {
                e->slots[key] = e->w_packet[c];
                e->slot_arrival[key] = e->w_arrival[c];
                e->commit_ns[key] = now;
                s->occupancy++;
                if (s->poller_waiting && key == s->read_index) {
                    s->poller_waiting = 0;
                    e->wake[0] = now;
                    if (now > s->waiting_since) {
                        if (key != s->wait1_slot) s->wait2_end = s->wait1_end;
                        s->wait1_end = now;
                        s->wait1_slot = key;
                    }
                }
            }
            e->w_state[c] = (e->w_blocked[c] != EMPTY && state == W_LOOK && e->policy == POLICY_FIXED) ? W_RESET : W_RECORD;
        } else if (state == W_RECORD) {
            struct decision d = {e->w_packet[c], e->w_arrival[c], e->w_key[c], e->w_index_after[c], e->w_blocked[c],
                                 e->w_blocker_arrival[c]};
            if (record_decision(e, s, &d, e->fate != NULL) != 0) return -1;
            e->w_state[c] = W_NEXT;
        } else {
            return 0;
        }
    }
}

/* The state after s->now holds until holds_until: settle the recoveries that decides. */
static inline __attribute__((always_inline)) void settle_until(struct engine *e, struct state *s, int64_t holds_until) {
    const struct stalls *stalls = &e->stalls;
    if (holds_until > s->now && s->next_recovery < stalls->count && stalls->end[s->next_recovery] < holds_until) {
        int aligned = s->occupancy == 0 && s->index_seen == s->read_index;
        int64_t deadline = s->next_recovery + 1 < stalls->count ? stalls->start[s->next_recovery + 1] : e->end_ns + 1;
        if (aligned || deadline <= holds_until)
            s->next_recovery = settle_recoveries(s->next_recovery, aligned, s->now, holds_until, stalls, e->end_ns,
                                                 e->recovery_ns);
    }
}

/* Feed the next chunk of packets (ids first + 1 ..): their arrivals, and per writer CPU c the
 * packets it handles, chunk_packets[chunk_offsets[c] .. chunk_offsets[c + 1]) (global indices, in
 * arrival order). Runs every event before `limit` (the last arrival of the chunk plus one; or, with
 * the last chunk, the end of the run). Returns 0, or -1 if memory ran out. */
int ringlab_engine_feed(struct engine *e, int64_t first, const int64_t *arrival, const int64_t *chunk_packets,
                        const int64_t *chunk_offsets, int64_t limit, int last) {
    struct state *s = &e->s;
    e->chunk_first = first;
    e->chunk_arrival = arrival;
    e->chunk_packets = chunk_packets;
    e->chunk_offsets = chunk_offsets;
    for (int64_t c = 0; c < e->cpus; c++) {
        e->w_position[c] = chunk_offsets[c];
        if (e->w_state[c] == W_FED_OUT) { /* it waits for a packet of this chunk: take it at its arrival */
            e->w_state[c] = W_NEXT;
            if (run_writer(e, c) != 0) return -1;
        }
    }
    for (;;) {
        int64_t p;
        if (e->starting <= e->cpus) { /* at time 0 every process starts, the writers first, then the poller */
            p = e->starting < e->cpus ? 1 + e->starting : 0;
            e->starting++;
        } else {
            int64_t best = 0;
            for (int64_t q = 1; q <= e->cpus; q++)
                if (e->wake[q] < e->wake[best]) best = q;
            int64_t upcoming = e->wake[best] < limit ? e->wake[best] : NEVER;
            /* the state after now holds until the next event: beyond this chunk, at least until limit */
            settle_until(e, s, upcoming != NEVER ? upcoming : (last ? NEVER : limit));
            if (upcoming == NEVER) break;
            s->now = e->wake[best];
            p = best;
        }
        e->wake[p] = NEVER;
        if ((p == 0 ? run_poller(e) : run_writer(e, p - 1)) != 0) return -1;
    }
    return 0;
}

/* Per writer CPU, the first packet of the last chunk fed that it has not taken yet (a CPU that
 * fell behind its packets' arrivals), or -1: the caller feeds these again with the next chunk. */
void ringlab_engine_untaken(const struct engine *e, int64_t *next) {
    for (int64_t c = 0; c < e->cpus; c++)
        next[c] = e->w_position[c] < e->chunk_offsets[c + 1] ? e->chunk_packets[e->w_position[c]] : -1;
}

/* ---- the direct path: one writer CPU, buggy or fixed ----
 * With one writer nothing comes between a packet's steps (take the index, look, write or drop,
 * record) but the poller's reads, so the run can go packet by packet: before each moment the
 * writer acts on the ring, the poller's reads up to that moment are caught up (the poller first at
 * a tie, as in the event loop). Every event still happens in time order with the same state, so
 * every output is the event loop's (tests/test_fast_engine.py checks both against the SimPy model).
 * It needs the poller's cost above zero (a read never ends when it is noticed) and no packet that
 * both arrives at 0 and is looked at 0 (at time 0 the writers run before the poller starts). */

/* The poller's reads that end by `limit` (inclusive) or before it. Returns 0, or -1 if memory ran out. */
static inline __attribute__((always_inline)) int catch_up_reads(struct engine *e, struct state *s, int64_t limit, int inclusive, int traced) {
    while (e->slots[s->read_index] != EMPTY) {
        int64_t committed_at = e->commit_ns[s->read_index];
        /* a slot committed before the poller came to it is read at once; else after waking up */
        int64_t notice = committed_at < s->checked ? s->checked : committed_at + e->wakeup_ns;
        int64_t done = read_done(e, s, notice);
        if (inclusive ? done > limit : done >= limit) return 0;
        settle_until(e, s, done);
        s->now = done;
        if (poller_read(e, s, traced) != 0) return -1;
        s->checked = done;
        if (e->slots[s->read_index] == EMPTY) {
            s->poller_waiting = 1;
            s->waiting_since = done;
        }
    }
    return 0;
}

/* The writer handles `packet`, arriving at `arrival`. Returns 0; 1 if the run ends before its
 * decision (it and every later packet stay pending); -1 if memory ran out. */
static inline __attribute__((always_inline)) int direct_packet(struct engine *e, struct state *s, int64_t packet, int64_t arrival, int traced) {
    int64_t take = arrival > s->writer_free ? arrival : s->writer_free;
    if (take >= e->end_ns) return 1;
    int64_t key = s->write_index, look = take + e->hold_ns + e->cost_ns;
    s->write_index = key + 1 == e->ring_slots ? 0 : key + 1;
    if (look >= e->end_ns) return 1;
    if (catch_up_reads(e, s, look, 1, traced) != 0) return -1;
    settle_until(e, s, look);
    s->now = look;
    struct decision d = {packet, arrival, key, s->write_index, e->slots[key], e->slot_arrival[key]};
    if (d.blocker == EMPTY) {
        e->slots[key] = packet;
        e->slot_arrival[key] = arrival;
        e->commit_ns[key] = look;
        s->occupancy++;
        if (s->poller_waiting && key == s->read_index) {
            s->poller_waiting = 0;
            if (look > s->waiting_since) {
                if (key != s->wait1_slot) s->wait2_end = s->wait1_end;
                s->wait1_end = look;
                s->wait1_slot = key;
            }
        }
    } else if (e->policy == POLICY_FIXED) { /* the fix: retry this slot next time, deciding after the lock's hold */
        s->write_index = key;
        d.index_after = key;
        int64_t decided = look + e->hold_ns;
        if (decided >= e->end_ns) return 1;
        if (catch_up_reads(e, s, decided, 1, traced) != 0) return -1;
        settle_until(e, s, decided);
        s->now = decided;
    }
    if (record_decision(e, s, &d, traced) != 0) return -1;
    s->writer_free = s->now;
    return 0;
}

/* ---- skipping whole periods (the direct path, arrivals at multiples of the interval) ----
 * The state before packet p, taken relative to p, to its arrival a and to the write index w, is
 * what decides everything after it, until a stall or the run's end comes near: the ring's packets
 * (ids - p, arrival and commit times - a, in slot order from w), the indices (- w), the poller's
 * and writer's times (- a), the cursors into the stalls, and the bookkeeping of order and
 * displacement. A time that can no longer matter (a wait that ended before every arrival still to
 * be compared with it) is written as STALE, so that a forgotten past does not stop the match.
 * When the state before p + P equals the one before p, the engine jumps: every later period is
 * this one moved on by P packets, so their figures are this period's figures times the number of
 * periods, and the state after them is this one moved on. tests/test_fast_engine.py holds the
 * result equal to the per-packet run's, trace and summary, on generated scenarios. */

#define STALE INT64_MIN
#define SIGNATURE_MISMATCH (-1)
#define SIGNATURE_TOO_LONG (-2)

static inline int64_t ring_mod(int64_t v, int64_t n) { v %= n; return v < 0 ? v + n : v; }

/* Whether a time t (INT64_MIN: never) lies before floor, relative to a: past mattering. */
static inline int stale(int64_t t, int64_t a, int64_t floor) { return t == INT64_MIN || t - a < floor; }

/* The earliest arrival and commit among the packets in the ring, relative to a (at most 0): the
 * slots from the write index on, as far as the last packet in the ring. */
static void ring_floors(const struct engine *e, const struct state *s, int64_t a, int64_t *arrival_floor,
                        int64_t *commit_floor) {
    *arrival_floor = 0, *commit_floor = 0;
    for (int64_t i = 0, found = 0; found < s->occupancy; i++) {
        int64_t slot = (s->write_index + i) % e->ring_slots;
        if (e->slots[slot] == EMPTY) continue;
        found++;
        if (e->slot_arrival[slot] - a < *arrival_floor) *arrival_floor = e->slot_arrival[slot] - a;
        if (e->commit_ns[slot] - a < *commit_floor) *commit_floor = e->commit_ns[slot] - a;
    }
}

/* The state before packet p, arriving at a, relative (see above): written into out (compare 0), or compared with
 * the `length` values in out (compare 1). Returns its length, SIGNATURE_MISMATCH, or
 * SIGNATURE_TOO_LONG (the window of unsettled ids is too wide to compare). */
static int64_t signature(const struct engine *e, const struct state *s, int64_t p, int64_t a, int64_t *out, int compare,
                         int64_t length, int64_t capacity) {
    int64_t n = 0, w = s->write_index, slots = e->ring_slots;
#define PUT(v) do { \
        int64_t v_ = (v); \
        if (!compare) out[n] = v_; \
        else if (n >= length || out[n] != v_) return SIGNATURE_MISMATCH; \
        n++; \
    } while (0)
    /* the figures compared first are the cheap ones, which differ most often */
    PUT(s->occupancy); PUT(ring_mod(s->read_index - w, slots)); PUT(ring_mod(s->index_seen - w, slots));
    PUT(s->poller_waiting); PUT(s->poller_waiting ? s->waiting_since - a : 0);
    PUT(s->writer_free - a > 0 ? s->writer_free - a : 0);
    PUT(s->now - a); PUT(s->finished);
    PUT(s->stall_cursor); PUT(s->drop_stall); PUT(s->begun); PUT(s->next_recovery);
    PUT(s->order.largest - p);
    const struct displacement *d = &s->displacement;
    PUT(d->base - p); PUT(d->base - 1 - d->undelivered - s->counts[0]);
    int64_t arrival_floor, commit_floor;
    ring_floors(e, s, a, &arrival_floor, &commit_floor);
    PUT(stale(s->checked, a, commit_floor) ? STALE : s->checked - a);
    int wait1_stale = stale(s->wait1_end, a, arrival_floor);
    PUT(wait1_stale ? STALE : s->wait1_end - a);
    PUT(wait1_stale || s->wait1_slot < 0 ? -1 : ring_mod(s->wait1_slot - w, slots));
    PUT(stale(s->wait2_end, a, arrival_floor) ? STALE : s->wait2_end - a);
    int64_t span = p - d->base + 1; /* the ids decided and not settled: base .. p */
    if (span > 0 && (compare ? n + span > length : n + span + 3 * slots > capacity)) return compare ? SIGNATURE_MISMATCH
                                                                                                     : SIGNATURE_TOO_LONG;
    for (int64_t id = d->base; id <= p; id++) {
        int64_t position = e->window.position[id & (e->window.capacity - 1)];
        PUT(position >= 0 ? position - s->counts[0] : position);
    }
    for (int64_t i = 0, found = 0; found < s->occupancy; i++) { /* from w to the last packet in the ring */
        int64_t slot = (w + i) % slots;
        if (e->slots[slot] == EMPTY) {
            PUT(EMPTY);
        } else {
            found++;
            PUT(e->slots[slot] - p); PUT(e->slot_arrival[slot] - a); PUT(e->commit_ns[slot] - a);
        }
    }
#undef PUT
    return compare && n != length ? SIGNATURE_MISMATCH : n;
}

/* Begin measuring a period at packet p: the state and the figures there. */
static void start_probe(struct engine *e, const struct state *s, int64_t p, int64_t a) {
    struct skipper *k = &e->skip;
    int64_t length = signature(e, s, p, a, k->signature, 0, 0, k->signature_capacity);
    if (length < 0) { /* too wide to compare: try again later */
        k->next_probe = p + k->backoff;
        return;
    }
    int64_t arrival_floor, commit_floor;
    ring_floors(e, s, a, &arrival_floor, &commit_floor);
    k->signature_length = length;
    k->probe_arrival = a;
    k->floor_ns = a + arrival_floor;
    k->probe_packet = p;
    memcpy(k->counts, s->counts, sizeof k->counts);
    memcpy(k->causes, e->drop_causes, sizeof k->causes);
    k->warnings = s->order.count, k->late = s->order.late;
    k->undelivered = s->displacement.undelivered, k->base = s->displacement.base;
    k->write_index = s->write_index;
    k->reads = 0, k->warning_count = 0;
    k->recording = 1;
}

/* The warnings of `periods` more periods: the measured period's rows, ids moved on by `period` each time. */
static void replay_warnings(struct engine *e, struct state *s, int64_t periods, int64_t period) {
    struct skipper *k = &e->skip;
    struct warnings *w = &e->warnings;
    int64_t rows = k->warning_count, total = periods * rows, first = s->order.count;
    if (rows == 0) return;
    for (int64_t r = 0; r < total; r++) {
        int64_t c = first + r;
        int wanted = w->out != NULL || (w->keep > 0 && (c < w->keep || c >= first + total - w->keep));
        if (!wanted) { /* only the first and last `keep` are kept: jump to the last ones */
            r = first + total - w->keep - first - 1;
            continue;
        }
        const int64_t *row = k->warning_rows + 3 * (r % rows);
        int64_t shift = (r / rows + 1) * period, largest = row[1] + shift, id = row[2] + shift;
        if (w->out) put_warning(w->out, row[0], largest, id);
        if (w->keep > 0) {
            int64_t *kept = c < w->keep ? w->first + 3 * c : w->last + 3 * ((c - w->keep) % w->keep);
            if (c < w->keep) w->kept_first++;
            kept[0] = row[0]; kept[1] = largest; kept[2] = id;
        }
    }
    s->order.count += total;
    if (w->keep > 0 && s->order.count >= w->keep) w->last_at = (s->order.count - w->keep) % w->keep;
}

/* How many packets from p on (at most `most`) arrive each one interval after the one before, as
 * packet p - 1 arrived before p: all of them where the arrivals are computed (`arrival` NULL). */
static int64_t regular_from(const struct engine *e, const int64_t *arrival, int64_t first, int64_t p, int64_t most) {
    if (!arrival) return most;
    int64_t n = 0;
    while (n < most && arrival[p - first + n] - arrival[p - first + n - 1] == e->interval_ns) n++;
    return n;
}

/* The measured period, from k->probe_packet to p (arriving at a), repeats: jump over as many more
 * periods as come before the next stall, the run's end, the end of the regular arrivals and
 * `chunk_end` (a packet; `arrival`: the chunk's arrivals from packet `first`, or NULL where
 * they are computed). Returns the packets jumped over. */
static int64_t skip_periods(struct engine *e, struct state *s, int64_t p, int64_t a, const int64_t *arrival,
                            int64_t first, int64_t chunk_end, int traced) {
    struct skipper *k = &e->skip;
    const struct stalls *stalls = &e->stalls;
    int64_t period = p - k->probe_packet, slots = e->ring_slots, interval = e->interval_ns;
    /* the measured period's arrivals were regular */
    if (a - k->probe_arrival != period * interval || regular_from(e, arrival, first, k->probe_packet + 1, period) != period)
        return 0;
    int64_t after = stalls_after(stalls, s->now);
    int64_t next_start = after < stalls->count ? stalls->start[after] : NEVER;
    /* every time the state remembers came after the stalls begun so far: no later read or drop is
     * charged to one of them, as none of this period's was */
    if (after > 0 && stalls->end[after - 1] > k->floor_ns) return 0;
    if (s->displacement.base - k->base != period) return 0;
    int64_t limit = next_start < e->end_ns ? next_start : e->end_ns;
    int64_t periods = (limit - 1 - s->now) / (period * interval);
    if ((chunk_end - p) / period < periods) periods = (chunk_end - p) / period;
    if (periods > 0 && arrival) periods = regular_from(e, arrival, first, p, periods * period) / period;
    if (periods <= 0) return 0;
    int64_t packets = periods * period, shift_ns = packets * interval;
    int64_t reads = s->counts[0] - k->counts[0], turn = ring_mod((s->write_index - k->write_index) * periods, slots);
    /* the figures: every period adds this one's */
    e->latency_counts[s->run_bucket] += s->run_length;
    s->run_length = 0;
    for (int64_t r = 0; r < k->reads; r++) {
        int64_t latency = k->read_latency[r], bucket = latency_bucket(latency);
        e->latency_counts[bucket] += periods;
        s->latency_totals[TOTAL_SUM] += periods * latency;
        if (k->read_late[r]) {
            e->late_latency_counts[bucket] += periods;
            s->latency_totals[TOTAL_LATE_SUM] += periods * latency;
        }
    }
    int64_t drops = s->counts[1] - k->counts[1];
    for (int i = 0; i < 3; i++) s->counts[i] += periods * (s->counts[i] - k->counts[i]);
    for (int i = 0; i < DROP_CAUSES; i++) e->drop_causes[i] += periods * (e->drop_causes[i] - k->causes[i]);
    e->drops_per_stall[s->drop_stall] += periods * drops;
    s->order.late += periods * (s->order.late - k->late);
    replay_warnings(e, s, periods, period);
    s->order.largest += packets;
    /* the trace: each period's decisions and reads, moved on */
    if (traced) {
        for (int64_t j = 1; j <= periods; j++) {
            int64_t ids = j * period, ns = j * period * interval;
            for (int64_t q = k->probe_packet; q < p; q++) {
                int64_t to = q + ids;
                e->fate[to] = e->fate[q] == DROPPED_FULL ? DROPPED_FULL : IN_RING;
                e->slot_out[to] = (int32_t)ring_mod(e->slot_out[q] + ring_mod((s->write_index - k->write_index) * j, slots), slots);
                e->index_after_out[to] = (int32_t)ring_mod(e->index_after_out[q] + ring_mod((s->write_index - k->write_index) * j, slots), slots);
                e->decided_ns[to] = e->decided_ns[q] + ns;
                if (e->fate[q] == DROPPED_FULL) e->blocked_by_out[to] = e->blocked_by_out[q] + ids;
            }
            for (int64_t r = 0; r < k->reads; r++) {
                int64_t q = k->read_packet[r], to = q + ids;
                e->fate[to] = DELIVERED;
                e->delivery_ns[to] = e->delivery_ns[q] + ns;
                e->delivery_order[to] = e->delivery_order[q] + j * reads;
            }
        }
    }
    /* the order of reads: the window of unsettled ids moves on */
    struct displacement *d = &s->displacement;
    int64_t span = p - d->base + 1, *entries = k->scratch;
    for (int64_t i = 0; i < span; i++) {
        int64_t *at = &e->window.position[(d->base + i) & (e->window.capacity - 1)];
        entries[i] = *at >= 0 ? *at + periods * reads : *at;
        *at = UNSETTLED;
    }
    d->base += packets;
    d->undelivered += periods * (d->undelivered - k->undelivered);
    if (span > 0 && window_fit(&e->window, d->base, d->base + span - 1) != 0) return -1;
    for (int64_t i = 0; i < span; i++) e->window.position[(d->base + i) & (e->window.capacity - 1)] = entries[i];
    /* the ring: its packets moved on and turned (an empty slot's other values are never read) */
    int64_t arrival_floor, commit_floor;
    ring_floors(e, s, a, &arrival_floor, &commit_floor);
    int64_t *moved = k->scratch, held = 0; /* (slot, packet, arrival, commit) of each packet in the ring */
    for (int64_t i = 0; held < s->occupancy; i++) {
        int64_t slot = (s->write_index + i) % slots;
        if (e->slots[slot] == EMPTY) continue;
        int64_t *row = moved + 4 * held++;
        row[0] = slot, row[1] = e->slots[slot], row[2] = e->slot_arrival[slot], row[3] = e->commit_ns[slot];
        e->slots[slot] = EMPTY;
        e->commit_ns[slot] = UNCOMMITTED;
    }
    for (int64_t i = 0; i < held; i++) {
        const int64_t *row = moved + 4 * i;
        int64_t to = (row[0] + turn) % slots;
        e->slots[to] = row[1] + packets, e->slot_arrival[to] = row[2] + shift_ns, e->commit_ns[to] = row[3] + shift_ns;
    }
    s->write_index = (s->write_index + turn) % slots;
    s->read_index = (s->read_index + turn) % slots;
    s->index_seen = (s->index_seen + turn) % slots;
    if (s->wait1_slot >= 0) s->wait1_slot = (s->wait1_slot + turn) % slots;
    /* the times: those still compared with what comes move on; a stale one stays in the past */
    if (!stale(s->checked, a, commit_floor)) s->checked += shift_ns;
    if (!stale(s->wait1_end, a, arrival_floor)) s->wait1_end += shift_ns;
    if (!stale(s->wait2_end, a, arrival_floor)) s->wait2_end += shift_ns;
    s->now += shift_ns, s->writer_free += shift_ns, s->waiting_since += shift_ns;
    k->skipped_packets += packets;
    k->skips++;
    return packets;
}

/* Feed packets first + 1 .. first + count to the direct path: arriving at arrival[k], or (NULL) at
 * (first + k + 1) * interval_ns. `last`: the final chunk; the run then goes on to its end. Returns
 * 0, or -1 if memory ran out. */
int ringlab_engine_feed_direct(struct engine *e, int64_t first, int64_t count, const int64_t *arrival, int last) {
    struct state local = e->s, *s = &local; /* in registers while the chunk runs */
    int failed = 0;
    if (first == 0) { /* at time 0 the poller starts and finds slot 0 empty */
        s->poller_waiting = 1;
        s->waiting_since = 0;
    }
    int traced = e->fate != NULL;
    struct skipper *skip = &e->skip;
    for (int64_t k = 0; k < count && !s->finished && !failed; k++) {
        int64_t packet = first + k;
        if (skip->on && (skip->recording || packet >= skip->next_probe)) {
            int64_t a = arrival ? arrival[k] : (packet + 1) * e->interval_ns;
            if (skip->recording == 1 && packet > skip->probe_packet &&
                signature(e, s, packet, a, skip->signature, 1, skip->signature_length, 0) >= 0) {
                int64_t jumped = skip_periods(e, s, packet, a, arrival, first, first + count, traced);
                if (jumped < 0) { failed = 1; break; }
                skip->recording = 0;
                skip->backoff = PROBE_FIRST;
                skip->next_probe = packet + jumped + (jumped ? PROBE_FIRST : skip->backoff);
                k += jumped, packet += jumped;
                if (k >= count) break;
                a = arrival ? arrival[k] : (packet + 1) * e->interval_ns;
            } else if (skip->recording && (skip->recording == 2 || packet - skip->probe_packet >= longest_period(e->ring_slots))) {
                skip->recording = 0; /* no period found: probe again later, less often */
                skip->next_probe = packet + skip->backoff;
                if (skip->backoff < PROBE_BACKOFF_MAX) skip->backoff *= 2;
            }
            if (!skip->recording && packet >= skip->next_probe) start_probe(e, s, packet, a);
            s->recording = skip->recording;
        }
        int64_t arrival_ns = arrival ? arrival[k] : (packet + 1) * e->interval_ns;
        /* two copies of the loop: with and without the trace's columns */
        int result = traced ? direct_packet(e, s, packet, arrival_ns, 1) : direct_packet(e, s, packet, arrival_ns, 0);
        failed = result < 0;
        s->finished = result > 0;
    }
    skip->recording = 0, s->recording = 0; /* a period is measured within one chunk */
    if (last && !failed) {
        failed = catch_up_reads(e, s, e->end_ns, 0, traced) != 0;
        settle_until(e, s, NEVER);
    }
    e->s = local;
    return failed ? -1 : 0;
}

/* The end of the run, into `end` (sim/engine.h). */
void ringlab_engine_finish(struct engine *e, struct engine_end *end) {
    struct state *s = &e->s;
    e->latency_counts[s->run_bucket] += s->run_length;
    s->run_length = 0;
    displacement_finish(&s->displacement, &e->window, e->packets);
    end->writer_index = s->index_seen;
    end->read_index = s->read_index;
    end->occupancy = s->occupancy;
    end->reads = s->counts[0];
    end->dropped = s->counts[1];
    end->written = s->counts[2];
    end->warnings = s->order.count;
    end->late_reads = s->order.late;
    end->kept_first_warnings = e->warnings.kept_first;
    int64_t *first_warnings = end->first_warnings, *last_warnings = end->last_warnings;
    if (e->warnings.keep > 0) {
        memcpy(first_warnings, e->warnings.first, sizeof(int64_t) * 3 * e->warnings.kept_first);
        /* the last ones, oldest first */
        int64_t beyond = s->order.count - e->warnings.kept_first, kept = beyond < e->warnings.keep ? beyond : e->warnings.keep;
        for (int64_t k = 0; k < kept; k++) {
            int64_t index = (s->order.count - kept + k) % e->warnings.keep;
            memcpy(last_warnings + 3 * k, e->warnings.last + 3 * index, sizeof(int64_t) * 3);
        }
    }
    end->max_displacement = s->displacement.max;
    end->skipped_packets = e->skip.skipped_packets;
    end->skips = e->skip.skips;
    memcpy(e->latency_counts_out, e->latency_counts, sizeof e->latency_counts);
    memcpy(e->late_latency_counts_out, e->late_latency_counts, sizeof e->late_latency_counts);
    memcpy(e->latency_totals_out, s->latency_totals, sizeof s->latency_totals);
}
