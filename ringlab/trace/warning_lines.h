/* The poller's warnings, as it prints them: one line per read whose id is not the largest read so
 * far plus one (ringlab.analysis.summary.poller_warnings and format_warnings give the same lines).
 * Shared by the core's warnings writer (ringlab/trace/warnings_log.c) and the fast engine
 * (sim/fast_engine.c), which streams them while it runs. */
#ifndef RINGLAB_WARNING_LINES_H
#define RINGLAB_WARNING_LINES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct read_order {
    int64_t largest, count, late; /* the largest id read so far; the warnings; the reads below the largest */
};

struct warnings {
    FILE *out;            /* every warning line, or NULL */
    int64_t keep, *first, *last, kept_first; /* the first and the last `keep` warnings, as (missed, current, id) */
    int64_t last_at;      /* where the next of the last ones goes (last is a circle) */
};

static inline int warnings_init(struct warnings *w, FILE *out, int64_t keep) {
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

/* Writes v in decimal at p; returns the end. */
static inline char *put_decimal(char *p, int64_t v) {
    char digits[20];
    int n = 0;
    uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
    do { digits[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) *p++ = '-';
    while (n) *p++ = digits[--n];
    return p;
}

/* One warning line, as the poller prints it (and ringlab.analysis.summary.format_warnings). */
static inline void put_warning(FILE *out, int64_t missed, int64_t largest, int64_t id) {
    static const char missed_text[] = "WARN: missed ", between[] = " packets between ", and[] = " and ";
    char line[128], *p = line;
    memcpy(p, missed_text, sizeof missed_text - 1); p += sizeof missed_text - 1;
    p = put_decimal(p, missed);
    memcpy(p, between, sizeof between - 1); p += sizeof between - 1;
    p = put_decimal(p, largest);
    memcpy(p, and, sizeof and - 1); p += sizeof and - 1;
    p = put_decimal(p, id);
    *p++ = '\n';
    fwrite_unlocked(line, 1, (size_t)(p - line), out);
}

/* The poller read packet `id`: a warning unless it is the largest read so far plus one. */
static inline __attribute__((always_inline)) void warnings_read(struct warnings *w, struct read_order *o, int64_t id) {
    if (id < o->largest) o->late++;
    if (id != o->largest + 1) {
        int64_t missed = id - o->largest - 1;
        if (w->out) put_warning(w->out, missed, o->largest, id);
        if (w->keep > 0) { /* the first `keep` in order; after them, the last `keep` in a circle */
            int64_t *row;
            if (o->count < w->keep) {
                row = w->first + 3 * o->count;
                w->kept_first++;
            } else {
                row = w->last + 3 * w->last_at;
                w->last_at = w->last_at + 1 == w->keep ? 0 : w->last_at + 1;
            }
            row[0] = missed; row[1] = o->largest; row[2] = id;
        }
        o->count++;
    }
    if (id > o->largest) o->largest = id;
}

#endif
