/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the sign benchmark (sign_bench.c, bench_p11.c) and the TLS
 * benchmark (tls_bench.c) both need: a clock, percentiles, and reading the
 * driver's JSON statistics line.
 */
#ifndef TRUSTLINK_BENCH_UTIL_H
#define TRUSTLINK_BENCH_UTIL_H

#include <stddef.h>

/* CLOCK_MONOTONIC in seconds. */
double now_s(void);
/* The p-th (0..1) percentile of v[0..n), nearest rank; sorts v. 0 if n is 0. */
double percentile(double *v, unsigned n, double p);
/* "key":number in a JSON stats line, or missing when the key is absent. */
double json_num(const char *line, const char *key, double missing);
/* The last line of path into buf (the device that closed last wrote it).
 * 0, or -1 when the file cannot be opened or is empty. */
int read_last_line(const char *path, char *buf, size_t len);

#endif
