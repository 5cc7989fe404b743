/* SPDX-License-Identifier: MIT */
/*
 * bench_util.h - what the benchmark programs share: reading a field of
 * /proc/self/status. Header-only (each benchmark is one program).
 */
#ifndef NTM_BENCH_UTIL_H
#define NTM_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value in kB of the line "<field>:" of /proc/self/status (field is
 * e.g. "VmRSS" or "VmHWM"), or -1. */
static inline long
proc_status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

#endif /* NTM_BENCH_UTIL_H */
