/* SPDX-License-Identifier: MIT */
/*
 * cmd_conflicts.c - ntm conflicts (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_conflicts(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm conflicts' is not available in this build");
    return EXIT_FAIL;
}
