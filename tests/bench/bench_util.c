/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Clock, percentiles and stats-line reading for the benchmarks (see
 * bench_util.h).
 */
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y;
}

double percentile(double *v, unsigned n, double p)
{
    unsigned i;

    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_double);
    i = (unsigned)(p * (n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

double json_num(const char *line, const char *key, double missing)
{
    char pat[64];
    const char *p;

    snprintf(pat, sizeof(pat), "\"%s\":", key);
    p = strstr(line, pat);
    return p != NULL ? strtod(p + strlen(pat), NULL) : missing;
}

int read_last_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int found = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        snprintf(buf, len, "%s", line);
        found = 0;
    }
    fclose(f);
    return found;
}
