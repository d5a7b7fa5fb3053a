/* ringlab's fast engine: the SimPy model's rules (docs/model.md; sim/ring.py, sim/writer.py, sim/poller.py) as
 * one event loop. Each process has at most one pending wake-up; the next to run is the one with
 * the earliest (time, priority): the poller first, then the writer CPUs in order, which is the
 * order of the SimPy model's events (sim/wake.py). The trace is therefore identical, packet for
 * packet. Built on first use by ringlab/native.py; called from sim/fast_engine.py.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define NEVER INT64_MAX
#define EMPTY (-1)
#define DELIVERED 0
#define DROPPED_FULL 1
#define IN_RING 2
#define PENDING 4

enum policy { BUGGY, FIXED, LOCKED };
enum writer_state { W_NEXT, W_TAKE_INDEX, W_LOOK, W_RESET, W_COPY, W_RECORD, W_DONE };
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

/* Runs one scenario. Per-packet outputs are indexed by packet (id - 1); with full == 0 only fate,
 * read_sequence, drops_per_stall, drops_per_pause, drop_causes and recovery_ns are written.
 * The stalls are the poller's pauses; each drop is attributed as ringlab.attribution does, to
 * drops_per_pause[pause], or counted in drop_causes[]: [0] the blocking packet not yet committed,
 * [1] a sender burst (the packets arriving from the blocking packet to the dropped one, counted
 * in `arrival_sorted`, came closer together than half of interval_ns), [2] the writer misaligned (the poller waited on another slot during
 * the window), [3] the poller too slow; [4], unexplained, stays 0 here (the blocker is known). end_state receives the write index as the trace shows it, the read index, the
 * occupancy and the number of reads. Each read's latency (read time - arrival) goes into
 * latency_counts (and late_latency_counts if it was read after a larger id), latency_totals holds
 * their sum and maximum (then the same for late reads), and worst_latency_per_stall the worst
 * latency of the reads whose wait each stall overlapped most (ringlab/latency.py).
 * Returns 0, or -1 if memory ran out. */
int ringlab_run(int policy, int64_t ring_slots, const int64_t *arrival_ns, const int32_t *cpu_packets,
                const int64_t *cpu_offsets, int64_t cpus, int64_t cost_ns, int64_t hold_ns,
                int64_t poller_cost_ns, int64_t wakeup_ns, const int64_t *stall_start, const int64_t *stall_end,
                int64_t n_stalls, int64_t end_ns, int full, int32_t *slot_out, int8_t *fate, int64_t *decided_ns,
                int32_t *index_after_out, int64_t *blocked_by_out, int64_t *delivery_ns, int64_t *delivery_order,
                int64_t *read_sequence, int64_t *drops_per_stall, double *recovery_ns, const int64_t *arrival_sorted,
                int64_t n_arrivals, int64_t interval_ns, int64_t *drops_per_pause, int64_t *drop_causes,
                int64_t *latency_counts, int64_t *late_latency_counts, int64_t *latency_totals,
                int64_t *worst_latency_per_stall, int64_t *end_state) {
    struct stalls stalls = {stall_start, stall_end, n_stalls};
    int64_t *slots = malloc(sizeof(int64_t) * ring_slots);
    char *committed = malloc(ring_slots ? ring_slots : 1);
    int64_t *wake = malloc(sizeof(int64_t) * (cpus + 1));
    int64_t *w_state = malloc(sizeof(int64_t) * cpus);
    int64_t *w_position = malloc(sizeof(int64_t) * cpus);
    int64_t *w_key = malloc(sizeof(int64_t) * cpus);
    int64_t *w_index_after = malloc(sizeof(int64_t) * cpus);
    int64_t *w_blocked = malloc(sizeof(int64_t) * (cpus ? cpus : 1));
    if (!slots || !committed || !wake || !w_state || !w_position || !w_key || !w_index_after || !w_blocked) {
        free(slots); free(committed); free(wake); free(w_state); free(w_position); free(w_key); free(w_index_after);
        free(w_blocked);
        return -1;
    }
    for (int64_t i = 0; i < ring_slots; i++) {
        slots[i] = EMPTY;
        committed[i] = 0;
    }
    for (int64_t p = 0; p <= cpus; p++) wake[p] = NEVER;
    for (int64_t c = 0; c < cpus; c++) {
        w_state[c] = W_NEXT;
        w_position[c] = cpu_offsets[c];
        w_key[c] = 0;
        w_index_after[c] = 0;
        w_blocked[c] = EMPTY;
    }
    for (int64_t i = 0; i < n_stalls; i++) recovery_ns[i] = NAN;

    int64_t write_index = 0, lock_free_at = 0, occupancy = 0;
    int64_t read_index = 0, reads = 0, largest_read = 0;
    int p_state = P_CHECK, poller_waiting = 0;
    /* The poller's waits for a packet to be written (ringlab.attribution.poller_waits): the one going
     * on, the last one over, and the last one over on another slot than that.
     * (A wait over began before it ended, so only the ends matter.) */
    int64_t waiting_since = 0, wait1_end = INT64_MIN, wait1_slot = -1, wait2_end = INT64_MIN;
    int64_t next_recovery = 0, index_seen = 0, stall_cursor = 0, drop_stall = 0;
    int64_t now = 0;

    /* At time 0 every process starts, the writers first (their creation order), then the poller. */
    int64_t starting = 0;
    for (;;) {
        int64_t p;
        if (starting <= cpus) {
            p = starting < cpus ? 1 + starting : 0;
            starting++;
        } else {
            int64_t best = 0;
            for (int64_t q = 1; q <= cpus; q++)
                if (wake[q] < wake[best]) best = q;
            int64_t upcoming = wake[best] < end_ns ? wake[best] : NEVER;
            if (upcoming > now && next_recovery < n_stalls && stall_end[next_recovery] < upcoming) {
                int aligned = occupancy == 0 && index_seen == read_index;
                int64_t deadline = next_recovery + 1 < n_stalls ? stall_start[next_recovery + 1] : end_ns + 1;
                if (aligned || deadline <= upcoming)
                    next_recovery = settle_recoveries(next_recovery, aligned, now, upcoming, &stalls, end_ns,
                                                      recovery_ns);
            }
            if (upcoming == NEVER) break;
            now = wake[best];
            p = best;
        }
        wake[p] = NEVER;
        if (p == 0) {
            /* ---- the poller ---- */
            for (;;) {
                int64_t notice;
                if (p_state == P_CHECK) {
                    if (committed[read_index]) {
                        notice = now;
                    } else {
                        poller_waiting = 1;
                        waiting_since = now;
                        p_state = P_NOTICED;
                        break;
                    }
                } else if (p_state == P_NOTICED) {
                    notice = now + wakeup_ns;
                } else { /* P_READ: copy, zero, advance */
                    int64_t packet = slots[read_index];
                    slots[read_index] = EMPTY;
                    committed[read_index] = 0;
                    occupancy--;
                    fate[packet] = DELIVERED;
                    if (full) {
                        delivery_ns[packet] = now;
                        delivery_order[packet] = reads;
                    }
                    read_sequence[reads] = packet + 1;
                    reads++;
                    int64_t latency = now - arrival_ns[packet];
                    latency_counts[latency_bucket(latency)]++;
                    latency_totals[0] += latency;
                    if (latency > latency_totals[1]) latency_totals[1] = latency;
                    if (packet + 1 < largest_read) { /* an old packet, read after a larger id */
                        late_latency_counts[latency_bucket(latency)]++;
                        latency_totals[2] += latency;
                        if (latency > latency_totals[3]) latency_totals[3] = latency;
                    } else {
                        largest_read = packet + 1;
                    }
                    int64_t stall = pause_with_most_overlap(&stalls, arrival_ns[packet], now);
                    if (stall >= 0 && latency > worst_latency_per_stall[stall]) worst_latency_per_stall[stall] = latency;
                    read_index = (read_index + 1) % ring_slots;
                    p_state = P_CHECK;
                    continue;
                }
                while (stall_cursor < n_stalls && stall_end[stall_cursor] <= notice) stall_cursor++;
                if (stall_cursor < n_stalls && stall_start[stall_cursor] <= notice + poller_cost_ns)
                    wake[0] = work_end(&stalls, resume_time(&stalls, notice), poller_cost_ns);
                else
                    wake[0] = notice + poller_cost_ns;
                p_state = P_READ;
                break;
            }
        } else {
            /* ---- a writer CPU ---- */
            int64_t c = p - 1;
            for (;;) {
                int64_t state = w_state[c];
                if (state == W_NEXT) {
                    if (w_position[c] == cpu_offsets[c + 1]) {
                        w_state[c] = W_DONE;
                        break;
                    }
                    int64_t packet = cpu_packets[w_position[c]];
                    w_state[c] = W_TAKE_INDEX;
                    if (arrival_ns[packet] > now) {
                        wake[p] = arrival_ns[packet];
                        break;
                    }
                } else if (state == W_TAKE_INDEX || state == W_RESET) {
                    if (lock_free_at > now) { /* spin until the lock is free */
                        wake[p] = lock_free_at;
                        break;
                    }
                    lock_free_at = now + hold_ns;
                    if (state == W_RESET) { /* the fix: retry this slot next time */
                        write_index = w_key[c];
                        w_index_after[c] = w_key[c];
                        w_state[c] = W_RECORD;
                        if (hold_ns > 0) {
                            wake[p] = now + hold_ns;
                            break;
                        }
                        continue;
                    }
                    int64_t key = write_index;
                    w_key[c] = key;
                    if (policy == LOCKED) { /* look, claim and advance in one critical section */
                        int free_slot = slots[key] == EMPTY;
                        w_blocked[c] = slots[key];
                        if (free_slot) {
                            slots[key] = cpu_packets[w_position[c]]; /* claimed: full, not yet committed */
                            write_index = (key + 1) % ring_slots;
                        }
                        w_index_after[c] = write_index;
                        if (!free_slot) {
                            w_state[c] = W_RECORD;
                            if (hold_ns > 0) {
                                wake[p] = now + hold_ns;
                                break;
                            }
                            continue;
                        }
                        w_state[c] = W_COPY;
                    } else { /* take the index and advance it; look later */
                        write_index = (key + 1) % ring_slots;
                        w_index_after[c] = write_index;
                        w_state[c] = W_LOOK;
                    }
                    if (hold_ns + cost_ns > 0) {
                        wake[p] = now + hold_ns + cost_ns;
                        break;
                    }
                } else if (state == W_LOOK || state == W_COPY) {
                    int64_t key = w_key[c];
                    /* buggy, fixed: look now; locked: commit the slot claimed under the lock */
                    if (state == W_LOOK) w_blocked[c] = slots[key];
                    if (w_blocked[c] == EMPTY) {
                        slots[key] = cpu_packets[w_position[c]];
                        committed[key] = 1;
                        occupancy++;
                        if (poller_waiting && key == read_index) {
                            poller_waiting = 0;
                            wake[0] = now;
                            if (now > waiting_since) {
                                if (key != wait1_slot) wait2_end = wait1_end;
                                wait1_end = now;
                                wait1_slot = key;
                            }
                        }
                    }
                    w_state[c] = (w_blocked[c] != EMPTY && state == W_LOOK && policy == FIXED) ? W_RESET : W_RECORD;
                } else if (state == W_RECORD) {
                    int64_t packet = cpu_packets[w_position[c]], blocker = w_blocked[c];
                    fate[packet] = blocker == EMPTY ? IN_RING : DROPPED_FULL;
                    if (full) {
                        slot_out[packet] = (int32_t)w_key[c];
                        decided_ns[packet] = now;
                        index_after_out[packet] = (int32_t)w_index_after[c];
                        if (blocker != EMPTY) blocked_by_out[packet] = blocker + 1;
                    }
                    if (blocker != EMPTY) {
                        /* drops per stall: the latest stall begun by now */
                        while (drop_stall < n_stalls && stall_start[drop_stall] <= now) drop_stall++;
                        drops_per_stall[drop_stall]++;
                        /* its cause: the pause that overlaps most the time the blocking packet waited */
                        int64_t from = arrival_ns[blocker];
                        int64_t pause = pause_with_most_overlap(&stalls, from, now);
                        if (pause >= 0) {
                            drops_per_pause[pause]++;
                        } else {
                            int64_t arrived = count_between(arrival_sorted, n_arrivals, from, arrival_ns[packet]);
                            int64_t key = w_key[c], other_end; /* the latest wait on another slot, begun before now */
                            if (poller_waiting && waiting_since < now && read_index != key) other_end = NEVER;
                            else other_end = wait1_slot != key ? wait1_end : wait2_end;
                            if (fate[blocker] == PENDING) drop_causes[0]++;
                            else if (arrived >= 2 && 2 * (arrival_ns[packet] - from) < interval_ns * (arrived - 1))
                                drop_causes[1]++;
                            else if (other_end > from) drop_causes[2]++;
                            else drop_causes[3]++;
                        }
                    }
                    index_seen = w_index_after[c];
                    w_position[c]++;
                    w_state[c] = W_NEXT;
                } else {
                    break;
                }
            }
        }
    }
    end_state[0] = index_seen;
    end_state[1] = read_index;
    end_state[2] = occupancy;
    end_state[3] = reads;
    free(slots); free(committed); free(wake); free(w_state); free(w_position); free(w_key); free(w_index_after);
    free(w_blocked);
    return 0;
}
