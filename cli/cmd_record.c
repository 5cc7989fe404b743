/* SPDX-License-Identifier: MIT */
/*
 * cmd_record.c - ntm record (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_record(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm record' is not available in this build");
    return EXIT_FAIL;
}
