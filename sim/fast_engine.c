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
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEVER INT64_MAX
#define EMPTY (-1)
#define DELIVERED 0
#define DROPPED_FULL 1
#define IN_RING 2
#define PENDING 4

enum policy { BUGGY, FIXED, LOCKED };
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

/* The rules of ringlab.attribution: the pause overlapping [from, to] most (the first on a tie), or -1. */
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

/* The latency histogram's bucket of v >= 0 (ringlab/latency.py: exact below 2^SUB_BITS, then
 * 2^SUB_BITS buckets per power of two). */
#define SUB_BITS 7
#define SUB_BUCKETS (1 << SUB_BITS)
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
 * state_ns (aligned or not) holds until next_ns; the rules of ringlab.analysis.recovery_times_ns. */
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

/* ---- the poller's warnings, as it prints them (ringlab.analysis.poller_warnings) ---- */

struct warnings {
    int64_t largest, count, late;
    FILE *out;            /* every warning line, or NULL */
    int64_t keep, *first, *last, kept_first; /* the first and the last `keep` warnings, as (missed, current, id) */
};

static int warnings_init(struct warnings *w, FILE *out, int64_t keep) {
    memset(w, 0, sizeof *w);
    w->out = out;
    w->keep = keep;
    if (keep > 0) {
        w->first = malloc(sizeof(int64_t) * 3 * keep);
        w->last = malloc(sizeof(int64_t) * 3 * keep);
        if (!w->first || !w->last) return -1;
    }
    return 0;
}

/* The poller read packet `id`: a warning unless it is the largest read so far plus one. */
static inline void warnings_read(struct warnings *w, int64_t id) {
    if (id < w->largest) w->late++;
    if (id != w->largest + 1) {
        int64_t missed = id - w->largest - 1;
        if (w->out) fprintf(w->out, "WARN: missed %lld packets between %lld and %lld\n", (long long)missed,
                            (long long)w->largest, (long long)id);
        if (w->keep > 0) { /* the first `keep` in order; after them, the last `keep` in a circle */
            int64_t *row = w->count < w->keep ? w->first + 3 * w->count : w->last + 3 * (w->count % w->keep);
            row[0] = missed; row[1] = w->largest; row[2] = id;
            if (w->count < w->keep) w->kept_first++;
        }
        w->count++;
    }
    if (id > w->largest) w->largest = id;
}

/* Writes the warnings of reading `ids` in order to `path`; returns how many, or -1. */
int64_t ringlab_write_warnings(const int64_t *ids, int64_t n, const char *path) {
    FILE *out = fopen(path, "w");
    if (!out) return -1;
    struct warnings w;
    warnings_init(&w, out, 0);
    for (int64_t i = 0; i < n; i++) warnings_read(&w, ids[i]);
    int failed = ferror(out);
    if (fclose(out) != 0 || failed) return -1;
    return w.count;
}

/* ---- the largest distance between a read's position and its rank among the ids read ----
 * (ringlab.analysis.max_displacement). A packet's rank is final once every smaller id is settled
 * (read, or never to be): a window of ids from the lowest unsettled one keeps each one's status and
 * read position until then. */

struct displacement {
    int64_t base;            /* the lowest id not yet settled (ids start at 1) */
    int64_t undelivered;     /* ids below base never read */
    int64_t capacity, max;   /* capacity: a power of two */
    int8_t *status;          /* per id from base, circular: 0 unsettled, 1 read, 2 never read */
    int64_t *position;       /* read position of a read id */
};

static int displacement_init(struct displacement *d) {
    d->base = 1; d->undelivered = 0; d->max = 0; d->capacity = 1024;
    d->status = calloc(d->capacity, 1);
    d->position = malloc(sizeof(int64_t) * d->capacity);
    return d->status && d->position ? 0 : -1;
}

static int displacement_fit(struct displacement *d, int64_t id) {
    if (id - d->base < d->capacity) return 0;
    int64_t capacity = d->capacity;
    while (id - d->base >= capacity) capacity *= 2;
    int8_t *status = calloc(capacity, 1);
    int64_t *position = malloc(sizeof(int64_t) * capacity);
    if (!status || !position) { free(status); free(position); return -1; }
    for (int64_t k = 0; k < d->capacity; k++) {
        int64_t from = (d->base + k) & (d->capacity - 1), to = (d->base + k) & (capacity - 1);
        status[to] = d->status[from];
        position[to] = d->position[from];
    }
    free(d->status); free(d->position);
    d->status = status; d->position = position; d->capacity = capacity;
    return 0;
}

static void displacement_advance(struct displacement *d) {
    for (;;) {
        int64_t at = d->base & (d->capacity - 1);
        int8_t status = d->status[at];
        if (status == 0) return;
        if (status == 1) {
            int64_t rank = d->base - 1 - d->undelivered, gap = d->position[at] - rank;
            if (gap < 0) gap = -gap;
            if (gap > d->max) d->max = gap;
        } else {
            d->undelivered++;
        }
        d->status[at] = 0;
        d->base++;
    }
}

static int displacement_settle(struct displacement *d, int64_t id, int8_t status, int64_t position) {
    if (displacement_fit(d, id) != 0) return -1;
    d->status[id & (d->capacity - 1)] = status;
    d->position[id & (d->capacity - 1)] = position;
    displacement_advance(d);
    return 0;
}

/* At the end, every id not yet settled was never read. */
static void displacement_finish(struct displacement *d, int64_t packets) {
    while (d->base <= packets) {
        if (d->status[d->base & (d->capacity - 1)] == 0) {
            d->undelivered++;
            d->base++;
        } else {
            displacement_advance(d);
        }
    }
}

/* ---- the engine ---- */

struct engine {
    /* the scenario */
    int policy;
    int64_t ring_slots, cpus, cost_ns, hold_ns, poller_cost_ns, wakeup_ns, end_ns, interval_ns, packets;
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
    int64_t *drop_causes, *latency_counts, *late_latency_counts, *latency_totals;
    int64_t counts[3]; /* reads, drops, writes */
    struct warnings warnings;
    struct displacement displacement;
    /* the ring */
    int64_t *slots, *slot_arrival;
    char *committed;
    int64_t write_index, lock_free_at, occupancy, index_seen;
    /* the poller */
    int p_state, poller_waiting;
    int64_t read_index, waiting_since, wait1_end, wait1_slot, wait2_end;
    /* the writer CPUs */
    int64_t *wake, *w_state, *w_packet, *w_arrival, *w_key, *w_index_after, *w_blocked, *w_blocker_arrival;
    /* the packets fed so far: this chunk's, per CPU */
    const int64_t *chunk_arrival;
    const int32_t *chunk_packets;
    const int64_t *chunk_offsets;
    int64_t chunk_first, *w_position;
    /* where the loop is */
    int64_t now, next_recovery, stall_cursor, drop_stall, starting;
    int64_t begun; /* the stalls begun before now */
};

void ringlab_engine_free(struct engine *e) {
    if (!e) return;
    free(e->slots); free(e->slot_arrival); free(e->committed); free(e->wake); free(e->w_state); free(e->w_packet);
    free(e->w_arrival); free(e->w_key); free(e->w_index_after); free(e->w_blocked); free(e->w_blocker_arrival);
    free(e->w_position); free(e->warnings.first); free(e->warnings.last);
    free(e->displacement.status); free(e->displacement.position);
    free(e);
}

/* A new run. Arrays are the caller's and must outlive the engine; per-packet outputs may be NULL
 * (a summary-only run). `warnings_out` (may be NULL) receives every warning line; the first and
 * last `keep_warnings` are kept as well. Returns NULL if memory ran out. */
struct engine *ringlab_engine_new(int policy, int64_t ring_slots, int64_t cpus, int64_t cost_ns, int64_t hold_ns,
                                  int64_t poller_cost_ns, int64_t wakeup_ns, const int64_t *stall_start,
                                  const int64_t *stall_end, int64_t n_stalls, int64_t end_ns, int64_t interval_ns,
                                  int64_t packets, const int64_t *arrival_sorted, int64_t n_arrivals,
                                  int32_t *slot_out, int8_t *fate, int64_t *decided_ns, int32_t *index_after_out,
                                  int64_t *blocked_by_out, int64_t *delivery_ns, int64_t *delivery_order,
                                  int64_t *drops_per_stall, double *recovery_ns, int64_t *drops_per_pause,
                                  int64_t *drop_causes, int64_t *latency_counts, int64_t *late_latency_counts,
                                  int64_t *latency_totals, int64_t *worst_latency_per_stall, FILE *warnings_out,
                                  int64_t keep_warnings) {
    struct engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->policy = policy; e->ring_slots = ring_slots; e->cpus = cpus; e->cost_ns = cost_ns; e->hold_ns = hold_ns;
    e->poller_cost_ns = poller_cost_ns; e->wakeup_ns = wakeup_ns; e->end_ns = end_ns; e->interval_ns = interval_ns;
    e->packets = packets;
    e->stalls = (struct stalls){stall_start, stall_end, n_stalls};
    e->arrival_sorted = arrival_sorted; e->n_arrivals = n_arrivals;
    e->slot_out = slot_out; e->fate = fate; e->decided_ns = decided_ns; e->index_after_out = index_after_out;
    e->blocked_by_out = blocked_by_out; e->delivery_ns = delivery_ns; e->delivery_order = delivery_order;
    e->drops_per_stall = drops_per_stall; e->recovery_ns = recovery_ns; e->drops_per_pause = drops_per_pause;
    e->drop_causes = drop_causes; e->latency_counts = latency_counts; e->late_latency_counts = late_latency_counts;
    e->latency_totals = latency_totals; e->worst_latency_per_stall = worst_latency_per_stall;
    int64_t n = cpus ? cpus : 1, slots = ring_slots ? ring_slots : 1;
    e->slots = malloc(sizeof(int64_t) * slots); e->slot_arrival = malloc(sizeof(int64_t) * slots);
    e->committed = calloc(slots, 1); e->wake = malloc(sizeof(int64_t) * (n + 1));
    e->w_state = malloc(sizeof(int64_t) * n); e->w_packet = malloc(sizeof(int64_t) * n);
    e->w_arrival = malloc(sizeof(int64_t) * n); e->w_key = calloc(n, sizeof(int64_t));
    e->w_index_after = calloc(n, sizeof(int64_t)); e->w_blocked = malloc(sizeof(int64_t) * n);
    e->w_blocker_arrival = calloc(n, sizeof(int64_t)); e->w_position = calloc(n, sizeof(int64_t));
    if (!e->slots || !e->slot_arrival || !e->committed || !e->wake || !e->w_state || !e->w_packet || !e->w_arrival ||
        !e->w_key || !e->w_index_after || !e->w_blocked || !e->w_blocker_arrival || !e->w_position ||
        warnings_init(&e->warnings, warnings_out, keep_warnings) != 0 || displacement_init(&e->displacement) != 0) {
        ringlab_engine_free(e);
        return NULL;
    }
    for (int64_t i = 0; i < ring_slots; i++) e->slots[i] = EMPTY;
    for (int64_t p = 0; p <= cpus; p++) e->wake[p] = NEVER;
    for (int64_t c = 0; c < cpus; c++) { e->w_state[c] = W_NEXT; e->w_blocked[c] = EMPTY; }
    for (int64_t i = 0; i < n_stalls; i++) recovery_ns[i] = NAN;
    e->p_state = P_CHECK;
    e->wait1_end = INT64_MIN; e->wait1_slot = -1; e->wait2_end = INT64_MIN;
    return e;
}

/* The poller, woken at e->now. */
static int run_poller(struct engine *e) {
    const struct stalls *stalls = &e->stalls;
    for (;;) {
        int64_t notice, now = e->now;
        if (e->p_state == P_CHECK) {
            if (e->committed[e->read_index]) {
                notice = now;
            } else {
                e->poller_waiting = 1;
                e->waiting_since = now;
                e->p_state = P_NOTICED;
                return 0;
            }
        } else if (e->p_state == P_NOTICED) {
            notice = now + e->wakeup_ns;
        } else { /* P_READ: copy, zero, advance */
            int64_t slot = e->read_index, packet = e->slots[slot], arrival = e->slot_arrival[slot];
            e->slots[slot] = EMPTY;
            e->committed[slot] = 0;
            e->occupancy--;
            int64_t reads = e->counts[0]++;
            if (e->fate) e->fate[packet] = DELIVERED;
            if (e->delivery_ns) {
                e->delivery_ns[packet] = now;
                e->delivery_order[packet] = reads;
            }
            int late = packet + 1 < e->warnings.largest; /* an old packet, read after a larger id */
            warnings_read(&e->warnings, packet + 1);
            if (displacement_settle(&e->displacement, packet + 1, 1, reads) != 0) return -1;
            int64_t latency = now - arrival;
            e->latency_counts[latency_bucket(latency)]++;
            e->latency_totals[0] += latency;
            if (latency > e->latency_totals[1]) e->latency_totals[1] = latency;
            if (late) {
                e->late_latency_counts[latency_bucket(latency)]++;
                e->latency_totals[2] += latency;
                if (latency > e->latency_totals[3]) e->latency_totals[3] = latency;
            }
            /* the stall its wait overlapped most: none if the last stall begun by now ended before it came */
            while (e->begun < stalls->count && stalls->start[e->begun] < now) e->begun++;
            if (e->begun > 0 && stalls->end[e->begun - 1] > arrival) {
                int64_t stall = pause_with_most_overlap(stalls, arrival, now);
                if (stall >= 0 && latency > e->worst_latency_per_stall[stall]) e->worst_latency_per_stall[stall] = latency;
            }
            e->read_index = slot + 1 == e->ring_slots ? 0 : slot + 1;
            e->p_state = P_CHECK;
            continue;
        }
        while (e->stall_cursor < stalls->count && stalls->end[e->stall_cursor] <= notice) e->stall_cursor++;
        if (e->stall_cursor < stalls->count && stalls->start[e->stall_cursor] <= notice + e->poller_cost_ns)
            e->wake[0] = work_end(stalls, resume_time(stalls, notice), e->poller_cost_ns);
        else
            e->wake[0] = notice + e->poller_cost_ns;
        e->p_state = P_READ;
        return 0;
    }
}

/* Writer CPU c's packet was decided at e->now (written or dropped). */
static int record_decision(struct engine *e, int64_t c) {
    int64_t packet = e->w_packet[c], blocker = e->w_blocked[c], now = e->now, key = e->w_key[c];
    if (e->fate) e->fate[packet] = blocker == EMPTY ? IN_RING : DROPPED_FULL;
    if (e->slot_out) {
        e->slot_out[packet] = (int32_t)key;
        e->decided_ns[packet] = now;
        e->index_after_out[packet] = (int32_t)e->w_index_after[c];
        if (blocker != EMPTY) e->blocked_by_out[packet] = blocker + 1;
    }
    if (blocker == EMPTY) {
        e->counts[2]++;
    } else {
        const struct stalls *stalls = &e->stalls;
        e->counts[1]++;
        if (displacement_settle(&e->displacement, packet + 1, 2, 0) != 0) return -1;
        /* drops per stall: the latest stall begun by now */
        while (e->drop_stall < stalls->count && stalls->start[e->drop_stall] <= now) e->drop_stall++;
        e->drops_per_stall[e->drop_stall]++;
        /* its cause (ringlab.attribution): the pause that overlaps most the time the blocking packet waited */
        int64_t from = e->w_blocker_arrival[c], arrival = e->w_arrival[c];
        int64_t pause = pause_with_most_overlap(stalls, from, now);
        if (pause >= 0) {
            e->drops_per_pause[pause]++;
        } else {
            int64_t arrived = e->arrival_sorted ? count_between(e->arrival_sorted, e->n_arrivals, from, arrival)
                                                : packet - blocker + 1; /* arrivals in id order */
            int64_t other_end; /* the latest wait on another slot, begun before now */
            if (e->poller_waiting && e->waiting_since < now && e->read_index != key) other_end = NEVER;
            else other_end = e->wait1_slot != key ? e->wait1_end : e->wait2_end;
            int not_committed = e->slots[key] == blocker && !e->committed[key];
            if (not_committed) e->drop_causes[0]++;
            else if (arrived >= 2 && 2 * (arrival - from) < e->interval_ns * (arrived - 1)) e->drop_causes[1]++;
            else if (other_end > from) e->drop_causes[2]++;
            else e->drop_causes[3]++;
        }
    }
    e->index_seen = e->w_index_after[c];
    return 0;
}

/* Writer CPU c, woken at e->now. */
static int run_writer(struct engine *e, int64_t c) {
    int64_t p = c + 1, now = e->now;
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
            if (e->lock_free_at > now) { /* spin until the lock is free */
                e->wake[p] = e->lock_free_at;
                return 0;
            }
            e->lock_free_at = now + e->hold_ns;
            if (state == W_RESET) { /* the fix: retry this slot next time */
                e->write_index = e->w_key[c];
                e->w_index_after[c] = e->w_key[c];
                e->w_state[c] = W_RECORD;
                if (e->hold_ns > 0) {
                    e->wake[p] = now + e->hold_ns;
                    return 0;
                }
                continue;
            }
            int64_t key = e->write_index;
            e->w_key[c] = key;
            if (e->policy == LOCKED) { /* look, claim and advance in one critical section */
                int free_slot = e->slots[key] == EMPTY;
                e->w_blocked[c] = e->slots[key];
                e->w_blocker_arrival[c] = e->slot_arrival[key];
                if (free_slot) {
                    e->slots[key] = e->w_packet[c]; /* claimed: full, not yet committed */
                    e->slot_arrival[key] = e->w_arrival[c];
                    e->write_index = key + 1 == e->ring_slots ? 0 : key + 1;
                }
                e->w_index_after[c] = e->write_index;
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
                e->write_index = key + 1 == e->ring_slots ? 0 : key + 1;
                e->w_index_after[c] = e->write_index;
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
                e->committed[key] = 1;
                e->occupancy++;
                if (e->poller_waiting && key == e->read_index) {
                    e->poller_waiting = 0;
                    e->wake[0] = now;
                    if (now > e->waiting_since) {
                        if (key != e->wait1_slot) e->wait2_end = e->wait1_end;
                        e->wait1_end = now;
                        e->wait1_slot = key;
                    }
                }
            }
            e->w_state[c] = (e->w_blocked[c] != EMPTY && state == W_LOOK && e->policy == FIXED) ? W_RESET : W_RECORD;
        } else if (state == W_RECORD) {
            if (record_decision(e, c) != 0) return -1;
            e->w_state[c] = W_NEXT;
        } else {
            return 0;
        }
    }
}

/* Feed the next chunk of packets (ids first + 1 ..): their arrivals, and per writer CPU c the
 * packets it handles, chunk_packets[chunk_offsets[c] .. chunk_offsets[c + 1]) (global indices, in
 * arrival order). Runs every event before `limit` (the last arrival of the chunk plus one; or, with
 * the last chunk, the end of the run). Returns 0, or -1 if memory ran out. */
int ringlab_engine_feed(struct engine *e, int64_t first, const int64_t *arrival, const int32_t *chunk_packets,
                        const int64_t *chunk_offsets, int64_t limit, int last) {
    const struct stalls *stalls = &e->stalls;
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
            int64_t holds_until = upcoming != NEVER ? upcoming : (last ? NEVER : limit);
            if (holds_until > e->now && e->next_recovery < stalls->count &&
                stalls->end[e->next_recovery] < holds_until) {
                int aligned = e->occupancy == 0 && e->index_seen == e->read_index;
                int64_t deadline = e->next_recovery + 1 < stalls->count ? stalls->start[e->next_recovery + 1]
                                                                        : e->end_ns + 1;
                if (aligned || deadline <= holds_until)
                    e->next_recovery = settle_recoveries(e->next_recovery, aligned, e->now, holds_until, stalls,
                                                         e->end_ns, e->recovery_ns);
            }
            if (upcoming == NEVER) break;
            e->now = e->wake[best];
            p = best;
        }
        e->wake[p] = NEVER;
        if ((p == 0 ? run_poller(e) : run_writer(e, p - 1)) != 0) return -1;
    }
    return 0;
}

/* The end: end_state receives the write index as the trace shows it, the read index, the occupancy
 * and the reads; counts the reads, drops and writes; warnings the count, the reads out of order,
 * how many of the first ones were kept; and the maximum displacement. */
void ringlab_engine_finish(struct engine *e, int64_t *end_state, int64_t *counts, int64_t *warnings,
                           int64_t *first_warnings, int64_t *last_warnings, int64_t *max_displacement) {
    displacement_finish(&e->displacement, e->packets);
    end_state[0] = e->index_seen;
    end_state[1] = e->read_index;
    end_state[2] = e->occupancy;
    end_state[3] = e->counts[0];
    memcpy(counts, e->counts, sizeof e->counts);
    warnings[0] = e->warnings.count;
    warnings[1] = e->warnings.late;
    warnings[2] = e->warnings.kept_first;
    if (e->warnings.keep > 0) {
        memcpy(first_warnings, e->warnings.first, sizeof(int64_t) * 3 * e->warnings.kept_first);
        /* the last ones, oldest first */
        int64_t beyond = e->warnings.count - e->warnings.kept_first, kept = beyond < e->warnings.keep ? beyond : e->warnings.keep;
        for (int64_t k = 0; k < kept; k++) {
            int64_t index = (e->warnings.count - kept + k) % e->warnings.keep;
            memcpy(last_warnings + 3 * k, e->warnings.last + 3 * index, sizeof(int64_t) * 3);
        }
    }
    *max_displacement = e->displacement.max;
}

/* A FILE for the engine's warning lines (C's stdio, so the loop need not call back into Python). */
FILE *ringlab_open(const char *path) { return fopen(path, "w"); }
int ringlab_close(FILE *file) {
    int failed = ferror(file);
    return (fclose(file) != 0 || failed) ? -1 : 0;
}
