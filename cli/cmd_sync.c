/* SPDX-License-Identifier: MIT */
/*
 * cmd_sync.c - ntm sync (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_sync(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm sync' is not available in this build");
    return EXIT_FAIL;
}
