/* The poller's warnings written to a file, in C so that millions of lines take a fraction of a
 * second: from the ids in read order, or from the rows a streamed run kept. Built on first use by
 * ringlab/native.py; called from ringlab/trace/warnings_log.py. */
#define _GNU_SOURCE /* fwrite_unlocked */
#include "warning_lines.h"

/* Writes the warnings of reading `ids` in order to `path`; returns how many, or -1. */
int64_t ringlab_write_warnings(const int64_t *ids, int64_t n, const char *path) {
    FILE *out = fopen(path, "w");
    if (!out) return -1;
    struct warnings w;
    struct read_order order = {0, 0, 0};
    warnings_init(&w, out, 0);
    for (int64_t i = 0; i < n; i++) warnings_read(&w, &order, ids[i]);
    int failed = ferror(out);
    if (fclose(out) != 0 || failed) return -1;
    return order.count;
}

/* Writes the warnings kept of a run, rows (missed, current, id): the first ones, then `note` (may
 * be empty), then the last ones; returns 0, or -1. */
int ringlab_write_kept_warnings(const char *path, const int64_t *first, int64_t n_first, const char *note,
                                const int64_t *last, int64_t n_last) {
    FILE *out = fopen(path, "w");
    if (!out) return -1;
    for (int64_t i = 0; i < n_first; i++) put_warning(out, first[3 * i], first[3 * i + 1], first[3 * i + 2]);
    fputs(note, out);
    for (int64_t i = 0; i < n_last; i++) put_warning(out, last[3 * i], last[3 * i + 1], last[3 * i + 2]);
    int failed = ferror(out);
    return (fclose(out) != 0 || failed) ? -1 : 0;
}

/* A FILE for the engine's warning lines (C's stdio, so the loop need not call back into Python). */
FILE *ringlab_open(const char *path) { return fopen(path, "w"); }
int ringlab_close(FILE *file) {
    int failed = ferror(file);
    return (fclose(file) != 0 || failed) ? -1 : 0;
}
