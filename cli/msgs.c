/* SPDX-License-Identifier: MIT */
/* msgs.c - placeholder, replaced by the real message module. */
#include "cli.h"

#include <stdarg.h>

void
cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ntm: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
