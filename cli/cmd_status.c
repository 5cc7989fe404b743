/* SPDX-License-Identifier: MIT */
/*
 * cmd_status.c - ntm status (placeholder until the command lands).
 */
#include "cli.h"

int
cmd_status(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    cli_error("'ntm status' is not available in this build");
    return EXIT_FAIL;
}
